/**
 * Repeated integration-test setups: start the servers a test needs plus the gateway (real CLI) in front of
 * them, and register their shutdown with the test, so each test states only its config and its assertions.
 */
import type { TestContext } from 'node:test';
import type OpenAI from 'openai';
import { createProcessor, type HandlersInput, type ProcessorOptions } from '../../src/processor/index.js';
import { sdkClient } from './openai-client.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockOptions } from './openai-mock.js';
import { startGateway, type StartGatewayOptions, type StartedGateway } from './start-gateway.js';
import { startUpstream, type Upstream } from './upstream.js';

/**
 * A config with one bind on `{{PORT}}` and one listener whose routes are `routes`: YAML list items written as
 * they stand under `routes:` (`    - name: …`, four spaces in); one leading newline is dropped so a template
 * literal can start on its own line.
 */
export function routesConfig(routes: string): string {
  return `\nbinds:\n- port: {{PORT}}\n  listeners:\n  - routes:\n${routes.replace(/^\n/, '')}`;
}

/** One route, `hello`, answering `GET /hello` itself with `body` (no upstream): the smallest config that serves. */
export function helloConfig(body: string): string {
  return routesConfig(`
    - name: hello
      matches:
      - path:
          exact: /hello
      policies:
        directResponse:
          body: ${body}
`);
}

/** The part of the test context the fixtures need: somewhere to register cleanup. */
export type TestScope = Pick<TestContext, 'after'>;

/** Serves `handlers` with the processor SDK on 127.0.0.1 (a free port) until the test ends; resolves with its target. */
export async function scopedProcessor(t: TestScope, handlers: HandlersInput, opts: ProcessorOptions = {}): Promise<string> {
  const p = createProcessor(handlers, opts);
  const { target } = await p.listen();
  t.after(() => p.close({ graceMs: 0 }));
  return target;
}

/** Starts a scriptable upstream (echo by default) that is closed when the test ends. */
export async function scopedUpstream(t: TestScope, opts: Parameters<typeof startUpstream>[0] = {}): Promise<Upstream> {
  const up = await startUpstream(opts);
  t.after(() => up.close());
  return up;
}

/** Starts the gateway (real CLI) on `yaml`; it is stopped when the test ends. */
export async function scopedGateway(t: TestScope, yaml: string, opts: StartGatewayOptions = {}): Promise<StartedGateway> {
  const gw = await startGateway(yaml, opts);
  t.after(() => gw.stop());
  return gw;
}

/**
 * An upstream that holds every request until the test calls `release()`, then answers 200 `body`: the way to
 * keep a request in flight across a reload or a drain. Closed when the test ends.
 */
export async function gatedUpstream(t: TestScope, body = 'finished'): Promise<{ up: Upstream; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const up = await scopedUpstream(t, {
    handler: async () => {
      await released;
      return { status: 200, body };
    },
  });
  return { up, release };
}

/** What `startAiGateway` started. */
export interface AiGateway {
  readonly mock: OpenAiMock;
  readonly gw: StartedGateway;
  /** An SDK client (key `sk-client`) pointed at the gateway's default port. */
  readonly client: OpenAI;
}

/**
 * Starts the OpenAI mock and a gateway running `yaml`, where `{{MOCK}}` is the mock's port (other `vars` and
 * `env` are passed through); both are stopped when the test ends.
 */
export async function startAiGateway(
  t: TestScope,
  yaml: string,
  opts: { readonly mock?: OpenAiMockOptions; readonly vars?: Record<string, string | number>; readonly env?: Record<string, string> } = {},
): Promise<AiGateway> {
  const mock = await startOpenAiMock(opts.mock);
  t.after(() => mock.close());
  const gw = await scopedGateway(t, yaml, { vars: { ...opts.vars, MOCK: mock.port }, ...(opts.env === undefined ? {} : { env: opts.env }) });
  return { mock, gw, client: sdkClient(gw.url()) };
}
