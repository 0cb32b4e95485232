// The checking vocabulary of the suites: every assertion names its question (what was
// asked, from which client on which node, to which target, over which protocol) and
// fails with the expected and the observed answer, so that a failure needs no rerun (as
// the DNS checks' DnsMismatch does). The first line of a failure says alone what failed
// (the check harness prints only that line for a warning); the lines after it give the
// question and both answers in full, compact and in a stable order.
//
//   a Pod reaches itself through its own Service (hairpin): 3 of 3 connections differ from the expected "web-api-7d9f": observed "ETIMEDOUT after 3000 ms" (3)
//     question: from web-api-7d9f on node kind-worker to 10.96.12.7:80 over tcp
//     expected: ["web-api-7d9f","web-api-7d9f","web-api-7d9f"]
//     observed: ["ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms"]
//
// Answers per client (one per probe or node) are rows (expectRows): one line each, the
// rows that differ marked '!', the others '='.
import { isDeepStrictEqual } from 'node:util';

/** What a check asked, in words a reader needs no rerun for. */
export interface Question {
  /** The claim asked about: 'a Pod reaches itself through its own Service (hairpin)'. */
  what: string;
  /** The Pod that asked (namespace/pod when not in the suite's namespace: fromProbe), or
   *  'this machine' (a client outside the cluster, or the API reader). */
  client?: string;
  /** The client's node. */
  node?: string;
  /** What was asked: host:port, a DNS name and type at a server, an API object (ns/Kind/name). */
  target: string;
  /** tcp, udp, http, grpc, dns, api, ... */
  protocol: string;
  /** What one entry of an observed list is, plural ('connections', 'answers'): names the
   *  counts in the first line. Default 'entries'. */
  unit?: string;
}

/** One client's (or one target's) part of a check whose answer is one per probe or node:
 *  its own client, node or target (the question's are not repeated), and either the
 *  expected and observed answer (compared as `same` does) or, with `ok`, a predicate's
 *  verdict, the expectation in words and what was observed. */
export interface Row {
  client?: string;
  node?: string;
  target?: string;
  expected: unknown;
  observed: unknown;
  ok?: boolean;
}

export class CheckFailure extends Error {
  readonly question: Question;
  readonly expected: unknown;
  readonly observed: unknown;

  constructor(question: Question, message: string, expected: unknown, observed: unknown) {
    super(message);
    this.name = 'CheckFailure';
    this.question = question;
    this.expected = expected;
    this.observed = observed;
  }
}

/** The client fields of a question for a probe Pod: its name (with its namespace when that
 *  is not the suite's) and its node. */
export function fromProbe(p: { ns: string; pod: string; node: string }, suiteNs?: string): { client: string; node: string } {
  return { client: p.ns === suiteNs ? p.pod : `${p.ns}/${p.pod}`, node: p.node };
}

// ------------------------------------------------------------------------- equality

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.prototype.toString.call(v) === '[object Object]';

/** The value as Jest's toEqual sees it: an object property whose value is undefined is
 *  absent, an array's undefined entries are holes (so trailing ones do not count), and an
 *  object's class does not matter. */
function normal(v: unknown, seen: Set<unknown> = new Set()): unknown {
  if (typeof v !== 'object' || v === null || seen.has(v)) return v;
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      const out = Array.from(v as unknown[], (x) => normal(x, seen));
      while (out.length && out[out.length - 1] === undefined) out.pop();
      return out;
    }
    if (isRecord(v)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) if (v[k] !== undefined) out[k] = normal(v[k], seen);
      return out;
    }
    return v;
  } finally {
    seen.delete(v);
  }
}

/** Deep equality as Jest's toEqual has it for the data the suites compare (primitives by
 *  Object.is, plain objects, arrays): undefined properties and trailing undefined array
 *  entries are ignored, classes are not compared. */
export function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normal(a), normal(b));
}

// ------------------------------------------------------------------------- rendering

/** A value in one line: JSON, with undefined, NaN, -0 and bigints shown as such and
 *  undefined properties left out (as the comparison leaves them out). */
export function show(v: unknown, seen: Set<unknown> = new Set()): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'function' || typeof v === 'symbol') return String(v.toString());
  if (seen.has(v)) return '[circular]';
  seen.add(v);
  try {
    if (Array.isArray(v)) return `[${Array.from(v as unknown[], (x) => show(x, seen)).join(',')}]`;
    if (v instanceof Error) return `${v.name}(${JSON.stringify(v.message)})`;
    if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})`;
    if (v instanceof Map) return `Map{${[...v].map(([k, x]) => `${show(k, seen)}:${show(x, seen)}`).join(',')}}`;
    if (v instanceof Set) return `Set[${[...v].map((x) => show(x, seen)).join(',')}]`;
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${show(o[k], seen)}`)
      .join(',')}}`;
  } finally {
    seen.delete(v);
  }
}

/** A value for the first line: shown, and cut to a readable length. */
function brief(v: unknown, max = 160): string {
  const s = show(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** The words of a question: from <client> on node <node> to <target> over <protocol>. */
export function questionText(q: Partial<Question>): string {
  return [
    q.client !== undefined ? `from ${q.client}` : '',
    q.node !== undefined ? `on node ${q.node}` : '',
    q.target !== undefined ? `to ${q.target}` : '',
    q.protocol !== undefined ? `over ${q.protocol}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Groups values by their rendering, in order of first appearance: "a" (3), "b" (1). */
