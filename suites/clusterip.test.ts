// ClusterIP Services: a virtual IP from the Service range; DNS answers exactly that
// one address, from every node and at every CoreDNS replica (rows in dns-table.ts);
// traffic to it reaches the backends behind it.
import { apply } from '../helpers/cluster/apply.ts';
import { e2e, src } from './data/sources.ts';
import { once, defineSuite, kube, describe } from '../helpers/harness/suite.ts';
import { expectRows, expectSame, expectThat, fromProbe, type Question } from '../helpers/harness/verdict.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';
import { hostPort, inCidr } from '../helpers/lib/net.ts';
import { detected } from '../helpers/config/target.ts';
import { isIP } from 'node:net';

const { ctx, check, dnsRows } = defineSuite('clusterip');
let vip = '';
let backends: { name: string; ip?: string }[] = [];
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 3 });
  backends = await rolloutReady(ctx.ns, 'Deployment', 'web-api', 3);
  readyAt = Date.now();
  const svc = await kube().core.readNamespacedService({ name: 'web-api', namespace: ctx.ns });
  vip = svc.spec?.clusterIP ?? '';
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
      const podIPs = backends.map((b) => b.ip);
      // The Service ranges as the preflight read them (the API's ServiceCIDRs; the
      // requirement service-range skips this check where no range is known).
      const { serviceCIDRs = [], serviceCIDRsFrom } = detected();
      const facts = {
        clusterIP: vip,
        isIP: isIP(vip) !== 0,
        serviceCIDRs,
        from: serviceCIDRsFrom,
        inServiceRange: serviceCIDRs.some((c) => inCidr(vip, c)),
        isAPodIP: podIPs.includes(vip),
      };
      const q: Question = {
        what: "a ClusterIP Service's virtual IP is an address of the Service range, not a Pod's",
        client: 'this machine',
        target: `${ctx.ns}/Service/web-api`,
        protocol: 'api',
      };
      expectSame(q, { ...facts, isIP: true, inServiceRange: true, isAPodIP: false }, facts);
      expectThat(q, vip !== 'None', 'a virtual IP, not "None"', vip);
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
        `${attempts.length} requests to ${vip}:80 answered by ${[...new Set(attempts.map((a) => a.backend?.pod))].join(', ')}`,
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
    },
  });
});
