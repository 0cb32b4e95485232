// Pure parsers for what kube-proxy programs on a node: iptables-save text and
// `nft -j list table ip kube-proxy` JSON. Fed with real captured output in the unit
// tests (testdata/README.md says how it was captured).
import { isIP } from 'node:net';
import { hostPort } from './net.ts';
import * as crypto from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (standard alphabet, no padding needed for a prefix). */
export function base32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** `ns/name` or `ns/name:portName`, as kube-proxy names a Service port. */
export function servicePortName(ns: string, name: string, portName?: string): string {
  return portName ? `${ns}/${name}:${portName}` : `${ns}/${name}`;
}

/** kube-proxy's iptables chain for a Service port: KUBE-SVC-<16 chars of base32(sha256(spn+proto))>. */
export function svcChainName(spn: string, protocol: string): string {
  const h = base32(
    crypto
      .createHash('sha256')
      .update(spn + protocol.toLowerCase())
      .digest(),
  ).slice(0, 16);
  return `KUBE-SVC-${h}`;
}

export interface IptRule {
  chain: string;
  spec: string;
  comment?: string;
  target?: string;
}

export interface IptTable {
  chains: Set<string>;
  rules: IptRule[];
}

/** Parses iptables-save output into tables of chains and rules. */
export function parseIptablesSave(text: string): Map<string, IptTable> {
  const tables = new Map<string, IptTable>();
  let cur: IptTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: [] };
      tables.set(line.slice(1), cur);
    } else if (line.startsWith(':') && cur) {
      cur.chains.add(line.slice(1).split(' ')[0]!);
    } else if (line.startsWith('-A ') && cur) {
      const chain = line.split(' ')[1]!;
      const comment = /--comment (?:"([^"]*)"|(\S+))/.exec(line);
      const target = /-j (\S+)/.exec(line);
      cur.rules.push({ chain, spec: line, comment: comment ? (comment[1] ?? comment[2]) : undefined, target: target?.[1] });
    }
  }
  return tables;
}

export interface IptService {
  /** The KUBE-SERVICES rule for the ClusterIP, if any. */
  clusterIPRule?: IptRule;
  /** Endpoint addresses (ip:port) DNATed to by the Service's KUBE-SEP chains. */
  endpoints: string[];
  /** The filter table's "has no endpoints" REJECT rule, if any. */
  rejectRule?: IptRule;
  /** Every rule anywhere whose comment names the Service. */
  mentions: IptRule[];
}

export function iptablesService(tables: Map<string, IptTable>, spn: string, vip: string, port: number): IptService {
  const nat = tables.get('nat') ?? { chains: new Set<string>(), rules: [] };
  const filter = tables.get('filter') ?? { chains: new Set<string>(), rules: [] };
  const clusterIPRule = nat.rules.find(
    (r) =>
      r.chain === 'KUBE-SERVICES' &&
      r.comment === `${spn} cluster IP` &&
      r.spec.includes(`-d ${vip}/${isIP(vip) === 6 ? 128 : 32}`) &&
      new RegExp(`--dport ${port}(\\s|$)`).test(r.spec),
  );
  const seps = clusterIPRule?.target
    ? nat.rules.filter((r) => r.chain === clusterIPRule.target && r.target?.startsWith('KUBE-SEP-')).map((r) => r.target!)
    : [];
  const endpoints = [...new Set(seps)]
    .flatMap((sep) =>
      nat.rules.filter((r) => r.chain === sep && r.target === 'DNAT').map((r) => /--to-destination (\S+)/.exec(r.spec)?.[1] ?? ''),
    )
    .filter(Boolean)
    .sort();
  const rejectRule = filter.rules.find((r) => r.comment === `${spn} has no endpoints` && r.target === 'REJECT');
  const [ns, rest] = spn.split('/');
  const svcName = `${ns}/${(rest ?? '').split(':')[0]}`;
  const mentions = [...tables.values()].flatMap((t) =>
    t.rules.filter(
      (r) =>
        r.comment !== undefined && (r.comment === svcName || r.comment.startsWith(`${svcName}:`) || r.comment.startsWith(`${svcName} `)),
    ),
  );
  return { clusterIPRule, endpoints, rejectRule, mentions };
}

