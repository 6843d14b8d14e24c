import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'node:test';
import { normalizeConfig } from './normalize.js';
import { configSchema } from './schema.js';

const opts = { baseDir: '/cfg', env: {}, readFile: () => 'x' };

/** Random seed-shape configs: unique ports, listeners with unique names, routes with simple matches. */
const seedConfig = fc
  .uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 4 })
  .chain((ports) =>
    fc.record({
      binds: fc.tuple(
        ...ports.map((port) =>
          fc.record({
            port: fc.constant(port),
            listeners: fc.array(
              fc.record({
                routes: fc.array(
                  fc.record(
                    {
                      matches: fc.array(
                        fc.record({ path: fc.oneof(fc.record({ exact: fc.constantFrom('/', '/a', '/b/c') }), fc.record({ pathPrefix: fc.constantFrom('/', '/v1') })) }),
                        { minLength: 1, maxLength: 2 },
                      ),
                      backends: fc.array(fc.record({ host: fc.constantFrom('127.0.0.1:1', 'h:2', 'http://h', 'https://h:8443') }), { maxLength: 3 }),
                    },
                    { requiredKeys: ['backends'] },
                  ),
                  { maxLength: 4 },
                ),
              }),
              { maxLength: 3 },
            ),
          }),
        ),
      ),
    }),
  );

describe('normalizeConfig', { timeout: 30_000 }, () => {
  it('any valid seed-shape config normalizes: one bind per port, stable unique keys, defaults filled', () => {
    fc.assert(
      fc.property(seedConfig, (raw) => {
        const parsed = configSchema.parse(raw);
        const { model, issues } = normalizeConfig(parsed, opts);
        assert.deepEqual(issues, []);
        assert.ok(model);
        assert.deepEqual(model.binds.map((b) => b.port), raw.binds.map((b) => b.port));
        const keys = new Set<string>();
        for (const b of model.binds) {
          assert.equal(b.key, `bind/${b.port}`);
          for (const l of b.listeners) {
            assert.ok(!keys.has(l.key));
            keys.add(l.key);
            for (const r of l.routes) {
              assert.ok(r.key.startsWith(`${l.key}/default/route`), r.key);
              assert.ok(r.matches.length > 0);
              for (const wb of r.backends) assert.equal(wb.weight, 1);
            }
          }
        }
        assert.ok(Object.isFrozen(model.binds));
      }),
      { numRuns: 60 },
    );
  });

  it('a wildcard or empty listener hostname matches any host', () => {
    const raw = configSchema.parse({ binds: [{ port: 1, listeners: [{ name: 'a', hostname: '*' }, { name: 'b', hostname: 'API.Example.com' }] }] });
    const { model } = normalizeConfig(raw, opts);
    assert.equal(model?.binds[0]?.listeners[0]?.hostname, undefined);
    assert.equal(model?.binds[0]?.listeners[1]?.hostname, 'api.example.com');
  });

  it('listeners on one port cannot mix HTTP and HTTPS', () => {
    const raw = configSchema.parse({
      binds: [{ port: 1, listeners: [{ name: 'a' }, { name: 'b', tls: { cert: 'c.pem', key: 'k.pem' } }] }],
    });
    const { issues } = normalizeConfig(raw, { ...opts, readFile: () => '-----BEGIN X-----' });
    assert.ok(issues.some((i) => /mix HTTP and HTTPS/.test(i.message)), JSON.stringify(issues));
  });

  it('a shape-B gateway with listeners must not also set protocol/hostname/tls', () => {
    const raw = configSchema.parse({ gateways: { web: { port: 1, hostname: 'x', listeners: [{ name: 'a' }] } } });
    const { issues } = normalizeConfig(raw, opts);
    assert.ok(issues.some((i) => i.path.join('.') === 'gateways.web.hostname'), JSON.stringify(issues));
  });
});
