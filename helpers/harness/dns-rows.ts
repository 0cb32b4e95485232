// Runs the DNS table (suites/data/dns-table.ts) for one suite: each row becomes a
// check that puts its fixture in place, builds its question and expected answer from the
// namespace, and asserts it at every DNS server from every probe after convergence.
import { kube } from '../cluster/kube.ts';
import { reverseName } from '../lib/net.ts';
import type { Check, SuiteContext } from './suite.ts';
import { listPods, podState } from '../cluster/workloads.ts';
import { DNS_ROWS, type RowContext } from '../../suites/data/dns-table.ts';

/** A fixture puts a workload in place (once) and may return when it became ready
 *  (Date.now()), from which convergence is measured. */
export type Fixtures = Record<string, () => Promise<number | void>>;

export function rowContext(ctx: SuiteContext): RowContext {
  return {
    get ns() {
      return ctx.ns;
    },
    get zone() {
      return ctx.facts.clusterDomain;
    },
    svc: (name, ns) => ctx.svcName(name, ns),
    clusterIPs: async (service) => {
      const s = await kube().core.readNamespacedService({ name: service, namespace: ctx.ns });
      return s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : []);
    },
    podIPs: async (pod) => {
      const p = podState(await kube().core.readNamespacedPod({ name: pod, namespace: ctx.ns }));
      if (!p.ips.length) throw new Error(`Pod ${ctx.ns}/${pod} has no IP`);
      return p.ips;
    },
    readyPods: async (selector) =>
      (await listPods(ctx.ns, selector))
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map(podState)
        .filter((p) => p.ready && p.ips.length)
        .map((p) => ({ name: p.name, ips: p.ips })),
    reverse: reverseName,
    get families() {
      return ctx.families();
    },
  };
}

/** Declares a suite's DNS rows as checks, through the suite's `declare` (defineSuite's
 *  check); call it where they should run in order. Each row's id, claim, level, source,
 *  requirements and why are the table's. */
export function dnsRows(ctx: SuiteContext, suite: string, fixtures: Fixtures, declare: (c: Check) => void): void {
  for (const row of DNS_ROWS.filter((r) => r.suite === suite)) {
    const fixture = fixtures[row.fixture];
    if (!fixture)
      throw new Error(
        `DNS row ${row.id} needs the fixture '${row.fixture}', which suite ${suite} does not have (it has: ${Object.keys(fixtures).join(', ')})`,
      );
    const { id, claim, level, source, requires, why } = row;
    declare({
      id,
      claim,
      level,
      source,
      requires,
      why,
      run: async () => {
        const readyAt = await fixture();
        const c = rowContext(ctx);
        const named = await row.name(c);
        const type = typeof row.type === 'function' ? await row.type(c) : row.type;
        const exp = await row.expect(c);
        for (const name of Array.isArray(named) ? named : [named]) {
          await ctx.expectEverywhere(row.id, name, type, exp, {
            extra: row.extra,
            since: typeof readyAt === 'number' ? readyAt : undefined,
          });
        }
      },
    });
  }
}
