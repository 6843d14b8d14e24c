import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configJsonSchema } from './json-schema.js';

describe('configJsonSchema', { timeout: 10_000 }, () => {
  it('matches the checked-in schema/gateway.schema.json (run: node --import tsx scripts/gen-schema.mjs)', () => {
    const checkedIn: unknown = JSON.parse(readFileSync(new URL('../../schema/gateway.schema.json', import.meta.url), 'utf8'));
    assert.deepEqual(checkedIn, JSON.parse(JSON.stringify(configJsonSchema())));
  });

  it('is strict and documented', () => {
    const s = configJsonSchema() as {
      additionalProperties: unknown;
      properties: Record<string, { description?: string }>;
      $defs: Record<string, { additionalProperties?: unknown; properties?: Record<string, unknown> }>;
    };
    assert.equal(s.additionalProperties, false);
    assert.ok(s.properties.binds?.description);
    const ext = s.$defs.ExtProc;
    assert.equal(ext?.additionalProperties, false);
    for (const k of ['host', 'backend', 'failureMode', 'processingOptions', 'messageTimeout', 'statusOnError', 'conditional']) {
      assert.ok(ext?.properties?.[k], `ExtProc.${k}`);
    }
  });

  it('documents every field (.describe() feeds the schema docs)', () => {
    type Node = { [k: string]: unknown };
    const root = configJsonSchema() as Node;
    const defs = (root.$defs ?? {}) as Record<string, Node>;
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as Node;
      for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, Node>)) {
        const ref = typeof v.$ref === 'string' ? defs[v.$ref.split('/').pop() ?? ''] : undefined;
        if (v.description === undefined && ref?.description === undefined) missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
      for (const k of ['items', 'additionalProperties']) walk(n[k], `${path}[${k}]`);
      for (const k of ['anyOf', 'oneOf']) if (Array.isArray(n[k])) (n[k] as unknown[]).forEach((x, i) => walk(x, `${path}|${i}`));
    };
    walk(root, '');
    for (const [k, v] of Object.entries(defs)) walk(v, `$defs.${k}`);
    assert.deepEqual(missing, []);
  });
});
