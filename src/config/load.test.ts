import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, loadConfigText } from './load.js';
import type { GatewayModel, Listener, Route } from './model.js';

const load = (text: string, env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  loadConfigText(text, {
    env,
    baseDir: '/cfg',
    readFile: (p) => {
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return v;
    },
  });

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
};

const listener = (m: GatewayModel, i = 0): Listener => {
  const l = m.binds[0]?.listeners[i];
  assert.ok(l);
  return l;
};
const route = (l: Listener, name: string): Route => {
  const r = l.routes.find((x) => x.name === name);
  assert.ok(r, name);
  return r;
};
const extProcHost = (p: Listener['policies']['extProc']) => (p?.kind === 'static' ? p.config.target.display : undefined);

describe('loadConfigText', { timeout: 10_000 }, () => {
  it('secrets are revealed only on purpose: JSON, String and inspect redact them', () => {
    const m = load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - policies:\n        backendAuth:\n          key: $KEY\n', {
      KEY: 'sk-live-very-secret',
    });
    const auth = route(listener(m), 'route0').policies.backendAuth;
    assert.equal(auth?.kind, 'key');
    if (auth?.kind !== 'key') return;
    assert.equal(auth.key.reveal(), 'sk-live-very-secret');
    for (const text of [JSON.stringify(m), String(auth.key), inspect(m, { depth: 20 })]) {
      assert.ok(!text.includes('sk-live-very-secret'), text.slice(0, 200));
    }
  });

  it('{file} secrets are read relative to the config dir and trimmed', () => {
    const m = load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - policies:\n        backendAuth:\n          key: {file: k.txt}\n', {}, {
      '/cfg/k.txt': '  from-file\n',
    });
    const auth = route(listener(m), 'route0').policies.backendAuth;
    assert.ok(auth?.kind === 'key');
    assert.equal(auth.key.reveal(), 'from-file');
    assert.equal(auth.key.origin, 'file:/cfg/k.txt');
  });

  it('error messages never echo a secret value', () => {
    const err = errorOf(() => load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - policies:\n        backendAuth:\n          key: [sk-live-leak]\n'));
    assert.match(err.message, /backendAuth\.key/);
    assert.ok(!err.message.includes('sk-live-leak'), err.message);
  });

  it('the model is deeply frozen', () => {
    const m = load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - matches: [{path: {regex: "/a.*"}}]\n');
    const r = route(listener(m), 'route0');
    assert.throws(() => {
      (r as { name: string }).name = 'x';
    }, TypeError);
    assert.throws(() => {
      (r.matches as unknown[]).push({});
    }, TypeError);
    const p = r.matches[0]?.path;
    assert.ok(p?.kind === 'regex');
    assert.equal(p.regex.test('/abc'), true);
    assert.equal(p.regex.test('/x/abc'), false, 'regexes match the whole path');
  });

  it('ADMIN_ADDR / STATS_ADDR / READINESS_ADDR override config, and "off" disables', () => {
    const m = load('config:\n  adminAddr: 0.0.0.0:1\n  statsAddr: 0.0.0.0:2\nbinds: []\n', {
      ADMIN_ADDR: '127.0.0.1:15555',
      STATS_ADDR: 'off',
      READINESS_ADDR: 'localhost:0',
    });
    assert.deepEqual(m.config.adminAddr, { host: '127.0.0.1', port: 15555 });
    assert.equal(m.config.statsAddr, null);
    assert.deepEqual(m.config.readinessAddr, { host: 'localhost', port: 0 }, 'port 0: the OS picks');
  });

  it('seed gatewayPolicies: a listener-targeted policy beats a gateway-targeted one, inline beats both', () => {
    const m = load(`
binds:
- port: 3000
  listeners:
  - name: a
    gatewayName: gw
  - name: b
    gatewayName: gw
    hostname: b.example.com
  - name: c
    gatewayName: gw
    hostname: c.example.com
    policies:
      extProc: {host: "inline:1"}
gatewayPolicies:
- name: all
  target: {gateway: gw}
  policy: {extProc: {host: "gw:1"}}
- name: just-b
  target: {listener: b}
  policy: {extProc: {host: "b:1"}}
`);
    assert.equal(extProcHost(listener(m, 0).policies.extProc), 'gw:1');
    assert.equal(extProcHost(listener(m, 1).policies.extProc), 'b:1');
    assert.equal(extProcHost(listener(m, 2).policies.extProc), 'inline:1');
  });

  it('route phase: inline beats route-targeted beats gateway-targeted; gateway phase stays on the listener', () => {
    const m = load(`
gateways:
  default:
    port: 3000
    extProc: {host: "listener:1"}
routes:
- name: inline
  policies: {extProc: {host: "inline:1"}}
- name: targeted
- name: plain
policies:
- name: p1
  target: {gateway: {gatewayName: default}}
  policy: {extProc: {host: "gw-route-phase:1"}}
- name: p2
  target: {route: {name: targeted}}
  policy: {extProc: {host: "route-targeted:1"}}
`);
    const l = listener(m);
    assert.equal(extProcHost(l.policies.extProc), 'listener:1');
    assert.equal(extProcHost(route(l, 'inline').policies.extProc), 'inline:1');
    assert.equal(extProcHost(route(l, 'targeted').policies.extProc), 'route-targeted:1');
    assert.equal(extProcHost(route(l, 'plain').policies.extProc), 'gw-route-phase:1');
  });

  it('a gateway-phase top-level policy must be a gateway-phase kind', () => {
    const err = errorOf(() =>
      load(`
gateways: {default: {port: 3000}}
policies:
- name: p
  phase: gateway
  target: {gateway: {gatewayName: default}}
  policy: {timeout: {requestTimeout: 1s}}
`),
    );
    assert.match(err.message, /policies\[0\]\.policy\.timeout: timeout cannot run in the gateway phase/);
  });

  it('route backendAuth/backendTLS are pushed to backends; the backend own policy wins', () => {
    const m = load(`
binds:
- port: 3000
  listeners:
  - routes:
    - backends:
      - host: a:1
      - host: b:1
        policies:
          backendAuth: {passthrough: {}}
      policies:
        backendAuth: {key: route-key}
        backendTLS: {}
`);
    const [a, b] = route(listener(m), 'route0').backends;
    assert.equal(a?.policies.backendAuth?.kind, 'key');
    assert.equal(b?.policies.backendAuth?.kind, 'passthrough');
    assert.equal(a?.backend.kind === 'host' && a.backend.scheme, 'https', 'backendTLS makes the backend TLS');
  });

  it('an ai backend with hostOverride dials plaintext; without it api.openai.com:443 over TLS', () => {
    const m = load(`
binds:
- port: 3000
  listeners:
  - routes:
    - name: local
      backends: [{ai: {name: l, provider: {openAI: {}}, hostOverride: "127.0.0.1:8089"}}]
    - name: remote
      backends: [{ai: {name: r, provider: {openAI: {model: gpt-4o}}}}]
`);
    const local = route(listener(m), 'local').backends[0]?.backend;
    const remote = route(listener(m), 'remote').backends[0]?.backend;
    assert.ok(local?.kind === 'ai' && remote?.kind === 'ai');
    assert.deepEqual(local.target, { scheme: 'http', host: '127.0.0.1', port: 8089 });
    assert.deepEqual(remote.target, { scheme: 'https', host: 'api.openai.com', port: 443 });
    assert.equal(remote.provider.model, 'gpt-4o');
  });

  it('extProc defaults follow SPEC §2', () => {
    const m = load('gateways:\n  default:\n    port: 3000\n    extProc: {host: "p:9"}\n');
    const ep = listener(m).policies.extProc;
    assert.ok(ep?.kind === 'static');
    assert.deepEqual(
      { ...ep.config, target: undefined },
      {
        target: undefined,
        failureMode: 'failClosed',
        processingOptions: {
          requestHeaderMode: 'send',
          responseHeaderMode: 'send',
          requestBodyMode: 'fullDuplexStreamed',
          responseBodyMode: 'fullDuplexStreamed',
          requestTrailerMode: 'send',
          responseTrailerMode: 'send',
          allowModeOverride: false,
        },
        messageTimeoutMs: 10_000,
        statusOnError: 500,
        metadataContext: undefined,
        requestAttributes: undefined,
        responseAttributes: undefined,
      },
    );
  });

  it('reports every problem at once, each with path and position', () => {
    const err = errorOf(() =>
      load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - backends: [{host: nope}]\n      policies:\n        extProc: {host: "x:1", statusOnError: 700}\n'),
    );
    assert.equal(err.issues.length, 1, 'schema errors stop before normalization');
    const err2 = errorOf(() =>
      load('binds:\n- port: 3000\n  listeners:\n  - routes:\n    - backends: [{host: nope}]\n      matches: [{path: {regex: "("}}]\n'),
    );
    assert.equal(err2.issues.length, 2);
    assert.ok(err2.issues.every((i) => i.line !== undefined && i.message.startsWith(i.path)));
  });

  it('a duration past what a timer can wait is refused (node would fire it after 1 ms)', () => {
    const route = (policies: string) => `binds:\n- port: 3000\n  listeners:\n  - routes:\n    - backends: [{host: "127.0.0.1:1"}]\n      policies: ${policies}\n`;
    const err = errorOf(() => load(route('{timeout: {requestTimeout: 600h}, extProc: {host: "127.0.0.1:2", messageTimeout: 597h}}')));
    assert.deepEqual(err.issues.map((i) => i.path), ['binds[0].listeners[0].routes[0].policies.timeout.requestTimeout', 'binds[0].listeners[0].routes[0].policies.extProc.messageTimeout']);
    assert.ok(err.issues.every((i) => /is too long; the most a timer can wait is 2147483647ms/.test(i.message)), err.message);
    // Right at the limit is fine.
    load(route('{timeout: {requestTimeout: 2147483647ms}}'));
  });
});
