// ClusterIP Services: a virtual IP from the Service range; DNS answers exactly that
// one address, from every node and at every CoreDNS replica (rows in dns-table.ts);
// traffic to it reaches the backends behind it.
import { describe, expect } from '@jest/globals';
import { apply } from '../helpers/cluster/apply.ts';
import { once, defineSuite, kube } from '../helpers/harness/suite.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';
import { inCidr } from '../helpers/lib/net.ts';
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
  check('service.clusterip.vip-from-range', async () => {
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
    expect(facts).toEqual({ ...facts, isIP: true, inServiceRange: true, isAPodIP: false });
    expect(vip).not.toBe('None');
  });

  dnsRows({ 'web-api': setup });

  check('proxy.clusterip.connect', async () => {
    await setup();
    // The proxy on every probe's node programs the Service on its own schedule: the
    // time until it serves exactly the ready backends is measured against the proxy bound.
    await ctx.proxyConverged('clusterip-connect', { host: vip, port: 80, backends: backends.map((b) => b.name), since: readyAt });
    const attempts = (
      await Promise.all(ctx.probes.map((p) => p.connect({ host: vip, port: 80, count: 5, mode: 'http', timeoutMs: 3000 })))
    ).flat();
    const podIPs = backends.map((b) => b.ip);
    const seen = attempts.map((a) => ({
      error: a.error,
      answeredBy: a.backend?.ip,
      isBackend: podIPs.includes(a.backend?.ip),
      differsFromVip: a.backend?.ip !== vip,
    }));
    ctx.evidence.info(
      'clusterip-connect',
      `${attempts.length} requests to ${vip}:80 answered by ${[...new Set(attempts.map((a) => a.backend?.pod))].join(', ')}`,
    );
    expect(seen).toEqual(seen.map((s) => ({ ...s, error: undefined, isBackend: true, differsFromVip: true })));
  });
});
