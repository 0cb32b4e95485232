// Unit tests for the kube-proxy rule parsers, fed with rules captured from the bundled
// cluster in iptables and nftables mode by scripts/capture-proxy-rules.sh (the Services
// and EndpointSlices of that capture are in testdata/capture-<mode>-objects.txt).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  base32,
  ciliumService,
  iptablesService,
  ipvsService,
  nftService,
  parseIpAddrShow,
  parseIptablesSave,
  parseCiliumBpfLb,
  parseCiliumServiceList,
  parseIpvsProc,
  parseNftJson,
  servicePortName,
  svcChainName,
} from './proxy-rules.ts';

const here = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (f: string): string => fs.readFileSync(path.join(here, 'testdata', f), 'utf8');

/** The ClusterIP and the endpoint addresses of a Service, from `kubectl get svc,endpointslices -o wide`. */
function objects(mode: string, svc: string): { vip: string; endpoints: string[] } {
  const lines = read(`capture-${mode}-objects.txt`).split('\n');
  const svcLine = lines.find((l) => l.startsWith(`service/${svc} `))!;
  const vip = svcLine.split(/\s+/)[2]!;
  const slice = lines.find((l) => l.startsWith(`endpointslice.discovery.k8s.io/${svc}-`));
  const cols = slice?.split(/\s+/) ?? [];
  const port = cols[2] ?? '';
  const eps = (cols[3] ?? '')
    .split(',')
    .filter((x) => /^\d/.test(x))
    .map((ip) => `${ip}:${port}`)
    .sort();
  return { vip, endpoints: eps };
}

