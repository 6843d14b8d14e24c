/**
 * Shared setup for the ext_proc integration suites: a real gateway process with an extProc policy, a test
 * upstream and a scriptable processor, plus a tiny HTTP/1.1 + HTTP/2 (h2c prior knowledge) client so every
 * suite can run the same checks over both protocols.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { startGateway, type StartedGateway } from './start-gateway.js';
import { startUpstream, type Upstream, type UpHandler } from './upstream.js';
import { startProcessor, type Handlers, type TestProcessor } from './ext-proc-server.js';

/** Which HTTP version a test client speaks. */
export type Proto = '1.1' | '2';
export const PROTOS: readonly Proto[] = ['1.1', '2'];

/** A request a test sends. */
export interface CallOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | readonly (string | Buffer)[];
  /** Request trailers (HTTP/1.1: sent chunked). */
  readonly trailers?: Readonly<Record<string, string>>;
}

/** What came back. */
export interface CallResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly text: string;
  readonly trailers: Record<string, string | string[] | undefined>;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const sessions = new Map<string, http2.ClientHttp2Session>();

function h2session(origin: string): http2.ClientHttp2Session {
  let s = sessions.get(origin);
  if (s === undefined || s.closed || s.destroyed) {
    s = http2.connect(origin);
    s.on('error', () => undefined);
    sessions.set(origin, s);
  }
  return s;
}

/** Sends one request over HTTP/1.1 or HTTP/2 (one shared connection per origin for HTTP/2). */
export function call(proto: Proto, origin: string, o: CallOptions = {}): Promise<CallResult> {
  const method = o.method ?? (o.body === undefined ? 'GET' : 'POST');
  const path = o.path ?? '/';
  return new Promise((resolve, reject) => {
    const parts = o.body === undefined ? [] : typeof o.body === 'string' || Buffer.isBuffer(o.body) ? [o.body] : [...o.body];
    const collect = (status: number, headers: CallResult['headers'], stream: NodeJS.ReadableStream, trailers: () => CallResult['trailers']): void => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        // HTTP/2 trailers arrive just before 'end'; HTTP/1.1 trailers are parsed by then.
        setImmediate(() => resolve({ status, headers, body, text: body.toString('utf8'), trailers: trailers() }));
      });
      stream.on('error', reject);
    };
    if (proto === '1.1') {
      const headers: Record<string, string> = { ...o.headers };
      if (o.trailers !== undefined) headers['transfer-encoding'] = 'chunked';
      const r = http.request(origin + path, { method, headers, agent });
      r.on('response', (res) => collect(res.statusCode ?? 0, res.headers, res, () => ({ ...res.trailers })));
      r.on('error', reject);
      for (const p of parts) r.write(p);
      if (o.trailers !== undefined) r.addTrailers(o.trailers);
      r.end();
      return;
    }
    const s = h2session(origin);
    const hasBody = o.body !== undefined || o.trailers !== undefined;
    const st = s.request({ ':method': method, ':path': path, ...o.headers }, { endStream: !hasBody, waitForTrailers: o.trailers !== undefined });
    let trailers: CallResult['trailers'] = {};
    st.on('trailers', (t) => {
      trailers = { ...t };
    });
    st.on('wantTrailers', () => st.sendTrailers({ ...o.trailers }));
    st.on('response', (h) => {
      const headers: CallResult['headers'] = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) headers[k] = v as string | string[];
      collect(Number(h[':status']), headers, st, () => trailers);
    });
    st.on('error', reject);
    // A reset without an error code (NO_ERROR / CANCEL) only closes the stream: never hang on it.
    st.on('close', () => setImmediate(() => reject(new Error(`HTTP/2 stream closed before a full response (rst code ${st.rstCode})`))));
    if (hasBody) {
      for (const p of parts) st.write(p);
      st.end();
    }
  });
}

/** Closes the shared client connections (call in `after`). */
export function closeClients(): void {
  for (const s of sessions.values()) s.close();
  sessions.clear();
  agent.destroy();
}

/** An extProc setup under test. */
export interface ExtProcSetup {
  readonly gw: StartedGateway;
  readonly up: Upstream;
  readonly proc: TestProcessor;
  readonly url: string;
}

