// A small runtime schema for the JSON that crosses a process or network boundary (probe
// arguments and output, profile.json, evidence files): each schema checks a value and
// lists what is wrong with it, by path. No dependencies: it is bundled into the probe.
export type Schema = (v: unknown, at: string) => string[];

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}...` : s;
};
export const str: Schema = (v, at) => (typeof v === 'string' ? [] : [`${at}: expected a string, got ${show(v)}`]);
export const num: Schema = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? [] : [`${at}: expected a number, got ${show(v)}`]);
export const bool: Schema = (v, at) => (typeof v === 'boolean' ? [] : [`${at}: expected true or false, got ${show(v)}`]);
export const nul: Schema = (v, at) => (v === null || v === undefined ? [] : [`${at}: expected nothing, got ${show(v)}`]);
export const any: Schema = () => [];
export const oneOf =
  (...values: (string | number)[]): Schema =>
  (v, at) =>
    values.includes(v as string) ? [] : [`${at}: expected one of ${values.join(', ')}, got ${show(v)}`];
export const opt =
  (s: Schema): Schema =>
  (v, at) =>
    v === undefined ? [] : s(v, at);
export const arr =
  (s: Schema): Schema =>
  (v, at) =>
    Array.isArray(v) ? v.flatMap((x, i) => s(x, `${at}[${i}]`)) : [`${at}: expected a list, got ${show(v)}`];
export const obj =
  (fields: Record<string, Schema>): Schema =>
  (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${at}: expected an object, got ${show(v)}`];
    return Object.entries(fields).flatMap(([k, s]) => s((v as Record<string, unknown>)[k], `${at}.${k}`));
  };

/** Returns the value typed when it matches, else throws with every problem listed. */
export function check<T>(schema: Schema, v: unknown, what: string): T {
  const problems = schema(v, '$');
  if (problems.length)
    throw new Error(
      `${what} does not match its contract:\n  ${problems.slice(0, 10).join('\n  ')}${problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : ''}`,
    );
  return v as T;
}
