// Unit tests for the kube-proxy rule parsers, fed with rules captured from the bundled
// cluster in iptables and nftables mode by scripts/capture-proxy-rules.sh (the Services
// and EndpointSlices of that capture are in testdata/capture-<mode>-objects.txt).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  base32,
  iptablesService,
  ipvsService,
  nftService,
  parseIpAddrShow,
  parseIptablesSave,
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
