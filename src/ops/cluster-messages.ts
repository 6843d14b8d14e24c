/**
 * IPC messages between the cluster primary (ops servers, file watch, drain coordination) and its workers
 * (one gateway each). Plain JSON: node's IPC serializes them.
 */

/** Primary → worker. */
export type ToWorker =
  | { readonly t: 'start'; readonly text: string; readonly source: string; readonly baseDir: string; readonly bindHost?: string }
  | { readonly t: 'reload'; readonly id: number; readonly text: string }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'drain'; readonly deadlineMs: number };

/** Worker → primary. `hello` comes first: messages sent before the worker's ESM entry has run are lost. */
export type FromWorker =
  | { readonly t: 'hello' }
  | { readonly t: 'ready'; readonly addresses: unknown }
  | { readonly t: 'failed'; readonly error: string }
  | { readonly t: 'reloaded'; readonly id: number; readonly error?: string }
  | { readonly t: 'metrics'; readonly id: number; readonly data: unknown }
  | { readonly t: 'drained'; readonly abandoned: number };

/** Narrows an IPC message to a FromWorker/ToWorker shape (anything else is ignored). */
export function isMessage<T extends { t: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
