/**
 * Config fixtures: every valid config normalizes to its checked-in snapshot (UPDATE_SNAPSHOTS=1 rewrites
 * them), and every invalid config fails with the text in its `.expected.txt` (each line must appear).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from '../src/config/load.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = (kind: string) => join(root, 'test', 'fixtures', 'configs', kind);
const isConfig = (f: string) => /\.(ya?ml|json)$/.test(f) && !f.endsWith('.snapshot.json');

/** Environment the fixtures are loaded with (the seed config references $OPEN_AI_APIKEY). */
const env = { OPEN_AI_APIKEY: 'sk-seed-test-key' };

/** A stable rendering of the model: secrets redacted, RegExp and CEL as source, no machine-specific paths. */
export function renderModel(model: unknown): string {
  const json = JSON.stringify(
    model,
    function (this: unknown, key: string, value: unknown) {
      if (value === undefined) return null;
      if (value instanceof RegExp) return `/${value.source}/`;
      if (typeof value === 'string' && value.includes('-----BEGIN')) return `<PEM ${key}>`;
      return value;
    },
    2,
  );
  return json.split(root).join('<repo>/') + '\n';
}

describe('valid config fixtures', { timeout: 30_000 }, () => {
  const files = readdirSync(dir('valid')).filter(isConfig).sort();
  it('there are at least 12', () => assert.ok(files.length >= 12, `${files.length} fixtures`));
  for (const f of files) {
    it(`${f} normalizes to its snapshot`, () => {
      const model = loadConfigFile(join(dir('valid'), f), { env, source: f });
      const rendered = renderModel(model);
      assert.ok(!rendered.includes(env.OPEN_AI_APIKEY) && !rendered.includes('sk-test-from-file'), 'a secret leaked');
      assert.ok(Object.isFrozen(model), 'model is frozen');
      const snap = join(dir('valid'), `${basename(f).replace(/\.(ya?ml|json)$/, '')}.snapshot.json`);
      if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(snap)) {
        if (process.env.UPDATE_SNAPSHOTS !== '1') assert.fail(`missing snapshot ${snap}; run with UPDATE_SNAPSHOTS=1`);
        writeFileSync(snap, rendered);
        return;
      }
      assert.equal(rendered, readFileSync(snap, 'utf8'));
    });
  }
});

describe('invalid config fixtures', { timeout: 30_000 }, () => {
  const files = readdirSync(dir('invalid')).filter(isConfig).sort();
  it('there are at least 18', () => assert.ok(files.length >= 18, `${files.length} fixtures`));
  for (const f of files) {
    it(`${f} fails with the expected error`, () => {
      const expectedFile = join(dir('invalid'), `${basename(f).replace(/\.(ya?ml|json)$/, '')}.expected.txt`);
      const expected = readFileSync(expectedFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
      assert.ok(expected.length > 0, 'expected file is empty');
      let err: unknown;
      try {
        loadConfigFile(join(dir('invalid'), f), { env, source: f });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      for (const line of expected) assert.ok(err.message.includes(line), `missing ${JSON.stringify(line)} in:\n${err.message}`);
      for (const i of err.issues) assert.ok(i.path.length > 0 && i.message.length > 0);
    });
  }
});