// ---------------------------------------------------------------------------- nftables
type NftObj = Record<string, unknown>;

export interface NftTable {
  chains: string[];
  /** The expressions of every rule, by chain. */
  rules: Map<string, unknown[][]>;
  sets: Map<string, unknown[]>;
  maps: Map<string, { key: string; value: string; comment?: string }[]>;
}

/** nft prints protocols by number where the container has no /etc/protocols. */
const PROTO_NAMES: Record<string, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function elemText(v: unknown, inConcat = false): string {
  if (typeof v === 'number' && inConcat && PROTO_NAMES[v] !== undefined) return PROTO_NAMES[v];
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  const o = v as NftObj;
  if (o && typeof o === 'object') {
    // In a key ip . proto . port, the protocol is the second member.
    if ('concat' in o) return (o.concat as unknown[]).map((x, i) => elemText(x, i === 1)).join(' . ');
    if ('goto' in o) return `goto ${(o.goto as { target: string }).target}`;
    if ('jump' in o) return `jump ${(o.jump as { target: string }).target}`;
    if ('elem' in o) return elemText((o.elem as NftObj).val);
    if ('prefix' in o) {
      const p = o.prefix as { addr: string; len: number };
      return `${p.addr}/${p.len}`;
    }
  }
  return JSON.stringify(v);
}

function elemComment(v: unknown): string | undefined {
  const o = v as NftObj;
  return o && typeof o === 'object' && 'elem' in o ? ((o.elem as NftObj).comment as string | undefined) : undefined;
}

/** Parses `nft -j list table ...` output. */
export function parseNftJson(text: string): NftTable {
  const doc = JSON.parse(text) as { nftables: NftObj[] };
  const t: NftTable = { chains: [], rules: new Map(), sets: new Map(), maps: new Map() };
  for (const item of doc.nftables) {
    if ('chain' in item) t.chains.push((item.chain as { name: string }).name);
    if ('rule' in item) {
      const r = item.rule as { chain: string; expr: unknown[] };
      t.rules.set(r.chain, [...(t.rules.get(r.chain) ?? []), r.expr]);
    }
    if ('set' in item) {
      const s = item.set as { name: string; elem?: unknown[] };
      t.sets.set(
        s.name,
        (s.elem ?? []).map((e) => elemText(e)),
      );
    }
    if ('map' in item) {
      const m = item.map as { name: string; elem?: unknown[][] };
      t.maps.set(
        m.name,
        (m.elem ?? []).map((pair) => ({
          key: elemText(pair[0]),
          value: elemText(pair[1]),
          comment: elemComment(pair[0]) ?? elemComment(pair[1]),
        })),
      );
    }
  }
  return t;
}

export interface NftService {
  serviceIPsElement?: { key: string; value: string };
  inClusterIPs: boolean;
  noEndpointElement?: { key: string; value: string; comment?: string };
  /** ip:port targets the Service chain DNATs to: a dnat in the chain itself (one
   *  endpoint), a numgen map of endpoints (kube-proxy 1.35+), or per-endpoint chains
   *  it jumps to (older kube-proxy). */
  endpoints: string[];
  /** Chains whose names contain ns/name/. */
  chains: string[];
}

export function nftService(t: NftTable, ns: string, name: string, vip: string, protocol: string, port: number): NftService {
  const key = `${vip} . ${protocol.toLowerCase()} . ${port}`;
  const svcIPs = t.maps.get('service-ips') ?? [];
  const serviceIPsElement = svcIPs.find((e) => e.key === key);
  const noEp = (t.maps.get('no-endpoint-services') ?? []).find((e) => e.key === key);
  const marker = `-${ns}/${name}/`;
  const chains = t.chains.filter((c) => c.includes(marker));
  const svcChain = serviceIPsElement?.value.replace(/^goto /, '');
  const endpoints = svcChain ? [...new Set(dnatTargets(t, svcChain, 0))].sort() : [];
  return { serviceIPsElement, inClusterIPs: (t.sets.get('cluster-ips') ?? []).includes(vip), noEndpointElement: noEp, endpoints, chains };
}

