/**
 * Throw-away files for tests: a temp directory removed when the test ends, and self-signed certificates made
 * with the openssl CLI (tests that need one skip when it is not installed).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** Creates a fresh directory under the OS temp dir, removed with everything in it when the test ends. */
export function tempDir(t: Pick<TestContext, 'after'>, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Whether the openssl CLI can be run (certificate tests skip without it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a one-day self-signed P-256 certificate with subject CN `cn` (and its unencrypted key) to the given
 * paths; `ipSan` adds an IP subjectAltName so clients that verify the host accept it for that address.
 */
export function makeSelfSignedCert(certPath: string, keyPath: string, cn: string, opts: { readonly ipSan?: string } = {}): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${cn}`, ...(opts.ipSan === undefined ? [] : ['-addext', `subjectAltName=IP:${opts.ipSan}`]),
    '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' });
}
