// Regenerates schema/gateway.schema.json from the zod config schema (src/config/schema.ts).
// Usage: node --import tsx scripts/gen-schema.mjs   (a test fails when the checked-in copy is stale)
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/json-schema.ts';

const out = new URL('../schema/gateway.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify(configJsonSchema(), null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