/** Every ip:port a chain DNATs to, following jumps, gotos and verdict maps into other chains. */
function dnatTargets(t: NftTable, chain: string, depth: number): string[] {
  if (depth > 4) return [];
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const o = v as NftObj;
    if ('dnat' in o) {
      const d = o.dnat as { addr?: unknown; port?: unknown };
      if (typeof d.addr === 'string') out.push(hostPort(d.addr, String(d.port)));
      else {
        // addr: {map: {key: {numgen: ...}, data: {set: [[i, {concat: [ip, port]}], ...]}}}
        const set = ((d.addr as NftObj)?.map as { data?: { set?: unknown[][] } })?.data?.set ?? [];
        for (const pair of set) {
          const c = (pair[1] as { concat?: unknown[] })?.concat;
          if (c) out.push(hostPort(String(c[0]), String(c[1])));
        }
      }
      return;
    }
    for (const key of ['goto', 'jump']) {
      if (key in o && typeof (o[key] as { target?: unknown }).target === 'string') {
        out.push(...dnatTargets(t, (o[key] as { target: string }).target, depth + 1));
        return;
      }
    }
    Object.values(o).forEach(walk);
  };
  for (const expr of t.rules.get(chain) ?? []) walk(expr);
  return out;
}

// ---------------------------------------------------------------------------- IPVS
/** A real server of an IPVS virtual server, as /proc/net/ip_vs lists it. */
export interface IpvsReal {
  address: string;
  port: number;
  /** Masq, Route, Tunnel (Local for a real server on the node itself). */
  forward: string;
  weight: number;
}

/** A virtual server of /proc/net/ip_vs: protocol, address and port (or a firewall mark). */
export interface IpvsVirtual {
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'FWM';
  address: string;
  port: number;
  scheduler: string;
  /** Persistence (sessionAffinity ClientIP): its timeout as the kernel prints it, in jiffies
   *  (seconds times the kernel's HZ, which userspace cannot read; ipvsadm asks netlink for seconds). */
  persistent?: number;
  reals: IpvsReal[];
}

