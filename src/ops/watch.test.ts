import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { watchConfigFile } from './watch.js';

function setup(t: import('node:test').TestContext): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, 'v: 1\n');
  return { dir, file };
}

/** Resolves with the next text reported by the watch. */
function nextChange(): { onChange: (t: string) => Promise<void>; next: () => Promise<string>; count: () => number } {
  const seen: string[] = [];
  let waiter: ((t: string) => void) | undefined;
  return {
    onChange: async (text) => {
      seen.push(text);
      waiter?.(text);
      waiter = undefined;
    },
    next: () => new Promise<string>((resolve) => (waiter = resolve)),
    count: () => seen.length,
  };
}

test('in-place write is reported once after the debounce', { timeout: 5000 }, async (t) => {
  const { file } = setup(t);
  const c = nextChange();
  const w = watchConfigFile(file, c.onChange, { debounceMs: 50, initialText: 'v: 1\n' });
  t.after(() => w.close());
  const p = c.next();
  writeFileSync(file, 'v: 2\n');
  writeFileSync(file, 'v: 3\n');
  assert.equal(await p, 'v: 3\n');
  assert.equal(c.count(), 1);
});

test('write-to-temp then rename (editor save) is reported, and later edits still are', { timeout: 5000 }, async (t) => {
  const { dir, file } = setup(t);
  const c = nextChange();
  const w = watchConfigFile(file, c.onChange, { debounceMs: 50, initialText: 'v: 1\n' });
  t.after(() => w.close());
  let p = c.next();
  writeFileSync(path.join(dir, 'tmp'), 'v: renamed\n');
  renameSync(path.join(dir, 'tmp'), file);
  assert.equal(await p, 'v: renamed\n');
  p = c.next();
  writeFileSync(file, 'v: after\n');
  assert.equal(await p, 'v: after\n');
});

test('unchanged content, an empty (mid-write) file and other files in the directory are ignored', { timeout: 5000 }, async (t) => {
  const { dir, file } = setup(t);
  const c = nextChange();
  let settled: (() => void) | undefined;
  const w = watchConfigFile(file, c.onChange, { debounceMs: 30, initialText: 'v: 1\n', onSettled: () => settled?.() });
  t.after(() => w.close());
  let s = new Promise<void>((r) => (settled = r));
  writeFileSync(file, 'v: 1\n');
  await s;
  s = new Promise<void>((r) => (settled = r));
  writeFileSync(path.join(dir, 'other.yaml'), 'x');
  writeFileSync(file, 'v: 1\n');
  await s;
  s = new Promise<void>((r) => (settled = r));
  writeFileSync(file, '');
  await s;
  assert.equal(c.count(), 0);
  const p = c.next();
  writeFileSync(file, 'v: 9\n');
  assert.equal(await p, 'v: 9\n');
  assert.equal(c.count(), 1);
});

test('a change to a referenced file re-applies the unchanged config text', { timeout: 5000 }, async (t) => {
  const { dir, file } = setup(t);
  const secrets = path.join(dir, 'secrets');
  mkdirSync(secrets);
  const key = path.join(secrets, 'key.txt');
  writeFileSync(key, 'old');
  const c = nextChange();
  const w = watchConfigFile(file, c.onChange, { debounceMs: 30, initialText: 'v: 1\n' });
  t.after(() => w.close());
  w.setExtraFiles([key]);
  const p = c.next();
  writeFileSync(key, 'new');
  assert.equal(await p, 'v: 1\n');
  assert.equal(c.count(), 1);
});
