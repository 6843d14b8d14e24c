import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { requestId } from './request-id.js';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('request ids have the UUID shape and never repeat within a process', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = requestId();
    assert.match(id, SHAPE);
    assert.ok(!seen.has(id), `repeated id ${id}`);
    seen.add(id);
  }
});

test('two processes (e.g. two workers) draw different ids', () => {
  const href = new URL('./request-id.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(href)}).then((m) => process.stdout.write(m.requestId()))`;
  const run = (): string => execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8', timeout: 20_000 });
  const a = run();
  const b = run();
  assert.match(a, SHAPE);
  assert.match(b, SHAPE);
  assert.notEqual(a, b);
});
