import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, GatewayError, httpStatusFor } from './errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

/** code → status as written in the docs table. */
function documented(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of doc.matchAll(/^\|[^|]*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)) rows.set(m[1]!, Number(m[2]));
  return rows;
}

test('every ErrorCode has a row in docs/errors.md with the status httpStatusFor gives', () => {
  const rows = documented();
  for (const code of ERROR_CODES) {
    assert.ok(rows.has(code), `docs/errors.md lacks a row for ${code}`);
    assert.equal(rows.get(code), httpStatusFor(code), `docs/errors.md status for ${code}`);
  }
});

test('docs/errors.md documents no code that does not exist', () => {
  for (const code of documented().keys()) assert.ok((ERROR_CODES as readonly string[]).includes(code), `unknown code ${code} in docs`);
});

test('httpStatusFor maps every code to an error status and GatewayError uses it', () => {
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
  for (const code of ERROR_CODES) {
    const status = httpStatusFor(code);
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`);
    assert.equal(new GatewayError(code, 'x').status, status);
  }
  assert.equal(new GatewayError('ext_proc_failed', 'x', { status: 503 }).status, 503);
});

test('ERROR_CODES lists every member of the ErrorCode union', () => {
  const src = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8');
  const start = src.indexOf('export type ErrorCode =');
  const union = src.slice(start, src.indexOf(';', start)).replace(/\/\*\*[\s\S]*?\*\//g, '');
  const members = [...union.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
  assert.ok(members.length > 0);
  assert.deepEqual([...members].sort(), [...ERROR_CODES].sort());
});
