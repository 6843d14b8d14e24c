/**
 * Raw HTTP/1.1 and HTTP/2 requests for tests that need what fetch() hides: trailers both ways, a fresh
 * connection per request, h2c prior knowledge. Bodies are read as UTF-8 text.
 */
import http from 'node:http';
import http2 from 'node:http2';

/** An HTTP/2 answer: status, response headers, body text and trailers (empty when none arrived). */
export interface H2Result {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: http2.IncomingHttpHeaders;
}

/**
 * Sends one request on `session` and reads the whole answer. Without `body` and `trailers` the stream is
 * ended with the headers; with `trailers` they are sent after `body`.
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  opts: { readonly body?: string; readonly trailers?: http2.OutgoingHttpHeaders } = {},
): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const { body, trailers } = opts;
    const s = session.request(headers, trailers === undefined ? { endStream: body === undefined } : { waitForTrailers: true });
    if (trailers !== undefined) s.on('wantTrailers', () => s.sendTrailers(trailers));
    let res: http2.IncomingHttpHeaders = {};
    let got: http2.IncomingHttpHeaders = {};
    let text = '';
    s.on('response', (h) => (res = h));
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('trailers', (h) => (got = h));
    s.on('end', () => resolve({ status: Number(res[':status']), headers: res, body: text, trailers: got }));
    s.on('error', reject);
    if (body !== undefined || trailers !== undefined) s.end(body);
  });
}

/** Like `h2Request`, on a connection of its own to `origin` that is closed afterwards. */
export async function h2RequestOnce(
  origin: string,
  headers: http2.OutgoingHttpHeaders,
  opts: { readonly body?: string; readonly trailers?: http2.OutgoingHttpHeaders } = {},
): Promise<H2Result> {
  const session = http2.connect(origin);
  try {
    return await h2Request(session, headers, opts);
  } finally {
    session.close();
  }
}

/** An HTTP/1.1 answer: status, response headers, body text and trailers. */
export interface H1Result {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: NodeJS.Dict<string>;
}

/**
 * One HTTP/1.1 request on a connection of its own (no keep-alive agent, so consecutive requests may land on
 * different workers). With `trailers`, the body is sent chunked and announced in a `trailer` header.
 */
export function h1Request(
  url: string,
  opts: { readonly method?: string; readonly body?: string; readonly trailers?: Record<string, string> } = {},
): Promise<H1Result> {
  return new Promise((resolve, reject) => {
    const headers = opts.trailers ? { trailer: Object.keys(opts.trailers).join(', ') } : {};
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: false });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    if (opts.trailers) req.addTrailers(opts.trailers);
    req.end();
  });
}
