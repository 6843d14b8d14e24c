// tollgate benchmark (`npm run bench`): bounded (< 10 min), loopback only, every comparison in the same run.
// The system under test is pinned to CPU 0; upstream, ext_proc processor, wrk and this orchestrator (which also
// drives the full-duplex and SSE clients) run on CPU 1. Each wrk cell is the median of 3 runs of 4 s (the plain-proxy
// suite: 3 rounds of 2 s, then 3 freshly started pairs of tollgate and each peer co-run on one core; `--quick`: 1 run, shorter), the cells of a comparison interleaved in a random order per round. Writes bench/results/latest.json and latest.md. Needs Linux, taskset, Debian's wrk and nginx-light.
// Usage: npm run bench [-- --quick] [-- --only proxy|multicore] [-- --out DIR]
// BENCH_PROF_DIR=DIR also writes a CPU profile of each gateway and node peer (procs.mjs profFlags).
import { writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from './lib/procs.mjs';
import { pinnedSuites, multicoreSuite } from './lib/suites.mjs';
import { addRatios, targets, markdown } from './lib/report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const argv = process.argv.slice(2);
const arg = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const quick = argv.includes('--quick');
const only = arg('--only');
const outDir = arg('--out') ?? 'bench/results';
if (arg('--report')) {
  // Re-renders latest.md from a results JSON (after a report change), without measuring anything.
  const { readFileSync } = await import('node:fs');
  const saved = JSON.parse(readFileSync(arg('--report'), 'utf8'));
  addRatios(saved);
  saved.targets = targets(saved);
  console.log(render(saved));
  process.exit(0);
}
// 4 s runs keep the whole bench under 10 minutes now that the plain-proxy suite takes 3 rounds and 9 co-run pairs, and the multi-core suite 7 rounds of 3 s (it ran 594 s with 5 s runs).
const cfg = { quick, runs: quick ? 1 : 3, seconds: quick ? 2 : 4, warmup: quick ? 1 : 2, shuffle: true };

// A fresh machine may lack the load generator and the C reference proxy: as root (as here and in CI) install
// Debian's packages; otherwise say exactly what is missing instead of failing half-way through.
ensureTools();
function ensureTools() {
  const have = (cmd) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const missing = [['wrk', 'wrk'], ['/usr/sbin/nginx', 'nginx-light'], ['taskset', 'util-linux']].filter(([c]) => !have(c)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`npm run bench needs: ${missing.join(', ')} (sudo apt-get install -y ${missing.join(' ')})`);
    process.exit(2);
  }
  console.error(`installing ${missing.join(', ')} with apt-get`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
const WATCHDOG_MS = 14 * 60_000;

/** The results file: the report plus how it was produced. */
function render(o) {
  return `# tollgate benchmark results\n\n${markdown(o)}\nRun time: ${o.durationS} s (\`npm run bench${o.config.quick ? ' -- --quick' : ''}\`).\n`;
}

function cleanupAndExit(code, why) {
  if (why) console.error(why);
  killAll();
  process.exit(code);
}
process.on('SIGINT', () => cleanupAndExit(130, 'interrupted; children killed'));
process.on('SIGTERM', () => cleanupAndExit(143, 'terminated; children killed'));
process.on('uncaughtException', (err) => cleanupAndExit(1, `bench crashed: ${err.stack ?? err}`));
process.on('exit', () => killAll());
setTimeout(() => cleanupAndExit(1, `bench exceeded ${WATCHDOG_MS / 60000} min; children killed`), WATCHDOG_MS).unref();

for (const tool of ['taskset', 'wrk', '/usr/sbin/nginx']) {
  try {
    execFileSync(tool.startsWith('/') ? tool : 'which', tool.startsWith('/') ? ['-v'] : [tool], { stdio: 'ignore' });
  } catch {
    cleanupAndExit(2, `bench needs ${tool} (Debian: util-linux, wrk, nginx-light)`);
  }
}
if (cpus().length < 2) cleanupAndExit(2, 'bench needs 2 CPUs (system under test on CPU 0, load on CPU 1)');
if (!existsSync('dist/main.js')) {
  console.error('dist/ missing: running npm run build');
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit', timeout: 300_000 });
}
// The orchestrator drives the full-duplex and SSE clients itself: keep all its threads on the load core.
execFileSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' });

const git = (...a) => {
  try {
    return execFileSync('git', a, { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
};
const out = {
  date: new Date().toISOString(),
  // BENCH_COMMIT: set when benchmarking a clean export of a commit (no .git there).
  commit: process.env.BENCH_COMMIT ?? git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', 'src').length ? ' (+ uncommitted src changes)' : ''),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    wrk: execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1 || true'], { encoding: 'utf8' }).trim(),
    nginx: execFileSync('sh', ['-c', '/usr/sbin/nginx -v 2>&1 || true'], { encoding: 'utf8' }).trim(),
  },
  config: cfg,
  loadavgStart: loadavg(),
  rows: [],
  failures: [],
};
const t0 = Date.now();
const suites = [['pinned', pinnedSuites], ['multicore', multicoreSuite]].filter(([name]) => !only || name === only || (only === 'proxy' && name === 'pinned'));
for (const [name, run] of suites) {
  try {
    await run(cfg, out);
  } catch (err) {
    console.error(`suite ${name} failed: ${err.stack ?? err}`);
    out.failures.push(`${name}: ${String(err.message ?? err).split('\n')[0]}`);
    killAll();
  }
}
out.loadavgEnd = loadavg();
out.durationS = Math.round((Date.now() - t0) / 1000);
addRatios(out);
out.targets = targets(out);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(out, null, 2) + '\n');
const md = render(out);
writeFileSync(join(outDir, 'latest.md'), md);
console.log(md);
console.error(`done in ${out.durationS} s; wrote ${outDir}/latest.json and latest.md`);
process.exit(out.failures.length ? 1 : 0);