function tally(values: unknown[]): string {
  const n = new Map<string, number>();
  for (const v of values) n.set(brief(v, 80), (n.get(brief(v, 80)) ?? 0) + 1);
  return [...n].map(([s, c]) => `${s} (${c})`).join(', ');
}

/** One line on how the observed answer differs from the expected one. */
export function difference(expected: unknown, observed: unknown, unit = 'entries'): string {
  if (Array.isArray(expected) && Array.isArray(observed)) {
    const e = expected as unknown[];
    const o = observed as unknown[];
    if (e.length !== o.length) {
      // As multisets: what is missing and what is not expected.
      const left = [...o];
      const missing: unknown[] = [];
      for (const x of e) {
        const i = left.findIndex((y) => same(x, y));
        if (i >= 0) left.splice(i, 1);
        else missing.push(x);
      }
      const parts = [missing.length ? `missing ${brief(missing)}` : '', left.length ? `unexpected ${brief(left)}` : ''].filter(Boolean);
      return `expected ${e.length} ${unit}, observed ${o.length}${parts.length ? `: ${parts.join(', ')}` : ''}`;
    }
    const differ = e.map((_, i) => i).filter((i) => !same(e[i], o[i]));
    if (!differ.length) return `the same ${unit} as expected`;
    const head = `${differ.length} of ${e.length} ${unit} differ`;
    const first = differ[0]!;
    if (differ.every((i) => same(e[i], e[first])))
      return isRecord(e[first]) && differ.every((i) => same(o[i], o[first]))
        ? `${head}: ${difference(e[first], o[first])}`
        : `${head} from the expected ${brief(e[first], 80)}: observed ${tally(differ.map((i) => o[i]))}`;
    return `${head}, the first ([${first}]): ${difference(e[first], o[first])}`;
  }
  if (isRecord(expected) && isRecord(observed)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(observed)])];
    const differ = keys.filter((k) => !same(expected[k], observed[k]));
    const absent = (o: Record<string, unknown>, k: string): boolean => o[k] === undefined;
    const parts = differ.slice(0, 3).map((k) => {
      if (absent(expected, k)) return `${k}: not expected, observed ${brief(observed[k], 80)}`;
      if (absent(observed, k)) return `${k}: expected ${brief(expected[k], 80)}, absent`;
      return `${k}: ${difference(expected[k], observed[k], unit)}`;
    });
    if (parts.length) return `${parts.join('; ')}${differ.length > 3 ? `; and ${differ.length - 3} more` : ''}`;
  }
  return `expected ${brief(expected)}, observed ${brief(observed)}`;
}

function failure(q: Question, headline: string, details: string[], expected: unknown, observed: unknown): CheckFailure {
  return new CheckFailure(q, [`${q.what}: ${headline}`, `  question: ${questionText(q)}`, ...details].join('\n'), expected, observed);
}

// ------------------------------------------------------------------------- the checks

/** The observed answer must be the expected one (deep equality as `same`). */
export function expectSame(q: Question, expected: unknown, observed: unknown): void {
  if (same(expected, observed)) return;
  throw failure(
    q,
    difference(expected, observed, q.unit),
    [`  expected: ${show(expected)}`, `  observed: ${show(observed)}`],
    expected,
    observed,
  );
}

/** A predicate over the observed answer (greater than, contains, matches): `ok` is its
 *  verdict, `expected` says in words what it requires. */
export function expectThat(q: Question, ok: boolean, expected: string, observed: unknown): void {
  if (ok) return;
  throw failure(
    q,
    `expected ${expected}, observed ${brief(observed)}`,
    [`  expected: ${expected}`, `  observed: ${show(observed)}`],
    expected,
    observed,
  );
}

const rowLabel = (r: Row, i: number): string => questionText({ client: r.client, node: r.node, target: r.target }) || `[${i}]`;
const rowWrong = (r: Row): boolean => (r.ok === undefined ? !same(r.expected, r.observed) : !r.ok);

/** Every row (one per probe, node or target) must hold: its observed answer the expected
 *  one, or its predicate true. One line per row, the rows that differ marked '!'. */
export function expectRows(q: Question, rows: Row[]): void {
  const wrong = rows.map((r, i) => i).filter((i) => rowWrong(rows[i]!));
  if (!wrong.length) return;
  const first = rows[wrong[0]!]!;
  const firstText =
    first.ok === undefined
      ? difference(first.expected, first.observed, q.unit)
      : `expected ${String(first.expected)}, observed ${brief(first.observed)}`;
  const lines = rows.map((r, i) =>
    !rowWrong(r)
      ? `  = ${rowLabel(r, i)}: ${show(r.observed)}`
      : `  ! ${rowLabel(r, i)}: expected ${r.ok === undefined ? show(r.expected) : String(r.expected)}, observed ${show(r.observed)}`,
  );
  throw failure(
    q,
    `${wrong.length} of ${rows.length} differ; the first, ${rowLabel(first, wrong[0]!)}: ${firstText}`,
    lines,
    rows.map((r) => r.expected),
    rows.map((r) => r.observed),
  );
}
