// The kind provider's pure parts: the Corefile edit (on kubeadm's real Corefile, captured:
// helpers/testdata/README.md) and the kubeadm config it renders (kind's v1beta4 shape).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { ROOT } from '../../cluster/apply.ts';
import { familyNetworking, ulaSubnet, v1beta4, withoutForward } from './provider.ts';

const corefile = fs.readFileSync(path.join(ROOT, 'helpers', 'testdata', 'kind', 'Corefile.kubeadm-v1.37.2'), 'utf8');

describe('withoutForward', () => {
  test("removes exactly the forward block from kubeadm v1.37.2's Corefile", () => {
    const out = withoutForward(corefile);
    expect(out).not.toMatch(/forward|max_concurrent/);
    // Everything else, line for line: the block is the forward line, its option and its brace.
    const lines = corefile.split('\n');
    const at = lines.findIndex((l) => /^\s*forward \. \/etc\/resolv\.conf \{$/.test(l));
    expect(lines.slice(at, at + 3).map((l) => l.trim())).toEqual(['forward . /etc/resolv.conf {', 'max_concurrent 1000', '}']);
    expect(out.split('\n')).toEqual([...lines.slice(0, at), ...lines.slice(at + 3)]);
  });
  test('leaves a Corefile without forward as it is', () => {
    const once = withoutForward(corefile);
    expect(withoutForward(once)).toBe(once);
  });
});

describe('v1beta4', () => {
  const base = {
    cluster: 'c1',
    cp: 'c1-control-plane',
    ip: '10.200.1.2',
    node: 'c1-control-plane',
    proxyMode: 'nftables',
    k8sVersion: 'v1.37.2',
  };
  const kinds = (text: string): Record<string, Record<string, unknown>> =>
    Object.fromEntries((yaml.loadAll(text) as Record<string, unknown>[]).map((d) => [d.kind as string, d]));
  test(
    'init: cluster, init, kubelet and kube-proxy configuration as kind writes ' +
      'them; failCgroupV1 only on cgroup v1; our image repository only for our image',
    () => {
      const d = kinds(
        v1beta4({
          ...base,
          init: true,
          cgroupV1: true,
          images: {
            imageRepository: 'svc-conformance.local',
            etcdImageTag: 'v3.7.3',
            dnsImageTag: 'v1.14.7',
            sandboxImage: 'p',
            probe: 'x',
            nodeTools: 'y',
            coredns: 'z',
          },
        }),
      );
      expect(Object.keys(d).sort()).toEqual([
        'ClusterConfiguration',
        'InitConfiguration',
        'KubeProxyConfiguration',
        'KubeletConfiguration',
      ]);
      expect(d.ClusterConfiguration).toMatchObject({
        controlPlaneEndpoint: 'c1-control-plane:6443',
        imageRepository: 'svc-conformance.local',
        etcd: { local: { imageTag: 'v3.7.3' } },
        dns: { imageTag: 'v1.14.7' },
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/16' },
      });
      expect(d.InitConfiguration).toMatchObject({
        localAPIEndpoint: { advertiseAddress: '10.200.1.2', bindPort: 6443 },
        skipPhases: ['preflight'],
      });
      expect(d.KubeletConfiguration).toMatchObject({
        cgroupDriver: 'systemd',
        cgroupRoot: '/kubelet',
        failSwapOn: false,
        failCgroupV1: false,
      });
      expect(d.KubeProxyConfiguration).toMatchObject({ mode: 'nftables', conntrack: { maxPerCore: 0, tcpBeLiberal: true } });
      const official = kinds(v1beta4({ ...base, init: true, cgroupV1: false }));
      expect(official.ClusterConfiguration).not.toHaveProperty('imageRepository');
      expect(official.KubeletConfiguration).not.toHaveProperty('failCgroupV1');
    },
  );
  test('join: a JoinConfiguration against the control plane, no cluster or init configuration', () => {
    const d = kinds(v1beta4({ ...base, node: 'c1-worker', ip: '10.200.1.3', init: false, cgroupV1: false }));
    expect(Object.keys(d).sort()).toEqual(['JoinConfiguration', 'KubeProxyConfiguration', 'KubeletConfiguration']);
    expect(d.JoinConfiguration).toMatchObject({
      discovery: { bootstrapToken: { apiServerEndpoint: 'c1-control-plane:6443', unsafeSkipCAVerification: true } },
    });
  });
  describe('per IP family (kind networking.ipFamily)', () => {
    const init = (ipFamily: 'ipv4' | 'ipv6' | 'dual', ip: string, cp = 'c1-control-plane') =>
      kinds(v1beta4({ ...base, cp, ip, ipFamily, init: true, cgroupV1: false }));
    const kubeletArgs = (d: Record<string, Record<string, unknown>>, k: string): Record<string, string> =>
      Object.fromEntries(
        ((d[k]!.nodeRegistration as { kubeletExtraArgs: { name: string; value: string }[] }).kubeletExtraArgs ?? []).map((a) => [
          a.name,
          a.value,
        ]),
      );
    test('ipv4 (the default): IPv4 ranges, the IPv4 node-ip, no IPv6 listeners', () => {
      const d = init('ipv4', '10.200.1.2');
      expect(d).toEqual(kinds(v1beta4({ ...base, init: true, cgroupV1: false })));
      expect(d.ClusterConfiguration).toMatchObject({
        controlPlaneEndpoint: 'c1-control-plane:6443',
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/16' },
      });
      expect(d.ClusterConfiguration).not.toHaveProperty('scheduler');
      expect(d.KubeletConfiguration).not.toHaveProperty('address');
      expect(kubeletArgs(d, 'InitConfiguration')['node-ip']).toBe('10.200.1.2');
    });
    test('dual: comma-separated pairs, IPv4 first; both node addresses; the IPv4 one advertised', () => {
      const d = init('dual', '10.200.1.2,fc00:f853:ccd:e793::2');
      expect(d.ClusterConfiguration).toMatchObject({
        controlPlaneEndpoint: 'c1-control-plane:6443',
        networking: { podSubnet: '10.244.0.0/16,fd00:10:244::/56', serviceSubnet: '10.96.0.0/16,fd00:10:96::/112' },
        apiServer: { certSANs: ['localhost', '127.0.0.1'] },
      });
      expect(d.InitConfiguration).toMatchObject({ localAPIEndpoint: { advertiseAddress: '10.200.1.2' } });
      expect(kubeletArgs(d, 'InitConfiguration')['node-ip']).toBe('10.200.1.2,fc00:f853:ccd:e793::2');
      expect(d.KubeletConfiguration).not.toHaveProperty('address');
    });
    test('ipv6: IPv6 ranges, the IPv6 address advertised and bracketed in the endpoint, IPv6 listeners', () => {
      const d = init('ipv6', 'fc00:f853:ccd:e793::2', 'fc00:f853:ccd:e793::2');
      expect(d.ClusterConfiguration).toMatchObject({
        controlPlaneEndpoint: '[fc00:f853:ccd:e793::2]:6443',
        networking: { podSubnet: 'fd00:10:244::/56', serviceSubnet: 'fd00:10:96::/112' },
        apiServer: { certSANs: ['localhost', '127.0.0.1'] },
        controllerManager: { extraArgs: expect.arrayContaining([{ name: 'bind-address', value: '::' }]) as unknown },
        scheduler: { extraArgs: [{ name: 'bind-address', value: '::1' }] },
      });
      expect(d.InitConfiguration).toMatchObject({ localAPIEndpoint: { advertiseAddress: 'fc00:f853:ccd:e793::2' } });
      expect(kubeletArgs(d, 'InitConfiguration')['node-ip']).toBe('fc00:f853:ccd:e793::2');
      expect(d.KubeletConfiguration).toMatchObject({ address: '::', healthzBindAddress: '::' });
      const join = kinds(
        v1beta4({ ...base, cp: 'fc00:f853:ccd:e793::2', ip: 'fc00:f853:ccd:e793::3', ipFamily: 'ipv6', init: false, cgroupV1: false }),
      );
      expect(join.JoinConfiguration).toMatchObject({
        discovery: { bootstrapToken: { apiServerEndpoint: '[fc00:f853:ccd:e793::2]:6443' } },
      });
      expect(kubeletArgs(join, 'JoinConfiguration')['node-ip']).toBe('fc00:f853:ccd:e793::3');
    });
    test("the DNS Service address is kubeadm's: the 10th of the first family's Service range", () => {
      expect(familyNetworking('ipv4').dnsIP).toBe('10.96.0.10');
      expect(familyNetworking('dual').dnsIP).toBe('10.96.0.10');
      expect(familyNetworking('ipv6').dnsIP).toBe('fd00:10:96::a');
    });
    test("the network's IPv6 subnet: a ULA /64 from the name, as kind's generateULASubnetFromName", () => {
      // kind's own network, named kind: the subnet kind users see (fc00:f853:ccd:e793::/64).
      expect(ulaSubnet('kind')).toBe('fc00:f853:ccd:e793::/64');
      expect(ulaSubnet('svc-a')).not.toBe(ulaSubnet('svc-b'));
      expect(ulaSubnet('svc-a', 1)).not.toBe(ulaSubnet('svc-a'));
    });
  });
});
