/**
 * The JSON Schema for config files, generated from the same zod schema the loader validates with.
 * `tollgate schema` prints it; schema/gateway.schema.json is the checked-in copy (scripts/gen-schema.mjs).
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

/** The JSON Schema (draft 2020-12) of the config file. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  return { ...schema, title: 'tollgate config' };
}