describe('kube-proxy chain names', () => {
  test('KUBE-SVC hashes match kube-proxy for known Services', () => {
    expect(svcChainName('default/kubernetes:https', 'tcp')).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
    expect(svcChainName('kube-system/kube-dns:dns', 'udp')).toBe('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(base32(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(servicePortName('ns', 'svc')).toBe('ns/svc');
  });
});

describe('iptables-save parsing (captured, iptables mode)', () => {
  const tables = parseIptablesSave(read('iptables-save.captured'));

  test('the ClusterIP rule jumps to the computed KUBE-SVC chain, whose KUBE-SEP chains DNAT to the endpoints', () => {
    const { vip, endpoints } = objects('iptables', 'web-api');
    const s = iptablesService(tables, 'capture/web-api:http', vip, 80);
    expect(s.clusterIPRule?.target).toBe(svcChainName('capture/web-api:http', 'tcp'));
    expect(s.endpoints).toEqual(endpoints);
    expect(s.endpoints).toHaveLength(3);
    expect(s.rejectRule).toBeUndefined();
  });

  test('the kubernetes Service is found with its known chain name', () => {
    const nat = tables.get('nat')!;
    expect(
      nat.rules.some(
        (r) =>
          r.chain === 'KUBE-SERVICES' && r.comment === 'default/kubernetes:https cluster IP' && r.target === 'KUBE-SVC-NPX46M4PTMTKRN6Y',
      ),
    ).toBe(true);
  });

  test('a Service without endpoints has the filter REJECT rule and no nat rule', () => {
    const { vip } = objects('iptables', 'empty');
    const s = iptablesService(tables, 'capture/empty:80-8080', vip, 80);
    expect({ nat: Boolean(s.clusterIPRule), reject: Boolean(s.rejectRule) }).toEqual({ nat: false, reject: true });
  });

  test('a headless Service is mentioned nowhere', () => {
    expect(iptablesService(tables, 'capture/grpc-backend:grpc', 'None', 50051).mentions).toEqual([]);
  });
});

describe('nft JSON parsing (captured, nftables mode)', () => {
  const t = parseNftJson(read('nft-kube-proxy.captured.json'));

  test('the service-ips element for clusterIP . tcp . port goes to the Service chain; the VIP is in cluster-ips; endpoint chains match', () => {
    const { vip, endpoints } = objects('nftables', 'web-api');
    const s = nftService(t, 'capture', 'web-api', vip, 'tcp', 80);
    expect(s.serviceIPsElement?.value).toMatch(/^goto service-[A-Z2-7]{8}-capture\/web-api\/tcp\/http$/);
    expect(s.inClusterIPs).toBe(true);
    expect(s.endpoints).toEqual(endpoints);
    expect(s.noEndpointElement).toBeUndefined();
  });

  test('a Service without endpoints has a no-endpoint-services element', () => {
    const { vip } = objects('nftables', 'empty');
    const s = nftService(t, 'capture', 'empty', vip, 'tcp', 80);
    expect({ element: Boolean(s.serviceIPsElement), noEndpoint: Boolean(s.noEndpointElement) }).toEqual({
      element: false,
      noEndpoint: true,
    });
  });

  test('a headless Service has no element or chain', () => {
    const s = nftService(t, 'capture', 'grpc-backend', 'None', 'tcp', 50051);
    expect({ chains: s.chains, element: s.serviceIPsElement }).toEqual({ chains: [], element: undefined });
  });
});

describe('nft JSON parsing (captured in a container without /etc/protocols)', () => {
  test('protocol numbers in service-ips keys are read as names', () => {
    const t = parseNftJson(read('nft-kube-proxy.in-container.captured.json'));
    const lines = read('capture-nftables-kube-system-objects.txt').split('\n');
    const vip = lines.find((l) => l.startsWith('service/kube-dns '))!.split(/\s+/)[2]!;
    const s = nftService(t, 'kube-system', 'kube-dns', vip, 'tcp', 53);
    expect(s.serviceIPsElement?.value).toMatch(/^goto service-[A-Z2-7]{8}-kube-system\/kube-dns\/tcp\/dns-tcp$/);
    expect(s.endpoints.length).toBeGreaterThan(0);
    expect(s.endpoints.every((e) => e.endsWith(':53'))).toBe(true);
  });
});

describe('/proc/net/ip_vs parsing (captured, ipvs mode on a VM node)', () => {
  const virtuals = parseIpvsProc(read('ip_vs.captured'));
  const dummy = parseIpAddrShow(read('kube-ipvs0.captured'));

  test('a ClusterIP Service has a virtual server on kube-ipvs0 whose real servers are its endpoints', () => {
    const { vip, endpoints } = objects('ipvs', 'web-api');
    const s = ipvsService(virtuals, dummy, vip, 'tcp', 80);
    expect(s.virtual).toMatchObject({ protocol: 'TCP', address: vip, port: 80, scheduler: 'rr' });
    expect(s.virtual?.persistent).toBeUndefined();
    expect(s.onDummy).toBe(true);
    expect(s.endpoints).toEqual(endpoints);
    expect(s.endpoints).toHaveLength(3);
  });

  test('a Service without endpoints has a virtual server with no real server', () => {
    const { vip } = objects('ipvs', 'empty');
    const s = ipvsService(virtuals, dummy, vip, 'tcp', 80);
    expect({ virtual: Boolean(s.virtual), reals: s.virtual?.reals.length, onDummy: s.onDummy }).toEqual({
      virtual: true,
      reals: 0,
      onDummy: true,
    });
  });

  test('ClientIP affinity is a persistent virtual server; the NodePort has one per node address', () => {
    const { vip, endpoints } = objects('ipvs', 'sticky');
    const s = ipvsService(virtuals, dummy, vip, 'tcp', 81);
    // 10800 s (the default timeoutSeconds) in jiffies: Debian's kernel has HZ=250.
    expect(s.virtual?.persistent).toBe(10800 * 250);
    expect(s.endpoints).toEqual(endpoints);
    const nodePort = Number(/81:(\d+)\/TCP/.exec(read('capture-ipvs-objects.txt'))![1]);
    const onNodePort = virtuals.filter((v) => v.port === nodePort);
    expect(onNodePort.map((v) => v.address)).toContain('172.30.0.11');
    expect(onNodePort.every((v) => v.persistent === 10800 * 250 && v.reals.length === 3)).toBe(true);
  });

  test('a headless Service has no virtual server', () => {
    const { endpoints } = objects('ipvs', 'grpc-backend');
    const ips = endpoints.map((e) => e.split(':')[0]);
    expect(virtuals.filter((v) => v.reals.some((r) => ips.includes(r.address)))).toEqual([]);
  });
});

// Captured from a Cilium v1.20.2 agent (kube-proxy replacement) on the kind target while the
// default profile ran: `cilium-dbg bpf lb list -o json` and `cilium-dbg service list -o json`
// in the same agent, seconds apart (testdata/README.md).
describe('Cilium: the datapath service map and the agent services', () => {
  const frontends = parseCiliumBpfLb(read('cilium-bpf-lb-list.captured.json'));
  const services = parseCiliumServiceList(read('cilium-service-list.captured.json'));

  test('the kubernetes Service: a ClusterIP frontend leading to the API server, named default/kubernetes', () => {
    const s = ciliumService(frontends, services, 'default', 'kubernetes', '10.96.0.1', 'tcp', 443);
    expect(s.frontend?.flags).toEqual(['ClusterIP', 'non-routable']);
    expect(s.service).toMatchObject({ namespace: 'default', name: 'kubernetes', type: 'ClusterIP' });
    expect(s.endpoints).toEqual(['10.200.4.2:6443']);
  });

  test("every ClusterIP service of the agent is in the datapath with the agent's active backends", () => {
    const clusterIPs = services.filter((s) => s.type === 'ClusterIP');
    expect(clusterIPs.length).toBeGreaterThan(10);
    for (const s of clusterIPs) {
      const c = ciliumService(frontends, services, s.namespace!, s.name!, s.address, s.protocol, s.port);
      const want = s.backends
        .filter((b) => b.state === 'active')
        .map((b) => `${b.address}:${b.port}`)
        .sort();
      expect({ id: c.frontend?.revNat, endpoints: c.endpoints }).toEqual({ id: s.id, endpoints: want });
    }
  });

  test('a Service without endpoints keeps its frontend with no backend slot', () => {
    const s = ciliumService(frontends, services, 'svc-proxy-behaviour-rohg0pc7-ba7b', 'web-api', '10.96.110.83', 'tcp', 80);
    expect(s.frontend).toBeDefined();
    expect(s.endpoints).toEqual([]);
    expect(s.service?.name).toBe('web-api');
  });

  test('a traffic-policy Local NodePort has an internal-scope twin, kept apart', () => {
    const local = frontends.filter((f) => f.port === 32210 && f.address === '0.0.0.0');
    expect(local.map((f) => f.internal).sort()).toEqual([false, true]);
    expect(local.every((f) => f.flags.includes('Local'))).toBe(true);
  });

  test("mentions: a Service's frontends, and frontends with a backend at given Pod IPs", () => {
    const mysql = services.find((s) => s.name === 'mysql-read')!;
    const ips = mysql.backends.map((b) => b.address);
    const named = ciliumService(frontends, services, mysql.namespace!, 'mysql-read', mysql.address, 'tcp', mysql.port);
    expect(named.mentions).toBeGreaterThanOrEqual(1);
    expect(ciliumService(frontends, services, 'nowhere', 'nothing', '10.0.0.1', 'tcp', 1).mentions).toBe(0);
    expect(ciliumService(frontends, services, 'nowhere', 'nothing', '10.0.0.1', 'tcp', 1, ips).mentions).toBeGreaterThanOrEqual(1);
  });

  test('an unreadable key says which', () => {
    expect(() => parseCiliumBpfLb('{"10.96.0.1-443 (0)": []}')).toThrow(/cannot read the key '10.96.0.1-443 \(0\)'/);
  });
});
