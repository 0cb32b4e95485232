// ExternalName Services: the name is a CNAME to externalName; an update to externalName
// and a switch to ClusterIP are followed within the bound. Targets lie under .invalid,
// which nothing resolves; the probe only ever asks the cluster's own DNS servers.
import { describe, test } from '@jest/globals';
import { apply, applyObjects } from '../helpers/apply.ts';
import { useSuite, kube } from '../helpers/suite.ts';

const ctx = useSuite('dns-externalname', { probes: 2 });
const FIRST = 'db.first.svc-conformance.invalid';
const SECOND = 'db.second.svc-conformance.invalid';

describe('ExternalName Service', () => {
  test('answers CNAME <externalName>', async () => {
    await apply(ctx.ns, 'external-name.yaml', { EXTERNAL_NAME: FIRST });
    await ctx.convergeEverywhere('externalname-cname', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [FIRST] });
    await ctx.expectEverywhere('externalname-cname', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [FIRST] });
  });

  test('an update to externalName is followed within the bound', async () => {
    await apply(ctx.ns, 'external-name.yaml', { EXTERNAL_NAME: SECOND });
    await ctx.convergeEverywhere('externalname-update', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [SECOND] });
  });

  test('after a switch to type ClusterIP the name answers the virtual IP', async () => {
    await applyObjects(ctx.ns, [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'my-database' }, spec: { type: 'ClusterIP', ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }] } } as never]);
    const vip = (await kube().core.readNamespacedService({ name: 'my-database', namespace: ctx.ns })).spec!.clusterIP!;
    await ctx.convergeEverywhere('externalname-to-clusterip', ctx.svcName('my-database'), 'A', { rcode: 'NOERROR', set: [vip] });
    await ctx.expectEverywhere('externalname-to-clusterip', ctx.svcName('my-database'), 'CNAME', { rcode: 'NOERROR', set: [], soa: true });
  });
});
