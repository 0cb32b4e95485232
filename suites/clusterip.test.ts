// ClusterIP Services: a virtual IP from the Service range; DNS answers exactly that
// one address, from every node and at every CoreDNS replica (rows in dns-table.ts);
// traffic to it reaches the backends behind it.
import { apply } from '../helpers/cluster/apply.ts';
import { e2e, src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, fromProbe, type Question } from '../helpers/harness/verdict.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';
import { hostPort, inCidr } from '../helpers/lib/net.ts';
import { detected } from '../helpers/config/target.ts';
import { isIP } from 'node:net';

const { ctx, check, dnsRows } = defineSuite('clusterip');
/** The virtual IPs: one per family the Service has (both on a dual-stack cluster). */
let vips: string[] = [];
let backends: { name: string; ip?: string; ips: string[] }[] = [];
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 3 });
  backends = await rolloutReady(ctx.ns, 'Deployment', 'web-api', 3);
  readyAt = Date.now();
  vips = await ctx.virtualIPs('web-api', 'web-api');
  return readyAt;
});

describe('ClusterIP Service', () => {
  check({
    id: 'service.clusterip.vip-from-range',
    level: 'required',
    claim: "a ClusterIP Service gets a virtual IP from the Service range that is no Pod's IP",
    source: src.serviceDoc('type ClusterIP', '#type-clusterip'),
    requires: ['service-range'],
    run: async () => {
      await setup();
      const podIPs = backends.flatMap((b) => b.ips);
      // The Service ranges as the preflight read them (the API's ServiceCIDRs; the
      // requirement service-range skips this check where no range is known).
      const { serviceCIDRs = [], serviceCIDRsFrom } = detected();
      const q: Question = {
        what: "a ClusterIP Service's virtual IPs (one per family) are addresses of the Service range, not a Pod's",
        client: 'this machine',
        target: `${ctx.ns}/Service/web-api`,
        protocol: 'api',
      };
      const facts = vips.map((vip) => ({
        clusterIP: vip,
        isIP: isIP(vip) !== 0,
        serviceCIDRs,
        from: serviceCIDRsFrom,
        inServiceRange: serviceCIDRs.some((c) => inCidr(vip, c)),
        isAPodIP: podIPs.includes(vip),
      }));
      expectSame(
        q,
        facts.map((f) => ({ ...f, isIP: true, inServiceRange: true, isAPodIP: false })),
        facts,
      );
    },
  });

  dnsRows({ 'web-api': setup });

  check({
    id: 'proxy.clusterip.connect',
    level: 'required',
    claim: 'connections through the virtual IP reach a backend Pod, not the address dialled, from every node',
    source: src.vipDoc('virtual IP mechanism'),
    e2e: e2e.svc('should serve a basic endpoint from pods', true),
    run: async () => {
      await setup();
      for (const vip of vips) {
        // The proxy on every probe's node programs the Service on its own schedule: the
        // time until it serves exactly the ready backends is measured against the proxy bound.
        await ctx.proxyConverged('clusterip-connect', { host: vip, port: 80, backends: backends.map((b) => b.name), since: readyAt });
        const perProbe = await Promise.all(
          ctx.probes.map((p) => p.connect({ host: vip, port: 80, count: 5, mode: 'http', timeoutMs: 3000 })),
        );
        const attempts = perProbe.flat();
        const podIPs = backends.map((b) => b.ip);
        const seenOf = (as: typeof attempts) =>
          as.map((a) => ({
            error: a.error,
            answeredBy: a.backend?.ip,
            isBackend: podIPs.includes(a.backend?.ip),
            differsFromVip: a.backend?.ip !== vip,
          }));
        ctx.evidence.info(
          'clusterip-connect',
          `${attempts.length} requests to ${hostPort(vip, 80)} answered by ${[...new Set(attempts.map((a) => a.backend?.pod))].join(', ')}`,
        );
        expectRows(
          {
            what: "HTTP requests to a ClusterIP are answered by the Service's ready backends (by Pod IP), never by the virtual IP",
            target: hostPort(vip, 80),
            protocol: 'http',
            unit: 'requests',
          },
          perProbe.map((as, i) => {
            const seen = seenOf(as);
            return {
              ...fromProbe(ctx.probes[i]!, ctx.ns),
              expected: seen.map((s) => ({ ...s, error: undefined, isBackend: true, differsFromVip: true })),
              observed: seen,
            };
          }),
        );
      }
    },
  });
});
