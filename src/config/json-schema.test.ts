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
});
