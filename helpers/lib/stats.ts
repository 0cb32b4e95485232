// Percentiles of measured times, the way the SIG Scalability SLIs state them: the
// nearest-rank percentile (the smallest value at or above p% of the sample), so that a
// p99 is a value that was observed, never an interpolation.

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The nearest-rank p-th percentile (0 < p <= 100) of values; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!values.length) return undefined;
  if (!(p > 0 && p <= 100)) throw new Error(`percentile: p must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** p50, p90, p99 and the maximum of values; undefined for none. */
export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (!values.length) return undefined;
  return {
    n: values.length,
    p50: percentile(values, 50)!,
    p90: percentile(values, 90)!,
    p99: percentile(values, 99)!,
    max: Math.max(...values),
  };
}

/** "p50 12 ms, p90 40 ms, p99 95 ms (n 60)". */
export const percentilesText = (p: Percentiles | undefined, unit = 'ms'): string =>
  p ? `p50 ${p.p50} ${unit}, p90 ${p.p90} ${unit}, p99 ${p.p99} ${unit}, max ${p.max} ${unit} (n ${p.n})` : 'no samples';

/** A Prometheus histogram (cumulative buckets by upper bound, in seconds) as read from a
 *  /metrics page: the series of one metric name summed over its label sets. */
export interface Histogram {
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

/** Reads the histogram `name` from Prometheus text exposition (every label set summed). */
export function parseHistogram(text: string, name: string): Histogram | undefined {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, metric, labels, raw] = m;
    const v = Number(raw);
    if (!Number.isFinite(v) && raw !== '+Inf') continue;
    if (metric === `${name}_bucket`) {
      const le = /le="([^"]+)"/.exec(labels ?? '')?.[1];
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + v);
      seen = true;
    } else if (metric === `${name}_count`) {
      count += v;
      seen = true;
    } else if (metric === `${name}_sum`) sum += v;
  }
  if (!seen) return undefined;
  return { buckets: [...buckets].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c })), count, sum };
}

/** What was observed between two reads of the same histogram (after minus before). */
export function histogramDelta(before: Histogram | undefined, after: Histogram): Histogram {
  const prior = new Map((before?.buckets ?? []).map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) })),
    count: after.count - (before?.count ?? 0),
    sum: after.sum - (before?.sum ?? 0),
  };
}

/** The p-th percentile of a histogram as the upper bound of the bucket it falls in
 *  (Infinity past the last finite bound); undefined when it holds nothing. */
export function histogramPercentile(h: Histogram, p: number): number | undefined {
  if (h.count <= 0) return undefined;
  const rank = Math.ceil((p / 100) * h.count);
  return h.buckets.find((b) => b.count >= rank)?.le ?? Infinity;
}
