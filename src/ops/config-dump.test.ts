import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDump, REDACTED } from './config-dump.js';
import type { GatewayModel, Secret } from '../config/model.js';

function secret(value: string): Secret {
  return { kind: 'secret', origin: 'inline', reveal: () => value, toJSON: () => value /* deliberately leaky */ };
}

test('secrets are redacted even when their toJSON would leak; RegExp and CEL become source text', () => {
  const model = {
    config: { adminAddr: null },
    binds: [
      {
        key: 'bind/3000',
        auth: { kind: 'key', key: secret('sk-very-secret'), header: 'authorization' },
        regex: /^\/v[0-9]+$/,
        cel: { source: 'request.path == "/"', evaluate: () => true },
        fn: () => 1,
        missing: undefined,
        nested: [secret('another-secret'), new Map([['k', secret('map-secret')]])],
      },
    ],
  } as unknown as GatewayModel;
  const text = JSON.stringify(configDump(model));
  assert.ok(!text.includes('sk-very-secret'));
  assert.ok(!text.includes('another-secret'));
  assert.ok(!text.includes('map-secret'));
  const dump = JSON.parse(text) as { binds: Record<string, unknown>[] };
  const b = dump.binds[0]!;
  assert.deepEqual(b.auth, { kind: 'key', key: REDACTED, header: 'authorization' });
  assert.equal(b.regex, '^\\/v[0-9]+$');
  assert.equal(b.cel, 'request.path == "/"');
  assert.ok(!('fn' in b));
  assert.ok(!('missing' in b));
  assert.deepEqual(b.nested, [REDACTED, { k: REDACTED }]);
});

test('shared (non-cyclic) objects are dumped twice and cycles do not hang', () => {
  const shared = { a: 1 };
  const cyclic: Record<string, unknown> = { shared, again: shared };
  cyclic.self = cyclic;
  const dump = configDump(cyclic as unknown as GatewayModel) as Record<string, unknown>;
  assert.deepEqual(dump.shared, { a: 1 });
  assert.deepEqual(dump.again, { a: 1 });
  assert.equal(dump.self, '<cycle>');
});

test('header values set or matched for credential headers are redacted, other headers are not', () => {
  const model = {
    binds: [
      {
        requestHeaderModifier: {
          set: [
            { name: 'Authorization', value: 'Bearer sk-inline-header-9999' },
            { name: 'x-team', value: 'blue' },
          ],
        },
        matches: [{ headers: [{ name: 'x-api-key', value: { kind: 'exact', value: 'k-123456' } }] }],
      },
    ],
  } as unknown as GatewayModel;
  const text = JSON.stringify(configDump(model));
  assert.ok(!text.includes('sk-inline-header-9999'));
  assert.ok(!text.includes('k-123456'));
  assert.match(text, /"name":"Authorization","value":"<redacted>"/);
  assert.match(text, /"name":"x-team","value":"blue"/);
  assert.match(text, /"name":"x-api-key","value":"<redacted>"/);
});
