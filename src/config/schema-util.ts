/**
 * Small builders shared by the config schema files: strict objects whose unknown-key error suggests the
 * closest valid key, "not supported by tollgate" placeholders, and the edit distance behind "did you mean".
 */
import { z } from 'zod';

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [];
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        row.push(i + j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((rows[i - 1]?.[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (rows[i - 1]?.[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/** The candidate closest to `word` if it is plausibly a typo of it (case-insensitive, small edit distance). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestDist <= limit ? best : undefined;
}

/** Formats an unknown-key message: the key, a suggestion when one is close, and the allowed keys. */
export function unknownKeyMessage(keys: readonly string[], allowed: readonly string[]): string {
  const parts = keys.map((k) => {
    const guess = closest(k, allowed);
    return guess === undefined ? `unknown key "${k}"` : `unknown key "${k}" (did you mean "${guess}"?)`;
  });
  return `${parts.join('; ')}; allowed keys: ${allowed.join(', ')}`;
}

// Schemas made by `unsupported`, so unknown-key messages do not offer them as alternatives.
const unsupportedSchemas = new WeakSet<object>();

/** A strict object (unknown keys are errors) whose error names the closest valid key. */
export function obj<S extends z.ZodRawShape>(shape: S, description: string) {
  const allowed = Object.keys(shape).filter((k) => !unsupportedSchemas.has(shape[k] as object));
  return z
    .strictObject(shape, {
      error: (iss) =>
        iss.code === 'unrecognized_keys' ? unknownKeyMessage(iss.keys, allowed) : undefined,
    })
    .describe(description);
}

/** A key agentgateway accepts but tollgate rejects: any value is an error with this explanation. */
export function unsupported(what: string) {
  const schema = z
    .never({ error: () => `${what} is not supported by tollgate` })
    .optional()
    .describe(`Not supported by tollgate: ${what}. Present only so the error says so clearly.`);
  unsupportedSchemas.add(schema);
  return schema;
}

/**
 * A policy agentgateway accepts that tollgate validates only loosely and does not implement yet: the config
 * loads, and a request that would run it fails with a 500 naming the policy (never silently skipped).
 */
export function notImplemented(name: string, what: string) {
  return z
    .unknown()
    .optional()
    .describe(`${what} Accepted but not implemented by tollgate yet: a request that reaches \`${name}\` fails with 500.`);
}

/** A string field with a description. */
export function str(description: string) {
  return z.string().describe(description);
}
