/**
 * HTTP/1.1 upstream exchange over node:http, used only when the request carries trailers: undici's
 * HTTP/1.1 client ends chunked bodies without a trailer section, node:http can send one (`addTrailers`).
 */
import http from 'node:http';
import { readableBody } from '../http/body.js';
import type { HeaderList } from '../http/headers.js';
import { headersFromRaw } from '../http/hop-by-hop.js';
import type { GatewayRequest, GatewayResponse } from '../http/message.js';
import { waitWritable } from '../server/respond.js';
import type { UpstreamTarget } from './dispatchers.js';
import { upstreamBody, upstreamError } from './errors.js';
import { bodyless } from './forward-undici.js';

/** Sends `req` with chunked encoding and its trailers; resolves at response headers. */
export function forwardNodeHttp1(
  agent: http.Agent,
  target: UpstreamTarget,
  req: GatewayRequest,
  headers: HeaderList,
  upstream: string,
  signal: AbortSignal,
): Promise<GatewayResponse> {
  return new Promise<GatewayResponse>((resolve, reject) => {
    const flat = headers.toFlat();
    // The body length is unknown up front when trailers follow, so the message must be chunked.
    const entries: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) if (flat[i] !== 'content-length') entries.push([flat[i]!, flat[i + 1]!]);
    // setHost: false, or node adds its own `Host: <upstream address>` ahead of the one in `headers` (the client's
    // authority, or what a processor set), and the upstream sees two.
    const out = http.request({ host: target.host, port: target.port, method: req.method, path: req.path, agent, signal, setHost: false, maxHeaderSize: 64 * 1024 });
    for (const [n, v] of entries) out.appendHeader(n, v);
    let responded = false;
    out.on('error', (err) => {
      const gerr = upstreamError(signal.aborted ? signal.reason : err, upstream);
      if (!responded) reject(gerr);
    });
    out.once('response', (inc) => {
      responded = true;
      resolve(fromNodeResponse(inc, req.method, upstream));
    });
    void (async () => {
      if (req.body !== null) {
        for await (const chunk of req.body) if (!out.write(chunk)) await waitWritable(out);
        const t = req.body.trailers();
        if (t !== undefined) out.addTrailers(t.entries());
      }
      out.end();
    })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  });
}

/** A node:http response as a GatewayResponse: head now, body (and trailers) streamed, a cut body an upstream error. */
export function fromNodeResponse(inc: http.IncomingMessage, method: string, upstream: string): GatewayResponse {
  // Errors surface through the body iteration; an unread body must not crash the process.
  inc.on('error', () => undefined);
  const status = inc.statusCode ?? 502;
  const cl = inc.headers['content-length'];
  const res: GatewayResponse = { status, headers: headersFromRaw(inc.rawHeaders), body: null };
  if (!bodyless(method, status, cl)) {
    const inner = readableBody(inc, () => (inc.rawTrailers.length > 0 ? headersFromRaw(inc.rawTrailers) : undefined), cl === undefined ? undefined : Number(cl));
    res.body = upstreamBody(inner, upstream, () => {
      if (!inc.complete) throw upstreamError(new Error('connection closed mid-body'), upstream);
    });
  } else inc.resume();
  return res;
}
