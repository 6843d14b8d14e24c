/**
 * requestHeaderModifier / responseHeaderModifier (Gateway API HTTPHeaderFilter semantics): `set` replaces,
 * `add` appends another value, `remove` deletes; applied in that order.
 */
import type { HeaderModifier } from '../config/model.js';
import type { HeaderList } from '../http/headers.js';

/** Applies `mod` to `headers` in place; a no-op when the policy is absent. */
export function applyHeaderModifier(mod: HeaderModifier | undefined, headers: HeaderList): void {
  if (mod === undefined) return;
  for (const h of mod.set) headers.set(h.name, h.value);
  for (const h of mod.add) headers.append(h.name, h.value);
  for (const name of mod.remove) headers.delete(name);
}
