// Pure parsers for what kube-proxy programs on a node: iptables-save text and
// `nft -j list table ip kube-proxy` JSON. Fed with real captured output in the unit
// tests (testdata/README.md says how it was captured).
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
  const h = base32(crypto.createHash('sha256').update(spn + protocol.toLowerCase()).digest()).slice(0, 16);
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
  const clusterIPRule = nat.rules.find((r) => r.chain === 'KUBE-SERVICES' && r.comment === `${spn} cluster IP` &&
    r.spec.includes(`-d ${vip}/32`) && new RegExp(`--dport ${port}(\\s|$)`).test(r.spec));
  const seps = clusterIPRule?.target ? nat.rules.filter((r) => r.chain === clusterIPRule.target && r.target?.startsWith('KUBE-SEP-')).map((r) => r.target!) : [];
  const endpoints = [...new Set(seps)].flatMap((sep) => nat.rules.filter((r) => r.chain === sep && r.target === 'DNAT')
    .map((r) => /--to-destination (\S+)/.exec(r.spec)?.[1] ?? '')).filter(Boolean).sort();
  const rejectRule = filter.rules.find((r) => r.comment === `${spn} has no endpoints` && r.target === 'REJECT');
  const [ns, rest] = spn.split('/');
  const svcName = `${ns}/${(rest ?? '').split(':')[0]}`;
  const mentions = [...tables.values()].flatMap((t) => t.rules.filter((r) => r.comment !== undefined &&
    (r.comment === svcName || r.comment.startsWith(`${svcName}:`) || r.comment.startsWith(`${svcName} `))));
  return { clusterIPRule, endpoints, rejectRule, mentions };
}

// ---------------------------------------------------------------------------- nftables
type NftObj = Record<string, unknown>;

export interface NftTable {
  chains: string[];
  sets: Map<string, unknown[]>;
  maps: Map<string, { key: string; value: string; comment?: string }[]>;
}

function elemText(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  const o = v as NftObj;
  if (o && typeof o === 'object') {
    if ('concat' in o) return (o.concat as unknown[]).map(elemText).join(' . ');
    if ('goto' in o) return `goto ${(o.goto as { target: string }).target}`;
    if ('jump' in o) return `jump ${(o.jump as { target: string }).target}`;
    if ('elem' in o) return elemText((o.elem as NftObj).val);
    if ('prefix' in o) { const p = o.prefix as { addr: string; len: number }; return `${p.addr}/${p.len}`; }
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
  const t: NftTable = { chains: [], sets: new Map(), maps: new Map() };
  for (const item of doc.nftables) {
    if ('chain' in item) t.chains.push((item.chain as { name: string }).name);
    if ('set' in item) {
      const s = item.set as { name: string; elem?: unknown[] };
      t.sets.set(s.name, (s.elem ?? []).map(elemText));
    }
    if ('map' in item) {
      const m = item.map as { name: string; elem?: unknown[][] };
      t.maps.set(m.name, (m.elem ?? []).map((pair) => ({ key: elemText(pair[0]), value: elemText(pair[1]), comment: elemComment(pair[0]) ?? elemComment(pair[1]) })));
    }
  }
  return t;
}

export interface NftService {
  serviceIPsElement?: { key: string; value: string };
  inClusterIPs: boolean;
  noEndpointElement?: { key: string; value: string; comment?: string };
  /** Endpoint chains of the Service port: ip/port after the "__". */
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
  const portPart = svcChain ? svcChain.slice(svcChain.indexOf(marker) + 1) : undefined;
  const endpoints = portPart ? chains.filter((c) => c.startsWith('endpoint-') && c.includes(`${portPart}__`))
    .map((c) => c.slice(c.indexOf('__') + 2).replace(/\/(\d+)$/, ':$1')).sort() : [];
  return { serviceIPsElement, inClusterIPs: (t.sets.get('cluster-ips') ?? []).includes(vip), noEndpointElement: noEp, endpoints, chains };
}
