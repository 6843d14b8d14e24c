/**
 * Reads token usage and the response model out of OpenAI response objects: chat completions and
 * embeddings (`usage.prompt_tokens` / `completion_tokens`), and the Responses API (`usage.input_tokens`
 * / `output_tokens`, nested under `response` in its streamed `response.completed` event).
 */
import type { AiLog } from '../http/context.js';

/** What one response object (or one streamed chunk) says about usage. Absent fields were not reported. */
export interface UsageInfo {
  responseModel?: string;
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** Extracts usage from a parsed JSON value; returns an empty object when it carries none. */
export function extractUsage(value: unknown): UsageInfo {
  if (!isRecord(value)) return {};
  // Responses API stream events wrap the response object.
  const obj = isRecord(value['response']) ? value['response'] : value;
  const out: UsageInfo = {};
  if (typeof obj['model'] === 'string' && obj['model'] !== '') out.responseModel = obj['model'];
  const usage = obj['usage'];
  if (!isRecord(usage)) return out;
  const input = count(usage['prompt_tokens']) ?? count(usage['input_tokens']);
  const output = count(usage['completion_tokens']) ?? count(usage['output_tokens']);
  let total = count(usage['total_tokens']);
  if (total === undefined && input !== undefined && output !== undefined) total = input + output;
  if (input !== undefined) out.inputTokens = input;
  if (output !== undefined) out.outputTokens = output;
  if (total !== undefined) out.totalTokens = total;
  return out;
}

/** Parses JSON text and extracts usage; malformed JSON yields nothing (observing never fails a request). */
export function extractUsageFromText(text: string): UsageInfo {
  try {
    return extractUsage(JSON.parse(text));
  } catch {
    return {};
  }
}

/** Copies reported fields into the access-log record; later reports win (the usage chunk comes last). */
export function mergeUsage(log: AiLog, u: UsageInfo): void {
  if (u.responseModel !== undefined) log.responseModel = u.responseModel;
  if (u.inputTokens !== undefined) log.inputTokens = u.inputTokens;
  if (u.outputTokens !== undefined) log.outputTokens = u.outputTokens;
  if (u.totalTokens !== undefined) log.totalTokens = u.totalTokens;
}