/** 0A60000A -> 10.96.0.10; [FD00:0010:...] -> fd00:10:... (the kernel prints addresses in hex). */
function ipvsAddress(hex: string): string {
  if (hex.startsWith('[')) {
    const groups = hex.slice(1, -1).split(':');
    // Compress as inet_ntop does, through the URL parser's canonical form.
    return new URL(`http://[${groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':')}]`).hostname.slice(1, -1).toLowerCase();
  }
  const n = parseInt(hex, 16);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Splits ADDR:PORT where ADDR is 8 hex digits or a bracketed IPv6 address in hex. */
function ipvsHostPort(s: string): { address: string; port: number } {
  const i = s.lastIndexOf(':');
  return { address: ipvsAddress(s.slice(0, i)), port: parseInt(s.slice(i + 1), 16) };
}

/** Parses the kernel's /proc/net/ip_vs (IPv4 and IPv6 virtual servers, with their real servers). */
export function parseIpvsProc(text: string): IpvsVirtual[] {
  const out: IpvsVirtual[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const v = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(.*)$/.exec(line);
    const f = /^FWM\s+([0-9A-Fa-f]+)\s+(\S+)(.*)$/.exec(line);
    if (v) {
      const persistent = /persistent (\d+)/.exec(v[4]!);
      out.push({
        protocol: v[1] as IpvsVirtual['protocol'],
        ...ipvsHostPort(v[2]!),
        scheduler: v[3]!,
        ...(persistent ? { persistent: Number(persistent[1]) } : {}),
        reals: [],
      });
    } else if (f) {
      const persistent = /persistent (\d+)/.exec(f[3]!);
      out.push({
        protocol: 'FWM',
        address: '',
        port: parseInt(f[1]!, 16),
        scheduler: f[2]!,
        ...(persistent ? { persistent: Number(persistent[1]) } : {}),
        reals: [],
      });
    } else if (line.startsWith('-> ') && out.length > 0 && !line.startsWith('-> RemoteAddress')) {
      const [hp, forward, weight] = line.slice(3).trim().split(/\s+/);
      out[out.length - 1]!.reals.push({ ...ipvsHostPort(hp!), forward: forward!, weight: Number(weight) });
    }
  }
  return out;
}

export interface IpvsService {
  /** The virtual server for the VIP, protocol and port, if any. */
  virtual?: IpvsVirtual;
  /** ip:port of its real servers with a weight above 0 (kube-proxy sets terminating ones to 0). */
  endpoints: string[];
  /** The VIP is an address of kube-proxy's dummy interface (kube-ipvs0). */
  onDummy: boolean;
}

/** What IPVS programs for one Service port: `dummyAddrs` are the addresses on kube-ipvs0. */
export function ipvsService(virtuals: IpvsVirtual[], dummyAddrs: string[], vip: string, protocol: string, port: number): IpvsService {
  const virtual = virtuals.find((v) => v.protocol === protocol.toUpperCase() && v.address === vip && v.port === port);
  const endpoints = (virtual?.reals ?? [])
    .filter((r) => r.weight > 0)
    .map((r) => hostPort(r.address, String(r.port)))
    .sort();
  return { virtual, endpoints, onDummy: dummyAddrs.includes(vip) };
}

/** Addresses from `ip -o addr show dev IF` lines (both families). */
export function parseIpAddrShow(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /\sinet6?\s+([^/\s]+)/.exec(l)?.[1])
    .filter((a): a is string => Boolean(a));
}

// ------------------------------------------------------------------------ Cilium
// Cilium's kube-proxy replacement keeps Services in BPF maps, not netfilter rules. Read in its
// agent on the node: `cilium-dbg bpf lb list -o json` (the datapath's own service map: a key
// per frontend and backend slot, slot 0 the frontend's master entry with its flags and
// reverse-NAT id) and `cilium-dbg service list -o json` (the agent's services by id, which is
// the reverse-NAT id, with the Kubernetes Service's namespace and name).

/** One frontend of the datapath's service map, with the backends in its slots. */
export interface CiliumBpfFrontend {
  address: string;
  port: number;
  /** TCP, UDP, SCTP or ANY (the catch-all entry of a ClusterIP). */
  protocol: string;
  /** The internal-scope twin of a frontend (`/i`: traffic policy Local, two scopes). */
  internal: boolean;
  /** The reverse-NAT id: the agent's service id. */
  revNat: number;
  /** The master entry's flags, e.g. ClusterIP, NodePort, Local, non-routable. */
  flags: string[];
  /** host:port of every backend slot, in slot order. */
  backends: string[];
}

