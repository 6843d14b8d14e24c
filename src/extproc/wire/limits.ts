/** The wire transport's limits and windows (docs/ext-proc-transport.md lists them). */

/** Our receive windows: 1 MiB per stream (as the node:http2 transport had), 16 MiB for the connection. */
export const STREAM_WINDOW = 1 << 20;
export const CONNECTION_WINDOW = 16 << 20;
/** Largest decoded header list we accept from the processor. */
export const MAX_HEADER_LIST = 64 * 1024;
/** A stream with more than this queued (not yet allowed out by flow control) asks its writer to wait. */
export const STREAM_HIGH_WATER = 64 * 1024;
/** The socket's own buffer past which writers are asked to wait. */
export const SOCKET_HIGH_WATER = 1 << 20;
/** A header block may span this many CONTINUATION frames (64 KiB in 16 KiB frames needs 4). */
export const MAX_CONTINUATIONS = 32;
/**
 * Unsent bytes past which frames that make us answer (PING, SETTINGS) are a flood: a peer that sends them without
 * reading our answers would otherwise grow our write buffer without bound.
 */
export const FLOOD_BYTES = 16 << 20;
