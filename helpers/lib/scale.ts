// The scale profile's results (suites/scale.test.ts) as data: what each size of the load
// measured, and per measure and size its p50/p90/p99 (nearest rank) and misses. The reports
// draw them (helpers/results/scale.ts).
import { percentiles, type Histogram, type Percentiles } from './stats.ts';

/** The upstream SLO for network programming latency: p99 <= 30 s (SIG Scalability). */
export const PROGRAMMING_SLO_MS = 30_000;

export type ChangeKind = 'created' | 'switched' | 'deleted';
/** One timed change of a step. */
export interface TimedChange {
  step: number;
  services: number;
  kind: ChangeKind;
  service: string;
  /** Per probe node: ms from the API write until that node served it (null: not within the bound). */
  proxy: { node: string; ms: number | null; error?: string }[];
  /** Per probe node and DNS server: ms until the answer followed (created, deleted). */
  dns: { node: string; server: string; ms: number | null }[];
}
/** One size of the load, and what was measured at it. */
export interface ScaleStep {
  step: number;
  services: number;
  endpoints: number;
  /** How long making this step's Services took (API writes). */
  grewMs: number;
  changes: TimedChange[];
  /** Per probe node and server: the DNS query load's answer times. */
  lookups: { node: string; server: string; ms: number[]; sent: number; errors: number }[];
  /** Per node: kube-proxy's own histogram over this step (absent where not readable). */
  metric: { node: string; histogram?: Histogram; error?: string }[];
}
/** The evidence item the suite writes (check 'scale', kind 'info'). */
export const SCALE_EVIDENCE = 'scale';

export interface Row {
  services: number;
  overall?: Percentiles;
  missed: number;
  /** By node (or by node and server). */
  by: Record<string, Percentiles | undefined>;
}
export type Measure = 'programming' | 'dns-programming' | 'dns-lookup';
export const MEASURES: { key: Measure; title: string; slo?: number }[] = [
  { key: 'programming', title: 'Network programming latency (connections from each node)', slo: PROGRAMMING_SLO_MS },
  { key: 'dns-programming', title: 'DNS programming latency (each DNS server, from each node)' },
  { key: 'dns-lookup', title: 'DNS lookup latency under a steady query load' },
];

const ok = (xs: (number | null)[]): number[] => xs.filter((v): v is number => v !== null);

/** One size's samples of a measure, each keyed by where it was taken (a node, a DNS server,
 *  a node and server); null: not within the bound. */
export function samplesOf(s: ScaleStep, m: Measure): { key: string; ms: number | null }[] {
  return m === 'programming'
    ? s.changes.flatMap((c) => c.proxy.map((p) => ({ key: p.node, ms: p.ms })))
    : m === 'dns-programming'
      ? s.changes.flatMap((c) => c.dns.map((d) => ({ key: d.server, ms: d.ms })))
      : s.lookups.flatMap((l) => l.ms.map((v) => ({ key: `${l.node} at ${l.server}`, ms: v })));
}

/** The times a measure took at one size, those within the bound. */
export const timesOf = (s: ScaleStep, m: Measure): number[] => ok(samplesOf(s, m).map((x) => x.ms));

/** A measure's rows, one per size. */
export function rowsOf(steps: ScaleStep[], m: Measure): Row[] {
  return steps.map((s) => {
    const samples = samplesOf(s, m);
    const keys = [...new Set(samples.map((x) => x.key))];
    return {
      services: s.services,
      overall: percentiles(ok(samples.map((x) => x.ms))),
      missed: m === 'dns-lookup' ? s.lookups.reduce((x, l) => x + l.errors, 0) : samples.filter((x) => x.ms === null).length,
      by: Object.fromEntries(keys.map((k) => [k, percentiles(ok(samples.filter((x) => x.key === k).map((x) => x.ms)))])),
    };
  });
}
