/**
 * Errors in OpenAI's wire format, so clients using an OpenAI SDK get a proper APIError with a message
 * when the gateway itself rejects an AI request: `{"error": {"message", "type", "param", "code"}}`.
 */
import { GatewayError } from '../errors.js';
import { bufferBody } from '../http/body.js';
import { HeaderList } from '../http/headers.js';
import type { GatewayResponse } from '../http/message.js';

/** An `ai_bad_request` GatewayError that also names the offending request field (OpenAI's `param`). */
export class AiBadRequestError extends GatewayError {
  /** The request field at fault (e.g. `model`), or null for the body as a whole. */
  readonly param: string | null;
  /** OpenAI's short machine code (e.g. `invalid_json`, `missing_model`). */
  readonly openAiCode: string;

  constructor(message: string, param: string | null, openAiCode: string, cause?: unknown) {
    super('ai_bad_request', message, cause === undefined ? {} : { cause });
    this.name = 'AiBadRequestError';
    this.param = param;
    this.openAiCode = openAiCode;
  }
}

/** OpenAI's error `type` for an HTTP status. */
function typeFor(status: number): string {
  if (status === 400 || status === 404 || status === 413 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return 'api_error';
}

/** The JSON body OpenAI clients expect for an error. `err.message` is client-safe by GatewayError's contract. */
export function openAiErrorBody(err: GatewayError): string {
  const bad = err instanceof AiBadRequestError ? err : undefined;
  return JSON.stringify({
    error: {
      message: err.message,
      type: typeFor(err.status),
      param: bad?.param ?? null,
      code: bad?.openAiCode ?? err.code,
    },
  });
}

/**
 * A complete error response in OpenAI's format for any GatewayError (the pipeline uses it instead of its
 * text/plain error page when the request went to an `ai` backend).
 */
export function openAiErrorResponse(err: GatewayError): GatewayResponse {
  const body = Buffer.from(openAiErrorBody(err));
  return {
    status: err.status,
    headers: new HeaderList([
      ['content-type', 'application/json'],
      ['content-length', String(body.length)],
    ]),
    body: bufferBody(body),
  };
}
