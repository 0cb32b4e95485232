// A small runtime schema for the JSON that crosses a process or network boundary (probe
// arguments and output, profile.json, evidence files): each schema checks a value and
// lists what is wrong with it, by path. No dependencies: it is bundled into the probe.
export type Schema = (v: unknown, at: string) => string[];

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}...` : s;
};
// Each schema also describes itself as JSON Schema (jsonSchemaOf), so that a published
// schema (docs/results.schema.json) is the one the readers check against.
const JSON_OF = new WeakMap<Schema, Record<string, unknown>>();
const OPTIONAL = new WeakSet<Schema>();
const described = (s: Schema, json: Record<string, unknown>): Schema => {
  JSON_OF.set(s, json);
  return s;
};
/** The JSON Schema (draft 2020-12 keywords) a schema checks. */
export const jsonSchemaOf = (s: Schema): Record<string, unknown> => JSON_OF.get(s) ?? {};

export const str: Schema = described((v, at) => (typeof v === 'string' ? [] : [`${at}: expected a string, got ${show(v)}`]), {
  type: 'string',
});
export const num: Schema = described(
  (v, at) => (typeof v === 'number' && Number.isFinite(v) ? [] : [`${at}: expected a number, got ${show(v)}`]),
  { type: 'number' },
);
export const bool: Schema = described((v, at) => (typeof v === 'boolean' ? [] : [`${at}: expected true or false, got ${show(v)}`]), {
  type: 'boolean',
});
export const nul: Schema = described((v, at) => (v === null || v === undefined ? [] : [`${at}: expected nothing, got ${show(v)}`]), {
  type: 'null',
});
export const any: Schema = described(() => [], {});
export const oneOf = (...values: (string | number)[]): Schema =>
  described((v, at) => (values.includes(v as string) ? [] : [`${at}: expected one of ${values.join(', ')}, got ${show(v)}`]), {
    enum: values,
  });
export const opt = (s: Schema): Schema => {
  const o = described((v, at) => (v === undefined ? [] : s(v, at)), jsonSchemaOf(s));
  OPTIONAL.add(o);
  return o;
};
export const arr = (s: Schema): Schema =>
  described((v, at) => (Array.isArray(v) ? v.flatMap((x, i) => s(x, `${at}[${i}]`)) : [`${at}: expected a list, got ${show(v)}`]), {
    type: 'array',
    items: jsonSchemaOf(s),
  });
/** An object whose every value matches s (a map by name). */
export const rec = (s: Schema): Schema =>
  described(
    (v, at) =>
      typeof v !== 'object' || v === null || Array.isArray(v)
        ? [`${at}: expected an object, got ${show(v)}`]
        : Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => s(x, `${at}.${k}`)),
    { type: 'object', additionalProperties: jsonSchemaOf(s) },
  );
export const obj = (fields: Record<string, Schema>): Schema =>
  described(
    (v, at) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${at}: expected an object, got ${show(v)}`];
      return Object.entries(fields).flatMap(([k, s]) => s((v as Record<string, unknown>)[k], `${at}.${k}`));
    },
    {
      type: 'object',
      properties: Object.fromEntries(Object.entries(fields).map(([k, s]) => [k, jsonSchemaOf(s)])),
      required: Object.keys(fields).filter((k) => !OPTIONAL.has(fields[k]!)),
    },
  );

/** Returns the value typed when it matches, else throws with every problem listed. */
export function check<T>(schema: Schema, v: unknown, what: string): T {
  const problems = schema(v, '$');
  if (problems.length)
    throw new Error(
      `${what} does not match its contract:\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : ''}`,
    );
  return v as T;
}
