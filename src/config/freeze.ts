/** Deep freeze for the runtime model, so nothing after config load can change it by accident. */

/** Freezes `value` and everything reachable from it (RegExp objects are left as they are). */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || value instanceof RegExp || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}
