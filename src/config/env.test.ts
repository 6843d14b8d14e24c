import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'node:test';
import { EnvExpansionError, expandEnv } from './env.js';

describe('expandEnv', { timeout: 5000 }, () => {
  const env = { KEY: 'sk-123', EMPTY: '', A_1: 'x' };

  it('expands $NAME, ${NAME} and ${NAME:-default}', () => {
    assert.equal(expandEnv('k: $KEY', env), 'k: sk-123');
    assert.equal(expandEnv('k: "${KEY}-suffix"', env), 'k: "sk-123-suffix"');
    assert.equal(expandEnv('k: ${MISSING:-fallback}', env), 'k: fallback');
    assert.equal(expandEnv('k: ${KEY:-fallback}', env), 'k: sk-123');
    assert.equal(expandEnv('k: ${MISSING:-}', env), 'k: ');
    assert.equal(expandEnv('$A_1$A_1', env), 'xx');
  });

  it('a set-but-empty variable expands to empty, not to the default', () => {
    assert.equal(expandEnv('k: ${EMPTY:-d}', env), 'k: ');
  });

  it('leaves a $ not followed by a name character or { alone', () => {
    assert.equal(expandEnv('regex: "^/api/.*$"', env), 'regex: "^/api/.*$"');
    assert.equal(expandEnv('a: $ b: $-x $.', env), 'a: $ b: $-x $.');
  });

  it('does not re-expand expanded values', () => {
    assert.equal(expandEnv('$V', { V: '$KEY' }), '$KEY');
  });

  it('the yaml-language-server schema comment does not count as a reference', () => {
    const text = '# yaml-language-server: $schema=https://agentgateway.dev/schema/config\nbinds: []\n';
    assert.equal(expandEnv(text, {}), '#=https://agentgateway.dev/schema/config\nbinds: []\n');
  });

  it('an unset variable without default is an error naming it and its line', () => {
    assert.throws(
      () => expandEnv('a: 1\nb: 2\nkey: $OPEN_AI_APIKEY\n', {}),
      (err: unknown) =>
        err instanceof EnvExpansionError &&
        err.variable === 'OPEN_AI_APIKEY' &&
        err.line === 3 &&
        /environment variable not found: OPEN_AI_APIKEY/.test(err.message),
    );
  });

  it('references in comments are expanded too (agentgateway does the same)', () => {
    assert.throws(() => expandEnv('# uses $NOT_SET\n', {}), /NOT_SET/);
  });

  it('rejects an unterminated or malformed ${...}', () => {
    assert.throws(() => expandEnv('a: ${KEY', env), /unterminated/);
    assert.throws(() => expandEnv('a: ${K-EY}', env), /invalid environment variable reference/);
  });
});


describe('expandEnv properties', { timeout: 10_000 }, () => {
  it('text without $ is unchanged', () => {
    fc.assert(fc.property(fc.string().filter((s) => !s.includes('$')), (s) => expandEnv(s, {}) === s));
  });

  it('a reference expands to exactly the value, which is never expanded again', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string().filter((s) => !s.includes('$')), (value, before, after) => {
        const pre = before.replaceAll('$', '');
        return expandEnv(`${pre}\${V}${after}`, { V: value }) === `${pre}${value}${after}`;
      }),
    );
  });
});
