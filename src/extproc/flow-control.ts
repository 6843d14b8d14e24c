/**
 * When the channel stops reading its processor stream (pure). Answers pile up per direction when their
 * reader (the upstream taking a processed request body, the client taking a response) is slower than the
 * processor; past BACKLOG_HIGH unread answers the stream is paused so HTTP/2 flow control holds the processor
 * back, and it resumes at BACKLOG_LOW (hysteresis, so it does not flap per message).
 */

/** Unread answers in a direction above which reading stops (and the full-duplex pump stops sending). */
export const BACKLOG_HIGH = 8;
/** Unread answers at or below which reading resumes. */
export const BACKLOG_LOW = 4;

/** What the decision looks at. */
export interface FlowInputs {
  /** Whether reading is paused now. */
  readonly paused: boolean;
  /** The largest number of unread answers in any direction. */
  readonly backlog: number;
  /**
   * Some reader waits for an answer that has not been read yet. Replies of both directions share one stream,
   * so pausing then could deadlock (a response_headers reply behind unread request-body answers whose reader,
   * the upstream, waits for us to take its response): never pause while anyone starves.
   */
  readonly starving: boolean;
}

/** True when reading should be paused. */
export function shouldPause(f: FlowInputs): boolean {
  if (f.starving) return false;
  return f.paused ? f.backlog > BACKLOG_LOW : f.backlog > BACKLOG_HIGH;
}