/** The YAML of an `extProc:` block body (indented by the caller's template). */
export interface ExtProcYaml {
  /** Extra lines under `extProc:` (processingOptions etc.), already indented by 2 within the block. */
  readonly extra?: string;
  readonly failureMode?: 'failOpen' | 'failClosed';
  /** Use this processor address instead of the started one (e.g. a closed port). */
  readonly host?: string;
  /** Extra top-level YAML (e.g. `frontendPolicies`). */
  readonly top?: string;
}

/** A processingOptions block for the common cases. */
export function processing(o: {
  reqHeaders?: 'send' | 'skip';
  resHeaders?: 'send' | 'skip';
  reqBody?: string;
  resBody?: string;
  reqTrailers?: 'send' | 'skip';
  resTrailers?: 'send' | 'skip';
  allowModeOverride?: boolean;
}): string {
  return [
    'processingOptions:',
    `  requestHeaderMode: ${o.reqHeaders ?? 'send'}`,
    `  responseHeaderMode: ${o.resHeaders ?? 'send'}`,
    `  requestBodyMode: ${o.reqBody ?? 'none'}`,
    `  responseBodyMode: ${o.resBody ?? 'none'}`,
    `  requestTrailerMode: ${o.reqTrailers ?? 'skip'}`,
    `  responseTrailerMode: ${o.resTrailers ?? 'skip'}`,
    `  allowModeOverride: ${o.allowModeOverride ?? false}`,
  ].join('\n');
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map((l) => (l.length > 0 ? pad + l : l)).join('\n');
}

/** The route-level extProc config with one upstream. */
export function routeConfig(o: ExtProcYaml & { procHost: string; upPort: number }): string {
  return `${o.top ?? ''}
binds:
- port: {{PORT}}
  listeners:
  - routes:
    - backends:
      - host: 127.0.0.1:${o.upPort}
      policies:
        extProc:
          host: "${o.host ?? o.procHost}"
          failureMode: ${o.failureMode ?? 'failClosed'}
${indent(o.extra ?? '', 10)}
`;
}

/**
 * The seed's second config: one listener (`gatewayName: my-gateway`) and a failClosed extProc attached to it
 * through `gatewayPolicies`. `extra` goes under `extProc:` (e.g. a processingOptions block); `routes`, YAML
 * list items as they stand under `routes:` (four spaces in), gives the listener routes (none by default).
 */
export function seedGatewayPolicyConfig(procHost: string, extra = '', routes?: string): string {
  return `
binds:
- port: {{PORT}}
  listeners:
  - gatewayName: my-gateway
${routes === undefined ? '' : `    routes:\n${routes.replace(/^\n/, '')}`}gatewayPolicies:
  - name: extproc
    target:
      gateway: my-gateway
    policy:
      extProc:
        host: "${procHost}"
        failureMode: failClosed
${indent(extra, 8)}
`;
}

/** Starts upstream + processor + gateway; everything is stopped in `t.after`. */
export async function setupExtProc(
  t: { after: (fn: () => Promise<void>) => void },
  o: ExtProcYaml & { handlers?: Handlers; upstream?: UpHandler; config?: (procHost: string, upPort: number) => string; env?: Record<string, string> } = {},
): Promise<ExtProcSetup> {
  const up = await startUpstream(o.upstream === undefined ? {} : { handler: o.upstream });
  const proc = await startProcessor(o.handlers ?? {});
  const yaml = o.config ? o.config(proc.target, up.port) : routeConfig({ ...o, procHost: proc.target, upPort: up.port });
  let gw: StartedGateway;
  try {
    gw = await startGateway(yaml, o.env === undefined ? {} : { env: o.env });
  } catch (err) {
    await proc.stop();
    await up.close();
    throw err;
  }
  t.after(async () => {
    closeClients();
    await gw.stop();
    await proc.stop();
    await up.close();
  });
  return { gw, up, proc, url: gw.url() };
}

/** For suites that set up in `before`: collects cleanups and runs them in the suite's `after`. */
export function suiteCleanup(after: (fn: () => Promise<void>) => void): { after: (fn: () => Promise<void>) => void } {
  const fns: Array<() => Promise<void>> = [];
  after(async () => {
    for (const f of fns.reverse()) await f();
  });
  return { after: (fn) => fns.push(fn) };
}
