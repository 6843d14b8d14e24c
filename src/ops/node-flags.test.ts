import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_FLAGS, missingNodeFlags } from './node-flags.js';

const launcher = fileURLToPath(new URL('../../bin/tollgate.js', import.meta.url));

describe('gateway V8 flags', { timeout: 20_000 }, () => {
  it('the launcher shebang carries exactly GATEWAY_NODE_FLAGS', () => {
    const shebang = readFileSync(launcher, 'utf8').split('\n')[0]!;
    assert.match(shebang, /^#!\/usr\/bin\/env -S node( |$)/);
    assert.deepEqual(shebang.replace('#!/usr/bin/env -S node', '').trim().split(/\s+/).filter(Boolean), [...GATEWAY_NODE_FLAGS]);
  });

  it('the launcher runs through its shebang (env -S) with the flags applied', (t) => {
    // A preload (NODE_OPTIONS --require) runs inside the node the shebang started and reports its execArgv.
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-flags-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const probe = join(dir, 'probe.cjs');
    writeFileSync(probe, 'process.stderr.write("EXECARGV " + JSON.stringify(process.execArgv) + "\\n");\n');
    const r = spawnSync(launcher, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--require ${probe}` } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^tollgate \d+\.\d+\.\d+/);
    const line = r.stderr.split('\n').find((l) => l.startsWith('EXECARGV '));
    assert.ok(line, r.stderr);
    assert.deepEqual(JSON.parse(line.slice('EXECARGV '.length)), [...GATEWAY_NODE_FLAGS]);
  });

  it('missingNodeFlags reads argv and NODE_OPTIONS, with - or _ spellings', () => {
    assert.deepEqual(missingNodeFlags([], ''), [...GATEWAY_NODE_FLAGS]);
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=64', '--single-threaded-gc', '--no-allocation-site-pretenuring'], ''), []);
    assert.deepEqual(missingNodeFlags(['--single-threaded-gc'], '--max_semi_space_size=16 --no_allocation_site_pretenuring --enable-source-maps'), []);
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=64', '--no-allocation-site-pretenuring'], ''), ['--single-threaded-gc']);
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=64', '--single-threaded-gc'], ''), ['--no-allocation-site-pretenuring']);
    assert.deepEqual(missingNodeFlags(['--max-old-space-size=512'], ''), [...GATEWAY_NODE_FLAGS]);
  });
});
