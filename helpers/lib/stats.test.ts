import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../config/target.ts';
import { histogramDelta, histogramPercentile, parseHistogram, percentile, percentiles } from './stats.ts';

// Captured from kube-proxy v1.37.2 (iptables) on the bundled cluster's node-1 after `cluster up`.
const METRICS = fs.readFileSync(path.join(ROOT, 'helpers/testdata/metrics/kube-proxy-iptables-v1.37.2.txt'), 'utf8');
const NAME = 'kubeproxy_network_programming_duration_seconds';

describe('percentiles (nearest rank)', () => {
  test('a percentile is a value that was observed, never an interpolation', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeUndefined();
    expect(percentiles([3, 1, 2])).toEqual({ n: 3, p50: 2, p90: 3, p99: 3, max: 3 });
    expect(() => percentile(xs, 0)).toThrow(/p must be in \(0, 100\]/);
  });
});

describe("kube-proxy's network programming histogram", () => {
  test('read from a real /metrics page: cumulative buckets, count and sum', () => {
    const h = parseHistogram(METRICS, NAME)!;
    expect(h.count).toBe(2);
    expect(h.buckets[0]).toEqual({ le: 0, count: 0 });
    expect(h.buckets.find((b) => b.le === 1)).toEqual({ le: 1, count: 2 });
    expect(h.buckets[h.buckets.length - 1]).toEqual({ le: Infinity, count: 2 });
    expect(histogramPercentile(h, 99)).toBe(1);
    expect(parseHistogram(METRICS, 'kubeproxy_no_such_metric')).toBeUndefined();
  });

  test('what a window observed is the difference of two reads; its percentiles are bucket bounds', () => {
    const before = parseHistogram(METRICS, NAME)!;
    // The same page after 98 more programmings: 90 within 0.5 s, 8 between 2 and 3 s.
    const after = {
      ...before,
      count: before.count + 98,
      buckets: before.buckets.map((b) => ({ le: b.le, count: b.count + (b.le >= 0.5 ? 90 : 0) + (b.le >= 3 ? 8 : 0) })),
    };
    const d = histogramDelta(before, after);
    expect(d.count).toBe(98);
    expect(histogramPercentile(d, 50)).toBe(0.5);
    expect(histogramPercentile(d, 99)).toBe(3);
    expect(histogramPercentile(histogramDelta(before, before), 99)).toBeUndefined();
  });
});
