/**
 * `override_message_timeout` (ProcessingResponse field 10), per Envoy (reference §1.13): a processor that
 * needs longer for the reply the gateway is waiting on may replace the running message timer once per
 * processing state. Pure: the channel says whether a timer runs and whether this state already used its
 * override; this decides. Envoy enables it only with a `max_message_timeout`; tollgate has no such setting,
 * so the cap is fixed at one hour, the top of Envoy's message_timeout range.
 */

/** The longest timer a processor may ask for. */
export const MAX_OVERRIDE_MS = 3_600_000;

/** A google.protobuf.Duration as protobufjs decodes it (seconds may be a Long). */
export interface DurationIn {
  readonly seconds?: number | { toNumber(): number } | null;
  readonly nanos?: number | null;
}

/** What to do with an override. */
export type OverrideDecision = { readonly apply: true; readonly ms: number } | { readonly apply: false; readonly why: string };

function toMs(d: DurationIn): number | undefined {
  const raw = d.seconds ?? 0;
  const seconds = typeof raw === 'number' ? raw : raw.toNumber();
  const nanos = d.nanos ?? 0;
  if (!Number.isFinite(seconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) return undefined;
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/**
 * Decides on an override: it applies only while a message timer runs (`armed`), only once per processing
 * state (`usedInState`), and only for a value within [1 ms, MAX_OVERRIDE_MS]; it replaces the running timer.
 */
export function decideOverride(d: DurationIn, at: { readonly armed: boolean; readonly usedInState: boolean }): OverrideDecision {
  if (!at.armed) return { apply: false, why: 'no message timer was running (nothing awaited, or a full-duplex body still flowing)' };
  if (at.usedInState) return { apply: false, why: 'the timer was already overridden once in this processing state' };
  const ms = toMs(d);
  if (ms === undefined) return { apply: false, why: 'the duration is malformed' };
  if (ms < 1 || ms > MAX_OVERRIDE_MS) return { apply: false, why: `${ms} ms is outside [1 ms, ${MAX_OVERRIDE_MS} ms]` };
  return { apply: true, ms };
}
