/**
 * Durations as agentgateway writes them: `250ms`, `10s`, `1m`, `1h`, or a sequence such as `1m30s`.
 */

const SEGMENT = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration a node timer can wait: 2^31 - 1 ms (about 596 h). Past it, `setTimeout` warns and fires
 * after 1 ms, so a longer timeout would end every request at once.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** The pattern a duration string must match (also used in the JSON Schema). */
export const DURATION_PATTERN = '^(\\d+(\\.\\d+)?(ms|s|m|h))+$';

/** Parses a duration string into milliseconds; returns undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0) return undefined;
  let total = 0;
  SEGMENT.lastIndex = 0;
  while (SEGMENT.lastIndex < text.length) {
    const start = SEGMENT.lastIndex;
    const m = SEGMENT.exec(text);
    if (m === null || m.index !== start) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
