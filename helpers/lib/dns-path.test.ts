// Unit tests for telling a cache from the replicas, fed with what the preflight really
// asked and was answered (helpers/testdata/dns-path/: each run's `cluster.dnsPath.capture`
// from its run config, see the README there).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheAllowanceMs, classify, hasCache, type PathCapture, serversOnPath, zoneNotServed } from './dns-path.ts';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'testdata', 'dns-path');
const capture = (name: string): PathCapture => JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as PathCapture;

describe('DNS path', () => {
  test('no cache: the resolver is the Service, answered by the replicas with their own TTLs', () => {
    const p = classify(capture('plain'));
    expect({ resolverIsCache: p.resolverIsCache, serviceIsCache: p.serviceIsCache, replicasCache: p.replicasCache, ttl: p.ttl }).toEqual({
      resolverIsCache: false,
      serviceIsCache: false,
      replicasCache: false,
      ttl: { record: 30, negative: 30 },
    });
    expect(hasCache(p)).toBe(false);
    expect(cacheAllowanceMs(p)).toBe(30_000);
    const servers = serversOnPath(p.resolver, p.replicas, p);
    expect(servers.map((s) => s.role)).toEqual(['authoritative', ...p.replicas.map(() => 'authoritative')]);
    expect(servers[0]!.label).toBe("DNS Service kube-system/kube-dns (the Pod's resolver)");
  });

  test('NodeLocal DNSCache, link-local: the resolver is a cache in front of the Service, which the replicas answer', () => {
    const p = classify(capture('node-local-link-local'));
    expect({
      resolver: p.resolver,
      resolverIsCache: p.resolverIsCache,
      serviceIsCache: p.serviceIsCache,
      replicasCache: p.replicasCache,
    }).toEqual({ resolver: '169.254.20.10', resolverIsCache: true, serviceIsCache: false, replicasCache: false });
    const servers = serversOnPath(p.resolver, p.replicas, p);
    expect(servers.slice(0, 2).map((s) => [s.ip, s.role])).toEqual([
      ['169.254.20.10', 'cache'],
      [p.service.ips[0], 'authoritative'],
    ]);
    expect(p.summary).toMatch(/^a cache at 169\.254\.20\.10 in front of the DNS Service kube-system\/kube-dns/);
  });

  test("NodeLocal DNSCache, service-ip: the Service's own address is answered by a cache", () => {
    const p = classify(capture('node-local-service-ip'));
    expect({ resolverIsCache: p.resolverIsCache, serviceIsCache: p.serviceIsCache, replicasCache: p.replicasCache }).toEqual({
      resolverIsCache: true,
      serviceIsCache: true,
      replicasCache: false,
    });
    const servers = serversOnPath(p.resolver, p.replicas, p);
    expect(servers[0]).toEqual({
      label: "DNS Service kube-system/kube-dns (the Pod's resolver), answered by a cache on the node",
      ip: p.resolver,
      role: 'cache',
    });
    expect(servers.slice(1).every((s) => s.role === 'authoritative')).toBe(true);
  });

  test('replicas that cache cluster answers themselves (Corefile.cache30) are no cache in front: every server is held to the bound', () => {
    const p = classify(capture('cache30'));
    expect({ replicasCache: p.replicasCache, hasCache: hasCache(p) }).toEqual({ replicasCache: true, hasCache: false });
    expect(serversOnPath(p.resolver, p.replicas, p).every((s) => s.role === 'authoritative')).toBe(true);
  });

  test('without a detected path the resolver stands for the Service, as before', () => {
    expect(serversOnPath('10.96.0.10', [{ label: 'replica a', ip: '10.244.1.2' }])).toEqual([
      { label: 'cluster DNS Service', ip: '10.96.0.10', role: 'authoritative' },
      { label: 'replica a', ip: '10.244.1.2', role: 'authoritative' },
    ]);
  });

  // The one cause of many failures: kubelet's clusterDomain other than the DNS's zone
  // (captured on the bundled cluster brought up with kubelet --cluster-domain=other.test,
  // CoreDNS serving cluster.local: the replicas answer SERVFAIL for other.test).
  test('a cluster domain the DNS does not serve is named as the cause, once; a served one is not', () => {
    const wrong = classify(capture('zone-not-served'));
    const cause = zoneNotServed(wrong, 'other.test');
    expect(cause).toMatch(
      /^the Pods' search domain says the cluster domain is 'other\.test' \(kubelet's clusterDomain\), but the cluster DNS does not answer for it: kubernetes\.default\.svc\.other\.test A got no address at any replica \(/,
    );
    expect(cause).toContain('SERVFAIL');
    for (const ok of ['plain', 'node-local-link-local', 'node-local-service-ip', 'cache30'])
      expect({ ok, cause: zoneNotServed(classify(capture(ok)), 'cluster.local') }).toEqual({ ok, cause: undefined });
  });
});
