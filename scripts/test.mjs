// Runs the whole suite with node's test runner (Node 20 does not expand globs, so we list files ourselves).
// Unit tests sit beside the code (src/**/*.test.ts); integration tests live in test/**/*.test.ts.
// Usage: npm test [-- filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
let files = [...walk('src', []), ...walk('test', [])].sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The gateway under test is the compiled dist/ (what users run), so build first.
const build = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// tsx does not type-check; the tests and examples are checked here so a type error fails CI.
const check = spawnSync('npx', ['tsc', '--noEmit', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (check.status !== 0) process.exit(check.status ?? 1);
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...files],
  { stdio: 'inherit', env: { ...process.env, TOLLGATE_TEST: '1' } },
);
process.exit(r.status ?? 1);