/** `cilium-dbg bpf lb list -o json`: {"10.96.0.1:443/TCP (0)": ["0.0.0.0:0 (4) (0) [ClusterIP, non-routable] "], "10.96.0.1:443/TCP (1)": ["10.200.4.2:6443/TCP (4) (1)"], ...}. */
export function parseCiliumBpfLb(text: string): CiliumBpfFrontend[] {
  const map = JSON.parse(text) as Record<string, string[]>;
  const byKey = new Map<string, CiliumBpfFrontend & { slots: Map<number, string> }>();
  for (const [key, values] of Object.entries(map)) {
    const k = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)\/([A-Z]+)(\/i)? \((\d+)\)$/.exec(key.trim());
    if (!k) throw new Error(`cilium-dbg bpf lb list: cannot read the key '${key}'`);
    const address = k[1] ?? k[2]!;
    const fe = `${address}|${k[3]}|${k[4]}|${k[5] ? 'i' : ''}`;
    let f = byKey.get(fe);
    if (!f) {
      f = { address, port: Number(k[3]), protocol: k[4]!, internal: Boolean(k[5]), revNat: 0, flags: [], backends: [], slots: new Map() };
      byKey.set(fe, f);
    }
    const slot = Number(k[6]);
    for (const v of values) {
      if (slot === 0) {
        const m = /^\S+ \((\d+)\) \(0\) \[([^\]]*)\]/.exec(v.trim());
        if (!m) throw new Error(`cilium-dbg bpf lb list: cannot read the master entry '${v}' of '${key}'`);
        f.revNat = Number(m[1]);
        f.flags = m[2]!
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
      } else {
        const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)\/\S+ \(\d+\) \(\d+\)$/.exec(v.trim());
        // "backend N not found": a slot whose backend is gone from the backend map.
        f.slots.set(slot, m ? hostPort(m[1] ?? m[2]!, m[3]!) : v.trim());
      }
    }
  }
  return [...byKey.values()].map(({ slots, ...f }) => ({
    ...f,
    backends: [...slots.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b),
  }));
}

/** One service of the agent (`cilium-dbg service list -o json`): what it realized, else its spec. */
export interface CiliumServiceEntry {
  id: number;
  address: string;
  port: number;
  protocol: string;
  scope: string;
  type: string;
  namespace?: string;
  name?: string;
  backends: { address: string; port: number; state: string }[];
}

export function parseCiliumServiceList(text: string): CiliumServiceEntry[] {
  type Spec = {
    id?: number;
    'frontend-address'?: { ip?: string; port?: number; protocol?: string; scope?: string };
    flags?: { type?: string; namespace?: string; name?: string };
    'backend-addresses'?: { ip?: string; port?: number; state?: string }[] | null;
  };
  const list = JSON.parse(text) as { spec?: Spec; status?: { realized?: Spec } }[];
  return list.map((e) => {
    const s = e.status?.realized ?? e.spec ?? {};
    const f = s['frontend-address'] ?? {};
    return {
      id: s.id ?? 0,
      address: f.ip ?? '',
      port: f.port ?? 0,
      protocol: f.protocol ?? '',
      scope: f.scope ?? '',
      type: s.flags?.type ?? '',
      namespace: s.flags?.namespace,
      name: s.flags?.name,
      backends: (s['backend-addresses'] ?? []).map((b) => ({ address: b.ip ?? '', port: b.port ?? 0, state: b.state ?? '' })),
    };
  });
}

export interface CiliumService {
  /** The datapath's frontend for the address, protocol and port (external scope). */
  frontend?: CiliumBpfFrontend;
  /** The agent's service behind that frontend (its reverse-NAT id), with its Service's name. */
  service?: CiliumServiceEntry;
  /** host:port of the datapath's backends for the frontend, sorted. */
  endpoints: string[];
  /** Frontends whose agent service is the Kubernetes Service ns/name, and frontends with a
   *  backend at one of `podIPs`: what a headless Service must not have. */
  mentions: number;
}

export function ciliumService(
  frontends: CiliumBpfFrontend[],
  services: CiliumServiceEntry[],
  ns: string,
  name: string,
  vip: string,
  protocol: string,
  port: number,
  podIPs: string[] = [],
): CiliumService {
  const frontend = frontends.find((f) => f.address === vip && f.port === port && f.protocol === protocol.toUpperCase() && !f.internal);
  const service = frontend ? services.find((s) => s.id === frontend.revNat) : undefined;
  const ids = new Set(services.filter((s) => s.namespace === ns && s.name === name).map((s) => s.id));
  const hostOf = (b: string): string => b.replace(/^\[/, '').replace(/\]?:\d+$/, '');
  const mentions = frontends.filter((f) => ids.has(f.revNat) || f.backends.some((b) => podIPs.includes(hostOf(b)))).length;
  return { frontend, service, endpoints: [...(frontend?.backends ?? [])].sort(), mentions };
}
