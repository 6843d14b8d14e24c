/**
 * Turns zod issues into ConfigIssue messages in tollgate's style: the path, the bad value, the allowed values,
 * and a "did you mean" when a value or key is a likely typo. Union failures report the branch that got furthest.
 */
import type { z } from 'zod';
import { formatPath, showValue, type PathSegment } from './config-error.js';
import { closest } from './schema-util.js';

type Issue = z.core.$ZodIssue;

/** A located problem, before line/column are attached. */
export interface RawIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function typeName(t: string): string {
  if (t === 'array') return 'a list';
  if (t === 'int') return 'an integer';
  if (t === 'object' || t === 'record') return 'an object';
  return `a ${t}`;
}

// A union branch that failed only because the value had the wrong top-level type tells the user nothing;
// prefer a branch that got inside the value.
function branchScore(issues: readonly Issue[], depth: number): number {
  if (issues.every((i) => i.code === 'invalid_type' && i.path.length === 0)) return 0;
  return 1 + Math.max(...issues.map((i) => i.path.length + depth)) - issues.length * 0.01;
}

// Values under these keys may be secrets (or hold one); messages never echo them.
function sensitive(path: readonly PathSegment[]): boolean {
  return path.includes('backendAuth') || (path.includes('tls') && path[path.length - 1] === 'key');
}

function describe(issue: Issue, base: readonly PathSegment[], root: unknown, out: RawIssue[]): void {
  const path = [...base, ...(issue.path as PathSegment[])];
  const value = valueAt(root, path);
  const shown = sensitive(path) ? '<redacted>' : showValue(value);
  const at = formatPath(path);
  switch (issue.code) {
    case 'invalid_union': {
      const branches = issue.errors;
      let best: readonly Issue[] | undefined;
      let bestScore = -1;
      for (const b of branches) {
        const s = branchScore(b, path.length);
        if (s > bestScore) {
          bestScore = s;
          best = b;
        }
      }
      if (best === undefined || bestScore === 0) {
        const expected = new Set<string>();
        for (const b of branches) for (const i of b) if (i.code === 'invalid_type') expected.add(typeName(i.expected));
        out.push({ path, message: `${at}: expected ${[...expected].join(' or ')}, got ${kindOf(value)} ${shown}` });
        return;
      }
      for (const i of best) describe(i, path, root, out);
      return;
    }
    case 'unrecognized_keys': {
      const keyPath = issue.keys.length === 1 ? [...path, issue.keys[0] as string] : path;
      out.push({ path: keyPath, message: `${formatPath(keyPath)}: ${issue.message}` });
      return;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v));
      const guess = typeof value === 'string' ? closest(value, allowed) : undefined;
      out.push({
        path,
        message:
          `${at}: invalid value ${shown}; allowed values: ${allowed.join(', ')}` +
          (guess !== undefined ? ` (did you mean "${guess}"?)` : ''),
      });
      return;
    }
    case 'invalid_type': {
      if (issue.expected === 'never') {
        out.push({ path, message: `${at}: ${issue.message}` });
      } else if (value === undefined) {
        out.push({ path, message: `${at}: required (expected ${typeName(issue.expected)})` });
      } else {
        out.push({ path, message: `${at}: expected ${typeName(issue.expected)}, got ${kindOf(value)} ${shown}` });
      }
      return;
    }
    case 'too_small':
    case 'too_big': {
      const isSmall = issue.code === 'too_small';
      const bound = isSmall ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
      const what = Array.isArray(value) ? 'list length' : 'value';
      out.push({
        path,
        message: `${at}: ${what} ${Array.isArray(value) ? String(value.length) : shown} is too ${isSmall ? 'small' : 'big'}; must be ${isSmall ? 'at least' : 'at most'} ${String(bound)}`,
      });
      return;
    }
    default: {
      // Custom messages (durations) already quote the value.
      const quoted = typeof value === 'string' && !sensitive(path) && issue.message.includes(JSON.stringify(value));
      out.push({ path, message: quoted ? `${at}: ${issue.message}` : `${at}: ${issue.message} (got ${shown})` });
    }
  }
}

/** Converts zod's issues for `root` into path-named messages. */
export function describeZodIssues(issues: readonly Issue[], root: unknown): RawIssue[] {
  const out: RawIssue[] = [];
  for (const i of issues) describe(i, [], root, out);
  return out;
}
