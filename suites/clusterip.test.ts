// ClusterIP Services: a virtual IP from the Service range; DNS answers exactly that
// one address, from every node and at every CoreDNS replica; traffic to it reaches the
// backends behind it.
import { describe, expect, test } from '@jest/globals';
import { apply } from '../helpers/apply.ts';
import { once, useSuite, kube } from '../helpers/suite.ts';
import { rolloutReady } from '../helpers/workloads.ts';
import { inCidr } from '../helpers/net.ts';

const ctx = useSuite('clusterip');
let vip = '';
let families: string[] = [];
let backends: { name: string; ip?: string }[] = [];
let readyAt = 0;
const setup = once(async () => {
  await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 3 });
  backends = await rolloutReady(ctx.ns, 'Deployment', 'web-api', 3);
  readyAt = Date.now();
  const svc = await kube().core.readNamespacedService({ name: 'web-api', namespace: ctx.ns });
  vip = svc.spec?.clusterIP ?? '';
  families = svc.spec?.ipFamilies ?? [];
});

describe('ClusterIP Service', () => {
  test('gets a virtual IP from the Service range that is no Pod\'s IP', async () => {
    await setup();
    const podIPs = backends.map((b) => b.ip);
    const profile = kube().target.profile;
    const facts = { clusterIP: vip, isIP: /^\d+\.\d+\.\d+\.\d+$|:/.test(vip), inServiceRange: profile ? inCidr(vip, profile.serviceCIDR) : 'unknown (not the bundled cluster)', isAPodIP: podIPs.includes(vip) };
    expect(facts).toEqual({ ...facts, isIP: true, inServiceRange: profile ? true : facts.inServiceRange, isAPodIP: false });
    expect(vip).not.toBe('None');
  });

  test('web-api.<ns>.svc.<zone> A answers exactly the ClusterIP, from every node and at every CoreDNS replica', async () => {
    await setup();
    const v4 = families.includes('IPv4') ? [vip].filter((ip) => ip.includes('.')) : [];
    await ctx.expectEverywhere('clusterip-a', ctx.svcName('web-api'), 'A', { rcode: 'NOERROR', set: v4 }, { since: readyAt });
  });

  test('AAAA of a single-stack IPv4 ClusterIP Service is NOERROR with no answer (NODATA)', async () => {
    await setup();
    if (families.includes('IPv6')) {
      // Dual-stack: the AAAA must be the IPv6 ClusterIP instead.
      const svc = await kube().core.readNamespacedService({ name: 'web-api', namespace: ctx.ns });
      const v6 = (svc.spec?.clusterIPs ?? []).filter((ip) => ip.includes(':'));
      await ctx.expectEverywhere('clusterip-aaaa', ctx.svcName('web-api'), 'AAAA', { rcode: 'NOERROR', set: v6 });
      return;
    }
    await ctx.expectEverywhere('clusterip-aaaa', ctx.svcName('web-api'), 'AAAA', { rcode: 'NOERROR', set: [], soa: true });
  });

  test('connections through the virtual IP reach a backend Pod, not the address dialled', async () => {
    await setup();
    // The proxy on every probe's node programs the Service on its own schedule: the
    // time until it serves exactly the ready backends is measured against the proxy bound.
    await ctx.proxyConverged('clusterip-connect', { host: vip, port: 80, backends: backends.map((b) => b.name), since: readyAt });
    const attempts = (await Promise.all(ctx.probes.map((p) => p.connect({ host: vip, port: 80, count: 5, mode: 'http', timeoutMs: 3000 })))).flat();
    const podIPs = backends.map((b) => b.ip);
    const seen = attempts.map((a) => ({ error: a.error, answeredBy: a.backend?.ip, isBackend: podIPs.includes(a.backend?.ip), differsFromVip: a.backend?.ip !== vip }));
    ctx.evidence.info('clusterip-connect', `${attempts.length} requests to ${vip}:80 answered by ${[...new Set(attempts.map((a) => a.backend?.pod))].join(', ')}`);
    expect(seen).toEqual(seen.map((s) => ({ ...s, error: undefined, isBackend: true, differsFromVip: true })));
  });
});
