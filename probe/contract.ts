// The JSON contract between the in-cluster probe (probe.ts) and the suites.
// Both sides import these types; the probe prints exactly these shapes.

export type DnsRecordType = 'A' | 'AAAA' | 'SRV' | 'PTR' | 'TXT' | 'CNAME' | 'SOA' | 'NS' | 'ANY';

export interface DnsQuestion {
  name: string;
  type: DnsRecordType;
  /** Server IP to ask. */
  server: string;
  port?: number;
  /** Force TCP from the start (otherwise UDP, falling back to TCP when TC is set). */
  tcp?: boolean;
  /** Never fall back to TCP: report the truncated UDP answer as it is. */
  noTcpFallback?: boolean;
  /** Advertise this EDNS0 UDP payload size (no OPT record when absent). */
  edns?: number;
  timeoutMs?: number;
}

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** A/AAAA: the address; CNAME/PTR/NS: the target name; TXT: the joined strings;
   *  SRV: "priority weight port target"; SOA: "mname rname serial refresh retry expire minimum". */
  data: string;
}

export interface DnsAnswer {
  question: DnsQuestion;
  /** 'udp', 'tcp', or 'udp+tcp' when a truncated UDP answer was retried over TCP. */
  transport: 'udp' | 'tcp' | 'udp+tcp';
  rcode?: string;
  flags?: { aa: boolean; tc: boolean; rd: boolean; ra: boolean };
  /** TC as seen on the UDP answer, before any TCP fallback. */
  udpTruncated?: boolean;
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  ms: number;
  error?: string;
}

export interface ResolveResult {
  name: string;
  family: 0 | 4 | 6;
  addresses: string[];
  error?: string;
  ms: number;
}

/** tcp: a new connection per attempt (WHO line protocol); http: a new connection per
 *  request; http-keepalive: every request on one HTTP/1.1 connection; http2: every
 *  request on one HTTP/2 (h2c) connection; grpc: unary calls on one grpc-js channel. */
export type ConnectMode = 'tcp' | 'http' | 'http-keepalive' | 'http2' | 'grpc';

export interface ConnectRequest {
  host: string;
  port: number;
  count: number;
  mode: ConnectMode;
  timeoutMs?: number;
  /** grpc: the channel target (e.g. dns:///svc.ns.svc.zone:50051); host:port when absent. */
  target?: string;
  /** grpc: the load-balancing policy of the channel. */
  lbPolicy?: 'round_robin' | 'pick_first';
}

export interface Backend {
  pod: string;
  ip: string;
  port: number;
}

export interface ConnectAttempt {
  backend?: Backend;
  /** The address the connection was made to (after name resolution). */
  remote?: string;
  error?: string;
  ms: number;
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export interface ProbeIdentity {
  pod: string;
  ips: string[];
  resolvConf: ResolvConf;
}

/** dns-watch: ask the same questions every intervalMs and keep the changes, until
 *  every answer is one record, outside `exclude`, the same at every question, and
 *  has stayed so for stableMs; or until timeoutMs. */
export interface DnsWatchRequest {
  questions: DnsQuestion[];
  exclude: string[];
  intervalMs: number;
  stableMs: number;
  timeoutMs: number;
}

export interface DnsWatchChange {
  /** Epoch ms (the probe node's clock). */
  t: number;
  rcode?: string;
  set: string[];
  error?: string;
}

export interface DnsWatchResult {
  ended: 'stable' | 'timeout';
  startedAt: number;
  endedAt: number;
  samples: number;
  series: { question: DnsQuestion; changes: DnsWatchChange[] }[];
}
