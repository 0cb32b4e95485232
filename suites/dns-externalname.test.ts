// ExternalName Services: the name is a CNAME to externalName; an update to externalName
// and a switch to ClusterIP are followed within the bound. Targets lie under .invalid,
// which nothing resolves; the probe only ever asks the cluster's own DNS servers.
import { apply, applyObjects } from '../helpers/cluster/apply.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';

const { ctx, check, dnsRows } = defineSuite('dns-externalname', { probes: 2 });
const FIRST = 'db.first.svc-conformance.invalid';
const SECOND = 'db.second.svc-conformance.invalid';

const first = once(async () => {
  await apply(ctx.ns, 'external-name.yaml', { EXTERNAL_NAME: FIRST });
  return Date.now();
});

describe('ExternalName Service', () => {
  // The row's answer is the first name (db.first.svc-conformance.invalid).
  dnsRows({ 'external-name': first });

  check({
    id: 'dns.externalname.update',
    level: 'required',
    claim: 'an update to externalName is followed within the bound',
    source: src.spec('2.5', '25---records-for-external-name-services'),
    run: async () => {
      await first();
      await ctx.expectEverywhere('externalname-first', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [FIRST] });
      await apply(ctx.ns, 'external-name.yaml', { EXTERNAL_NAME: SECOND });
      await ctx.convergeEverywhere('externalname-update', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [SECOND] });
    },
  });

  check({
    id: 'dns.externalname.to-clusterip',
    level: 'required',
    claim: 'after a switch to type ClusterIP the name answers the virtual IP and no CNAME',
    source: src.spec('2.3.1', '231---aaaa-records'),
    run: async () => {
      await first();
      await applyObjects(ctx.ns, [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'my-database' },
          spec: { type: 'ClusterIP', ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }] },
        } as never,
      ]);
      const vips = await ctx.virtualIPs('externalname-to-clusterip', 'my-database');
      await ctx.convergeEverywhere('externalname-to-clusterip', ctx.svcName('my-database'), 'address', { rcode: 'NOERROR', set: vips });
      await ctx.expectEverywhere('externalname-to-clusterip', ctx.svcName('my-database'), 'CNAME', {
        rcode: 'NOERROR',
        set: [],
        soa: true,
      });
    },
  });
});
