/**
 * Per-model precomputation, done once at start/reload and never per request: route tables per listener,
 * listeners per bind port.
 */
import type { Bind, GatewayModel, Listener } from '../config/model.js';
import { compileRoutes, type RouteTable } from '../routing/match.js';

/** One bind, ready for requests. */
export interface CompiledBind {
  readonly bind: Bind;
  readonly model: CompiledModel;
  readonly tables: ReadonlyMap<Listener, RouteTable>;
}

/** A model plus its precomputed lookups. Requests capture one of these at arrival (reload-safe). */
export interface CompiledModel {
  readonly model: GatewayModel;
  readonly binds: ReadonlyMap<number, CompiledBind>;
}

/** Builds the lookups for a model. */
export function compileModel(model: GatewayModel): CompiledModel {
  const binds = new Map<number, CompiledBind>();
  const compiled: CompiledModel = { model, binds };
  for (const bind of model.binds) {
    const tables = new Map<Listener, RouteTable>();
    for (const l of bind.listeners) tables.set(l, compileRoutes(l.routes));
    binds.set(bind.port, { bind, model: compiled, tables });
  }
  return compiled;
}
