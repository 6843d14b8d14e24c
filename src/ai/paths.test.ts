import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { routeTypeFor, splitPath, upstreamPath, type PathConfig } from './paths.js';

const none: PathConfig = { hostOverride: undefined, pathOverride: undefined, pathPrefix: undefined };

test('route type by path suffix; anything else is chat completions', () => {
  assert.equal(routeTypeFor('/v1/chat/completions'), 'completions');
  assert.equal(routeTypeFor('/openai/v1/chat/completions?x=1'), 'completions');
  assert.equal(routeTypeFor('/v1/embeddings'), 'embeddings');
  assert.equal(routeTypeFor('/v1/responses'), 'responses');
  assert.equal(routeTypeFor('/v1/models'), 'models');
  assert.equal(routeTypeFor('/v1/models/gpt-4o/'), 'models');
  assert.equal(routeTypeFor('/v1/models/ft:gpt-4o:org:x'), 'models');
  assert.equal(routeTypeFor('/anything'), 'completions');
  assert.equal(routeTypeFor('/'), 'completions');
  assert.equal(routeTypeFor('/v1/models', 'GET'), 'models');
  assert.equal(routeTypeFor('/v1/responses/resp_1', 'GET'), 'passthrough');
  assert.equal(routeTypeFor('/v1/chat/completions/c1', 'DELETE'), 'passthrough');
});

test('passthrough keeps the client path; pathPrefix replaces only a leading /v1', () => {
  assert.equal(upstreamPath(none, 'passthrough', '/v1/responses/r1?x=1'), '/v1/responses/r1?x=1');
  assert.equal(upstreamPath({ ...none, pathPrefix: '/openai/v1/' }, 'passthrough', '/v1/responses/r1?x=1'), '/openai/v1/responses/r1?x=1');
  assert.equal(upstreamPath({ ...none, pathPrefix: '/p' }, 'passthrough', '/other/r1'), '/other/r1');
});

test('default target: /v1 + the type suffix, query kept', () => {
  assert.equal(upstreamPath(none, 'completions', '/openai/v1/chat/completions?a=1&b=2'), '/v1/chat/completions?a=1&b=2');
  assert.equal(upstreamPath(none, 'completions', '/chat'), '/v1/chat/completions');
  assert.equal(upstreamPath(none, 'embeddings', '/x/v1/embeddings'), '/v1/embeddings');
  assert.equal(upstreamPath(none, 'responses', '/v1/responses'), '/v1/responses');
  assert.equal(upstreamPath(none, 'models', '/llm/v1/models'), '/v1/models');
  assert.equal(upstreamPath(none, 'models', '/llm/v1/models/gpt-4o?x'), '/v1/models/gpt-4o?x');
});

test('hostOverride keeps the client path and query unchanged', () => {
  const cfg = { ...none, hostOverride: '127.0.0.1:8080' };
  assert.equal(upstreamPath(cfg, 'completions', '/custom/chat?q=1'), '/custom/chat?q=1');
});

test('pathPrefix replaces /v1 (trailing slash trimmed), with or without hostOverride', () => {
  assert.equal(upstreamPath({ ...none, pathPrefix: '/openai/v1/' }, 'completions', '/v1/chat/completions?k=v'), '/openai/v1/chat/completions?k=v');
  assert.equal(upstreamPath({ ...none, pathPrefix: 'api', hostOverride: 'h:1' }, 'embeddings', '/v1/embeddings'), '/api/embeddings');
});

test('pathOverride replaces path and query verbatim', () => {
  const cfg = { ...none, pathOverride: '/deploy/chat?api-version=1', hostOverride: 'h:1', pathPrefix: '/p' };
  assert.equal(upstreamPath(cfg, 'completions', '/v1/chat/completions?mine=1'), '/deploy/chat?api-version=1');
});

test('property: the computed path always keeps the client query string', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('/v1/chat/completions', '/v1/embeddings', '/v1/models', '/v1/responses', '/x'),
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[#?]/g, '')),
      fc.constantFrom('POST', 'GET', 'DELETE'),
      (p, q, method) => {
        const client = `${p}?${q}`;
        const type = routeTypeFor(client, method);
        const out = upstreamPath(none, type, client);
        assert.equal(splitPath(out)[1], `?${q}`);
        if (type === 'passthrough') assert.equal(out, client);
        else assert.ok(out.startsWith('/v1/'));
      },
    ),
  );
});
