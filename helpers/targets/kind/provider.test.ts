// The kind provider's pure parts: the Corefile edit (on kubeadm's real Corefile, captured:
// helpers/testdata/README.md) and the kubeadm config it renders (kind's v1beta4 shape).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { ROOT } from '../../cluster/apply.ts';
import { v1beta4, withoutForward } from './provider.ts';

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
});
