/**
 * directResponse: the gateway answers the request itself with a fixed status and body; no backend is called.
 */
import type { DirectResponse } from '../config/model.js';
import { bufferBody } from '../http/body.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayResponse } from '../http/message.js';

/** The response for a directResponse policy (a fresh object per request: later phases may mutate it). */
export function directResponse(d: DirectResponse): GatewayResponse {
  const body = Buffer.from(d.body);
  const headers = new HeaderList([['content-length', String(body.length)]]);
  if (body.length > 0) headers.append('content-type', 'text/plain; charset=utf-8');
  return { status: d.status, headers, body: body.length > 0 ? bufferBody(body) : null };
}
