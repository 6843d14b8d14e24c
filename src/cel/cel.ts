/**
 * CEL for config expressions (extProc conditions, metadataContext, attributes), on @bufbuild/cel.
 * Expressions are parsed and planned once at config load; `evaluate` takes plain JS objects and returns
 * plain JS values, so callers never see CEL runtime types.
 */
import { celEnv, isCelError, isCelList, isCelMap, isCelUint, parse, plan } from '@bufbuild/cel';
import type { CelInput, CelValue } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { CelExpr } from '../config/model.js';
import { findUnknownName } from './validate.js';
import type { CelScope } from './validate.js';

export type { CelScope } from './validate.js';

const env = celEnv({ funcs: strings });

/**
 * Root variables of the activation `celActivation` builds (src/extproc/cel-fields.ts) for metadataContext,
 * requestAttributes and responseAttributes. `response` is bound on the response path only; on the request path an
 * expression reading it fails and its value is left out, as Envoy omits attributes that are not available yet.
 */
export const FIELD_VARIABLES = ['request', 'response', 'source', 'extproc'] as const;

/**
 * Root variables of the activation a `conditional` extProc condition is evaluated against: the request as it is
 * when the policy runs, and the client's `source` (src/pipeline/ext-proc-chain.ts `resolveExtProc`). Keep in step
 * with that activation.
 */
export const CONDITION_VARIABLES = ['request', 'source'] as const;

/** Scope of metadataContext / requestAttributes / responseAttributes expressions. */
export const FIELD_SCOPE: CelScope = Object.freeze({ variables: FIELD_VARIABLES });

/** Scope of `conditional[].condition` expressions. */
export const CONDITION_SCOPE: CelScope = Object.freeze({
  variables: CONDITION_VARIABLES,
  where: 'an extProc condition',
  elsewhere: FIELD_VARIABLES.filter((v) => !(CONDITION_VARIABLES as readonly string[]).includes(v)),
});

/** Thrown by `compileCel` when the source does not parse or names a variable or function the gateway lacks. */
export class CelCompileError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`invalid CEL expression ${JSON.stringify(source)}: ${detail}`);
    this.name = 'CelCompileError';
  }
}

/**
 * Converts a plain JS value into CEL input. Integral numbers become CEL ints (so `x * 2` and `string(x)`
 * behave as users expect); objects become maps.
 */
function toCel(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object': {
      if (value instanceof Uint8Array) return value;
      if (Array.isArray(value)) return value.map(toCel);
      if (value instanceof Map) {
        const m = new Map<string, CelInput>();
        for (const [k, v] of value) m.set(String(k), toCel(v));
        return m;
      }
      const m = new Map<string, CelInput>();
      for (const [k, v] of Object.entries(value)) if (v !== undefined) m.set(k, toCel(v));
      return m;
    }
    default:
      return null;
  }
}

/** Converts a CEL result back to plain JS: ints → number when safe (else bigint), maps → objects, lists → arrays. */
export function fromCel(value: CelValue): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  }
  if (isCelUint(value)) return fromCel(value.value);
  if (isCelList(value)) return Array.from(value, (v) => fromCel(v));
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(isCelUint(k) ? k.value : k)] = fromCel(v);
    return out;
  }
  return value;
}

const PREPARED = Symbol('tollgate.celActivation');

/**
 * Converts an activation once so several expressions can be evaluated against it without converting it again
 * (e.g. every metadataContext/attributes entry of one ext_proc phase). The result must not be mutated.
 */
export function prepareActivation(activation: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const bindings: Record<string | symbol, unknown> = { [PREPARED]: true };
  for (const [k, v] of Object.entries(activation)) bindings[k] = toCel(v);
  return bindings;
}

function bindingsOf(activation: Readonly<Record<string | symbol, unknown>>): Record<string, CelInput> {
  if (activation[PREPARED] === true) return activation as Record<string, CelInput>;
  const bindings: Record<string, CelInput> = {};
  for (const [k, v] of Object.entries(activation)) bindings[k] = toCel(v);
  return bindings;
}

/** `line:column` (1-based) of `offset` in `source`, as the parser reports syntax errors. */
function lineCol(source: string, offset: number): string {
  const before = source.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

/**
 * Parses, checks and plans `source`. Throws CelCompileError with the parser's message on a syntax error, and when
 * the expression uses a root variable outside `scope` or a function the environment lacks: such an expression
 * could never evaluate. Runtime failures that depend on data (a missing header) are not load errors.
 */
export function compileCel(source: string, scope: CelScope = FIELD_SCOPE): CelExpr {
  let run: ReturnType<typeof plan>;
  try {
    const parsed = parse(source);
    const issue = findUnknownName(env, parsed, scope);
    if (issue !== undefined) {
      throw new CelCompileError(source, issue.offset === undefined ? issue.message : `at ${lineCol(source, issue.offset)}: ${issue.message}`);
    }
    run = plan(env, parsed);
  } catch (err) {
    if (err instanceof CelCompileError) throw err;
    const detail = err instanceof Error ? err.message.replace(/^<input>:/, 'at ') : String(err);
    throw new CelCompileError(source, detail);
  }
  return Object.freeze({
    source,
    evaluate(activation: Readonly<Record<string, unknown>>): unknown {
      const result = run(bindingsOf(activation));
      if (isCelError(result)) throw new Error(`CEL ${JSON.stringify(source)} failed: ${result.message}`);
      return fromCel(result);
    },
    toJSON(): string {
      return source;
    },
  });
}
