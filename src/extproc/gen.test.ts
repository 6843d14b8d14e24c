// Drift check: the committed generated codecs must equal a fresh run of scripts/gen.mjs on proto/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

test('src/extproc/gen matches a fresh `node scripts/gen.mjs` (run `npm run gen` after editing proto/)', { timeout: 60_000 }, (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tg-gen-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, ['scripts/gen.mjs', out], { cwd: root, stdio: 'pipe' });
  for (const f of ['ext_proc.js', 'ext_proc.d.ts']) {
    const fresh = readFileSync(join(out, f), 'utf8');
    const committed = readFileSync(join(root, 'src/extproc/gen', f), 'utf8');
    assert.ok(fresh === committed, `src/extproc/gen/${f} is stale: run \`npm run gen\` and commit the result`);
  }
});
