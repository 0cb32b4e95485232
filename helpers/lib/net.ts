// Small address helpers.
import { BlockList, isIP } from 'node:net';

export function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return NaN;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

// Either family (node:net's BlockList).
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const family = isIP(base ?? '');
  if (!family || isIP(ip) !== family) return false; // another family is never inside
  const list = new BlockList();
  list.addSubnet(base!, Number(bitsText ?? (family === 4 ? 32 : 128)), family === 4 ? 'ipv4' : 'ipv6');
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** The reverse-lookup name of an address: d.c.b.a.in-addr.arpa for IPv4, the 32 nibbles
 *  reversed under ip6.arpa for IPv6 (RFC 3596 section 2.5). */
export function reverseName(ip: string): string {
  if (familyOf(ip) === 'IPv4') return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${expandIPv6(ip).replace(/:/g, '').split('').reverse().join('.')}.ip6.arpa`;
}

/** The full form of an IPv6 address: 8 groups of 4 hex digits. */
export function expandIPv6(ip: string): string {
  const [head, tail] = ip.toLowerCase().split('::') as [string, string | undefined];
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  let parts = groups(head);
  if (tail !== undefined) {
    const t = groups(tail);
    parts = [...parts, ...Array<string>(8 - parts.length - t.length).fill('0'), ...t];
  }
  const last = parts[parts.length - 1] ?? '';
  if (last.includes('.')) {
    const n = ipv4ToInt(last);
    parts.splice(parts.length - 1, 1, ((n >>> 16) & 0xffff).toString(16), (n & 0xffff).toString(16));
  }
  if (parts.length !== 8) throw new Error(`'${ip}' is not an IPv6 address`);
  return parts.map((g) => g.padStart(4, '0')).join(':');
}

export type IpFamily = 'IPv4' | 'IPv6';

/** The family of an address ('IPv4' or 'IPv6'); throws for anything else. */
export function familyOf(ip: string): IpFamily {
  const f = isIP(ip);
  if (!f) throw new Error(`'${ip}' is not an IP address`);
  return f === 4 ? 'IPv4' : 'IPv6';
}

/** The address record type of a family: A for IPv4, AAAA for IPv6. */
export const addressType = (f: IpFamily): 'A' | 'AAAA' => (f === 'IPv4' ? 'A' : 'AAAA');

/** The addresses of one family, in their order. */
export const ofFamily = (ips: readonly string[], f: IpFamily): string[] => ips.filter((ip) => isIP(ip) === (f === 'IPv4' ? 4 : 6));

/** host:port for a URL or a dial string: an IPv6 literal goes in brackets (RFC 3986). */
export const hostPort = (host: string, port: number | string): string => `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;

/** The outside address that the selectorless Services' hand-made endpoints name, in the
 *  cluster's primary family: DNS data only, never connected to. */
export const externalAddress = (f: IpFamily): string => (f === 'IPv4' ? '192.168.1.100' : '2001:db8::100');

/** A documentation address of the family (RFC 5737 for IPv4, RFC 3849 for IPv6), with a
 *  last part of `n` (1..254): DNS data, never connected to. */
export function docAddress(f: IpFamily, n: number): string {
  return f === 'IPv4' ? `192.0.2.${n}` : `2001:db8:1::${n.toString(16)}`;
}

/** The i-th address (0 ≤ i < 131072) of the family's benchmarking range (RFC 2544's
 *  198.18.0.0/15, RFC 5180's 2001:2::/48): endpoints that load a Service proxy's rules
 *  and are never connected to. */
export function benchAddress(f: IpFamily, i: number): string {
  const n = ((i % 131072) + 131072) % 131072;
  return f === 'IPv4'
    ? `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`
    : `2001:2::${(n >> 16).toString(16)}:${(n & 65535).toString(16)}`;
}
