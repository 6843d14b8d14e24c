/**
 * Load-time name check for CEL expressions: every root variable and every function an expression uses must be one
 * the gateway provides, else the expression could never evaluate (at runtime it would fail on every request, and a
 * `conditional` extProc would silently never run). @bufbuild/cel does not export its type checker, so this walks the
 * parsed AST and resolves names the same way its planner does (qualified function names, comprehension variables,
 * type and protobuf identifiers). Types and fields are not checked: values are dynamic (headers, `extproc.<key>`),
 * and a field that is absent at runtime is a data condition, not a config error.
 */
import type { CelEnv, parse } from '@bufbuild/cel';
import { closest } from '../config/schema-util.js';

type ParsedExpr = ReturnType<typeof parse>;
type Expr = NonNullable<ParsedExpr['expr']>;

/** The names an expression may use as root variables, and how to describe where it is evaluated. */
export interface CelScope {
  /** Root variables bound when the expression is evaluated. */
  readonly variables: readonly string[];
  /** Where the expression is evaluated, for messages ("an extProc condition"); absent for the general case. */
  readonly where?: string;
  /** Variables the gateway provides elsewhere but not here (named in a more helpful message). */
  readonly elsewhere?: readonly string[];
}

/** Calls the planner handles itself (operators and macro internals), not looked up among the functions. */
const PLANNER_CALLS = new Set(['_[_]', '_[?_]', '_?._', '_?_:_', '_&&_', '_||_', '@not_strictly_false', '__not_strictly_false__']);

/** Type identifiers CEL resolves without a variable (`type(x) == int`). */
const TYPE_IDENTS = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type']);

export interface CelNameIssue {
  readonly message: string;
  /** Offset in the source, when the parser recorded one. */
  readonly offset: number | undefined;
}

/** The dotted name an expression spells (`a.b.c`), or undefined when it is not a plain select chain. */
function qualifiedName(e: Expr): string | undefined {
  const k = e.exprKind;
  if (k.case === 'identExpr') return k.value.name;
  if (k.case === 'selectExpr' && !k.value.testOnly && k.value.operand !== undefined) {
    const parent = qualifiedName(k.value.operand);
    return parent === undefined ? undefined : `${parent}.${k.value.field}`;
  }
  return undefined;
}

/** The root identifier of a select chain (`a` in `a.b.c`), or undefined when the chain starts elsewhere. */
function chainRoot(e: Expr): Expr | undefined {
  let cur = e;
  for (;;) {
    const k = cur.exprKind;
    if (k.case === 'identExpr') return cur;
    if (k.case !== 'selectExpr' || k.value.operand === undefined) return undefined;
    cur = k.value.operand;
  }
}

/** True when `name` is a protobuf message, enum or enum value the environment knows (`google.protobuf.Duration`). */
function isRegistryName(env: CelEnv, name: string): boolean {
  if (env.registry.getMessage(name) !== undefined || env.registry.getEnum(name) !== undefined) return true;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return false;
  const en = env.registry.getEnum(name.slice(0, dot));
  return en !== undefined && en.values.some((v) => v.name === name.slice(dot + 1));
}

/**
 * Finds the first variable or function in `parsed` that the gateway does not provide; undefined when every name
 * resolves. Comprehension variables (from `all`, `exists`, `map`, `filter`, …) are in scope inside their macro.
 */
export function findUnknownName(env: CelEnv, parsed: ParsedExpr, scope: CelScope): CelNameIssue | undefined {
  const positions = parsed.sourceInfo?.positions ?? {};
  const at = (e: Expr): number | undefined => positions[String(e.id)];
  const roots = new Set(scope.variables);

  const visit = (e: Expr | undefined, locals: ReadonlySet<string>): CelNameIssue | undefined => {
    if (e === undefined) return undefined;
    const k = e.exprKind;
    switch (k.case) {
      case 'identExpr': {
        const name = k.value.name;
        if (locals.has(name) || roots.has(name) || TYPE_IDENTS.has(name) || isRegistryName(env, name)) return undefined;
        return { message: unknownVariable(name, scope), offset: at(e) };
      }
      case 'selectExpr': {
        // `a.b.c` may name a protobuf enum value or type rather than a field of variable `a`.
        const root = chainRoot(e);
        if (root?.exprKind.case === 'identExpr') {
          const rootName = root.exprKind.value.name;
          if (!locals.has(rootName) && !roots.has(rootName)) {
            for (let cur: Expr | undefined = e; cur !== undefined && cur !== root; ) {
              const q = qualifiedName(cur);
              if (q !== undefined && isRegistryName(env, q)) return undefined;
              cur = cur.exprKind.case === 'selectExpr' ? cur.exprKind.value.operand : undefined;
            }
          }
        }
        return visit(k.value.operand, locals);
      }
      case 'callExpr': {
        const { target, args } = k.value;
        const fn = k.value.function;
        // A namespaced function (`strings.quote(x)`): the target is part of the name, not a variable.
        const q = target === undefined ? undefined : qualifiedName(target);
        if (q !== undefined && env.funcs.find(`${q}.${fn}`) !== undefined) return visitAll(args, locals);
        if (!PLANNER_CALLS.has(fn) && env.funcs.find(fn) === undefined) {
          // `math.greatest(…)` (the target is no variable either) reads as a namespaced function, not a method.
          const rootName = q === undefined ? undefined : q.split('.')[0]!;
          const namespaced = rootName !== undefined && !locals.has(rootName) && !roots.has(rootName);
          const message = namespaced ? unknownFunction(env, `${q}.${fn}`, false) : unknownFunction(env, fn, target !== undefined);
          return { message, offset: at(e) };
        }
        return visit(target, locals) ?? visitAll(args, locals);
      }
      case 'listExpr':
        return visitAll(k.value.elements, locals);
      case 'structExpr': {
        const { messageName, entries } = k.value;
        if (messageName !== '' && !isRegistryName(env, messageName)) {
          return { message: `unknown message type "${messageName}"`, offset: at(e) };
        }
        for (const entry of entries) {
          const issue = (entry.keyKind.case === 'mapKey' ? visit(entry.keyKind.value, locals) : undefined) ?? visit(entry.value, locals);
          if (issue) return issue;
        }
        return undefined;
      }
      case 'comprehensionExpr': {
        const c = k.value;
        const inner = new Set(locals);
        for (const v of [c.iterVar, c.iterVar2, c.accuVar]) if (v) inner.add(v);
        return visit(c.iterRange, locals) ?? visit(c.accuInit, locals) ?? visitAll([c.loopCondition, c.loopStep, c.result], inner);
      }
      default:
        return undefined;
    }
  };
  const visitAll = (es: readonly (Expr | undefined)[], locals: ReadonlySet<string>): CelNameIssue | undefined => {
    for (const e of es) {
      const issue = visit(e, locals);
      if (issue) return issue;
    }
    return undefined;
  };
  return visit(parsed.expr, new Set());
}

function unknownVariable(name: string, scope: CelScope): string {
  if (scope.elsewhere?.includes(name)) {
    return `variable "${name}" is not available in ${scope.where ?? 'this expression'}; it sees only: ${scope.variables.join(', ')}`;
  }
  const guess = closest(name, scope.variables);
  return `unknown variable "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}; known: ${scope.variables.join(', ')}`;
}

function unknownFunction(env: CelEnv, name: string, isMethod: boolean): string {
  const names = new Set<string>();
  for (const f of env.funcs) names.add(f.name);
  const guess = closest(name, [...names].filter((n) => /^[A-Za-z]/.test(n)));
  return `unknown ${isMethod ? 'method' : 'function'} "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
}
