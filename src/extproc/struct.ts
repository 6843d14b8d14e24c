/**
 * google.protobuf.Struct ⇄ plain JSON values, for `dynamic_metadata` (in) and `metadata_context` /
 * `attributes` (out). Pure; no I/O.
 */
import type { google } from './gen/ext_proc.js';

type IStruct = google.protobuf.IStruct;
type IValue = google.protobuf.IValue;

/** Converts a Struct to a plain object (nested structs and lists included). */
export function structToJson(s: IStruct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: IValue | null | undefined): unknown {
  if (v == null) return null;
  if (v.structValue != null) return structToJson(v.structValue);
  if (v.listValue != null) return (v.listValue.values ?? []).map(valueToJson);
  if (v.stringValue != null) return v.stringValue;
  if (v.numberValue != null) return v.numberValue;
  if (v.boolValue != null) return v.boolValue;
  return null;
}

/** Converts a plain object to a Struct (non-JSON values become strings; undefined is dropped). */
export function jsonToStruct(obj: Readonly<Record<string, unknown>>): IStruct {
  const fields: Record<string, IValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): IValue {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'bigint') return { numberValue: Number(v) };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  if (typeof v === 'object') return { structValue: jsonToStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}
