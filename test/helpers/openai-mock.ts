/**
 * An OpenAI-compatible mock server for tests (127.0.0.1, port 0): chat completions (JSON, or SSE with a
 * configurable number of chunks, delay between them, and the final usage chunk when the request asks for
 * `stream_options.include_usage`), embeddings, models, scripted errors in OpenAI's format. It records
 * every request (headers, raw and parsed body) and notices when a client goes away mid-response.
 */
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** One request as the mock received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-case names; repeated headers joined by node's rules. */
  readonly headers: http.IncomingHttpHeaders;
  readonly rawBody: string;
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  readonly body: Record<string, unknown> | undefined;
}

/** A scripted error reply (OpenAI error shape). */
export interface ScriptedError {
  readonly status: number;
  readonly message: string;
  readonly type?: string;
  readonly code?: string | null;
  readonly param?: string | null;
  /** Extra response headers (e.g. `retry-after`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** How streamed completions are produced. */
export interface StreamOptions {
  /** Content chunks before the finish chunk (default 3). */
  chunks: number;
  /** Delay before each chunk after the first, ms (default 0). */
  delayMs: number;
  /** When set, the mock writes the first chunk and waits for this before the rest (proves no buffering). */
  gate?: Promise<void> | undefined;
  /** The content deltas to send (default `tok0 `, `tok1 `, …); when set, `chunks` is ignored. */
  tokens?: readonly string[] | undefined;
}

export interface OpenAiMockOptions {
  /** The `model` reported in responses; default: echo the request's model. */
  readonly responseModel?: string;
  /** The assistant message of non-streaming completions (default `Hello from the mock.`). */
  readonly content?: string;
  /** Usage reported for chat completions (completion tokens default to the chunk count). */
  readonly promptTokens?: number;
  readonly stream?: Partial<StreamOptions>;
  /** Serve HTTPS with this key and certificate (PEM) instead of plaintext. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
}

/** A running mock. */
export interface OpenAiMock {
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Streaming settings, changeable between requests. */
  readonly stream: StreamOptions;
  /** Queues errors: the next requests get these replies instead of the normal ones. */
  failNext(...errors: ScriptedError[]): void;
  /** Resolves with the path of the next request whose client went away before the response ended. */
  nextAbort(): Promise<string>;
  /** Resolves with the next request once its body has been read. */
  nextRequest(): Promise<RecordedRequest>;
  close(): Promise<void>;
}

const CREATED = 1_700_000_000;

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: ScriptedError): void {
  sendJson(
    res,
    e.status,
    { error: { message: e.message, type: e.type ?? 'invalid_request_error', param: e.param ?? null, code: e.code ?? null } },
    { ...e.headers },
  );
}

function modelOf(req: RecordedRequest, opts: OpenAiMockOptions): string {
  const m = req.body?.['model'];
  return opts.responseModel ?? (typeof m === 'string' ? m : 'mock-model');
}

function chatCompletion(req: RecordedRequest, opts: OpenAiMockOptions, completionTokens: number): unknown {
  const prompt = opts.promptTokens ?? 11;
  return {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: CREATED,
    model: modelOf(req, opts),
    choices: [{ index: 0, message: { role: 'assistant', content: opts.content ?? 'Hello from the mock.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
  };
}

async function streamCompletion(
  req: RecordedRequest,
  res: http.ServerResponse,
  opts: OpenAiMockOptions,
  stream: StreamOptions,
): Promise<void> {
  const model = modelOf(req, opts);
  const so = req.body?.['stream_options'];
  const includeUsage = typeof so === 'object' && so !== null && (so as Record<string, unknown>)['include_usage'] === true;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
    `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: CREATED, model, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const count = stream.tokens?.length ?? stream.chunks;
  for (let i = 0; i < count; i++) {
    if (i === 1 && stream.gate !== undefined) await stream.gate;
    if (i > 0 && stream.delayMs > 0) await new Promise((r) => setTimeout(r, stream.delayMs));
    if (res.destroyed) return;
    const content = stream.tokens?.[i] ?? `tok${i} `;
    const delta = i === 0 ? { role: 'assistant', content } : { content };
    res.write(chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]));
  }
  if (res.destroyed) return;
  res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
  if (includeUsage) {
    const prompt = opts.promptTokens ?? 11;
    res.write(chunk([], { usage: { prompt_tokens: prompt, completion_tokens: count, total_tokens: prompt + count } }));
  }
  res.end('data: [DONE]\n\n');
}

function embeddings(req: RecordedRequest, opts: OpenAiMockOptions): unknown {
  const input = req.body?.['input'];
  const inputs = Array.isArray(input) ? input : [input];
  return {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1 * (index + 1), 0.2, -0.3] })),
    model: modelOf(req, opts),
    usage: { prompt_tokens: inputs.length * 4, total_tokens: inputs.length * 4 },
  };
}

const MODELS = ['gpt-4o-mini', 'gpt-3.5-turbo', 'text-embedding-3-small'];

/** Starts the mock on 127.0.0.1, port 0. */
export async function startOpenAiMock(opts: OpenAiMockOptions = {}): Promise<OpenAiMock> {
  const requests: RecordedRequest[] = [];
  const errors: ScriptedError[] = [];
  const events = new EventEmitter();
  const stream: StreamOptions = {
    chunks: opts.stream?.chunks ?? 3,
    delayMs: opts.stream?.delayMs ?? 0,
    tokens: opts.stream?.tokens,
    gate: opts.stream?.gate,
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(parts).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = rawBody === '' ? undefined : JSON.parse(rawBody);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawBody, body };
      requests.push(rec);
      events.emit('request', rec);
      // 'close' before 'finish' means the client (the gateway) went away mid-response.
      let finished = false;
      res.on('finish', () => {
        finished = true;
      });
      res.on('close', () => {
        if (!finished) events.emit('abort', rec.path);
      });
      void route(rec, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'api_error', param: null, code: null } });
        else res.destroy();
      });
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);

  async function route(rec: RecordedRequest, res: http.ServerResponse): Promise<void> {
    const scripted = errors.shift();
    if (scripted !== undefined) return sendError(res, scripted);
    const path = rec.path.split('?')[0] ?? '';
    if (path.endsWith('/chat/completions') && rec.method === 'POST') {
      if (rec.body === undefined) return sendError(res, { status: 400, message: 'mock: body is not JSON' });
      if (rec.body['stream'] === true) return streamCompletion(rec, res, opts, { ...stream });
      return sendJson(res, 200, chatCompletion(rec, opts, stream.chunks));
    }
    if (path.endsWith('/embeddings') && rec.method === 'POST') return sendJson(res, 200, embeddings(rec, opts));
    if (path.endsWith('/models') && rec.method === 'GET') {
      return sendJson(res, 200, { object: 'list', data: MODELS.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'mock' })) });
    }
    const one = /\/models\/([^/]+)$/.exec(path);
    if (one !== null && rec.method === 'GET') {
      return sendJson(res, 200, { id: decodeURIComponent(one[1] ?? ''), object: 'model', created: CREATED, owned_by: 'mock' });
    }
    return sendError(res, { status: 404, message: `mock: no route for ${rec.method} ${path}`, code: 'unknown_url' });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    stream,
    failNext: (...e) => void errors.push(...e),
    nextAbort: () => once(events, 'abort').then(([p]) => p as string),
    nextRequest: () => once(events, 'request').then(([r]) => r as RecordedRequest),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
