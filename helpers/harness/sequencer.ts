// Jest's order of the suites in a run: the longest first, so that with several workers the run
// ends on short suites, not on a long one started last (Jest's own order, without timings of
// an earlier run of the same config, is by file size: seen on the bundled cluster, the
// headless suite, over two minutes, started 49 s in and alone held the run's end). The
// seconds are what each suite took on the bundled 3-node cluster (privileged profile, a node
// cache in front of DNS); a suite not listed counts as short. A wrong weight costs time,
// never a result.
interface Test {
  path: string;
}

export const SUITE_SECONDS: Record<string, number> = {
  headless: 130,
  'dns-not-ready': 70,
  statefulset: 50,
  'proxy-rules': 45,
  'dns-externalname': 40,
  'dns-cache': 32,
  'proxy-traffic-policy': 30,
  'proxy-behaviour': 30,
  'proxy-terminating': 25,
  'dns-records': 17,
  'proxy-affinity': 15,
  'proxy-changes': 14,
  'proxy-udp': 14,
  clusterip: 10,
  smoke: 9,
  'proxy-nodeport': 9,
  'proxy-host-network': 8,
  'service-pair': 8,
  'proxy-source': 8,
  'dns-negative': 7,
};

const suiteOf = (p: string): string => (p.split('/').pop() ?? p).replace(/\.test\.[jt]s$/, '');
export const weightOf = (p: string): number => SUITE_SECONDS[suiteOf(p)] ?? 5;

/** A Jest test sequencer (testSequencer): sort, and the hooks Jest calls around it. */
export default class LongestFirst {
  sort<T extends Test>(tests: T[]): T[] {
    return [...tests].sort((a, b) => weightOf(b.path) - weightOf(a.path) || a.path.localeCompare(b.path));
  }

  allFailedTests<T extends Test>(tests: T[]): T[] {
    return tests;
  }

  cacheResults(): void {
    /* the weights are fixed: nothing to remember */
  }
}
