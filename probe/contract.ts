// The JSON contract between the in-cluster probe (probe.ts) and the suites.
// Both sides import these types; the probe prints exactly these shapes, and both check
// them at run time against the schemas of the command map below.
import { arr, bool, num, nul, obj, oneOf, opt, rec, type Schema, str } from './schema.ts';

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
  /** The question's class: IN when absent; CH for the server's own identity (version.bind). */
  class?: 'IN' | 'CH';
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

/** tcp: a new connection per attempt (WHO line protocol); udp: one WHO datagram per
 *  attempt, from a new socket (or from sourcePort); http: a new connection per
 *  request; http-keepalive: every request on one HTTP/1.1 connection; http2: every
 *  request on one HTTP/2 (h2c) connection; grpc: unary calls on one grpc-js channel. */
export type ConnectMode = 'tcp' | 'udp' | 'http' | 'http-keepalive' | 'http2' | 'grpc';

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
  /** grpc: before the counted calls, uncounted calls on the same channel until this many
   *  distinct backends have answered (a round_robin channel is READY with its first
   *  subchannel; the others connect on their own time), within max(5 × timeout, 15 s).
   *  The time is the first attempt's settleMs; absent when it did not settle. */
  settleBackends?: number;
  /** tcp, udp: bind the client socket to this local port (every attempt from the same
   *  source address and port: one conntrack entry). */
  sourcePort?: number;
}

export interface Backend {
  pod: string;
  ip: string;
  port: number;
  /** The client as the backend saw it: the source address and port of the connection
   *  or datagram (after any NAT on the way). */
  client?: string;
  clientPort?: number;
}

export interface ConnectAttempt {
  backend?: Backend;
  /** The address the connection was made to (after name resolution). */
  remote?: string;
  /** The client's own end of the connection: its source address and port. */
  local?: string;
  localPort?: number;
  error?: string;
  ms: number;
  /** grpc with settleBackends: ms from the channel's READY until that many backends answered. */
  settleMs?: number;
}

export interface HttpGetRequest {
  url: string;
  timeoutMs?: number;
}

export interface HttpGetResult {
  url: string;
  status?: number;
  body: string;
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

/** dns-load: a steady query load, one UDP exchange per query (no resend: a lost query is
 *  an error, not a slow answer), sent at qps for durationMs over the questions in turn. */
export interface DnsLoadRequest {
  questions: DnsQuestion[];
  qps: number;
  durationMs: number;
}

export interface DnsLoadResult {
  sent: number;
  /** Answers by rcode. */
  rcodes: Record<string, number>;
  /** Queries without an answer within the question's timeout, and other errors, by message. */
  errors: Record<string, number>;
  /** Each answered query's time, ms, in the order sent. */
  ms: number[];
}

// ------------------------------------------------------------------- the command map
// One map of the probe's commands: the argument each takes and the JSON it prints, with
// runtime schemas that both sides check (the probe its argument, the suites its output).

const question = obj({
  name: str,
  type: oneOf('A', 'AAAA', 'SRV', 'PTR', 'TXT', 'CNAME', 'SOA', 'NS', 'ANY'),
  server: str,
  port: opt(num),
  tcp: opt(bool),
  noTcpFallback: opt(bool),
  edns: opt(num),
  timeoutMs: opt(num),
  class: opt(oneOf('IN', 'CH')),
});
const record = obj({ name: str, type: str, ttl: num, data: str });
const answer = obj({
  question,
  transport: oneOf('udp', 'tcp', 'udp+tcp'),
  rcode: opt(str),
  udpTruncated: opt(bool),
  flags: opt(obj({ aa: bool, tc: bool, rd: bool, ra: bool })),
  answers: arr(record),
  authority: arr(record),
  additional: arr(record),
  ms: num,
  error: opt(str),
});
const backend = obj({ pod: str, ip: str, port: num, client: opt(str), clientPort: opt(num) });

export interface Commands {
  dns: { args: DnsQuestion[]; result: DnsAnswer[] };
  'dns-watch': { args: DnsWatchRequest; result: DnsWatchResult };
  'dns-load': { args: DnsLoadRequest; result: DnsLoadResult };
  resolve: { args: string[]; result: ResolveResult[] };
  connect: { args: ConnectRequest; result: ConnectAttempt[] };
  'http-get': { args: HttpGetRequest; result: HttpGetResult };
  whoami: { args: null; result: ProbeIdentity };
  'set-ready': { args: boolean; result: { ready: boolean } };
}
export type CommandName = keyof Commands;

export const COMMANDS: { [K in CommandName]: { args: Schema; result: Schema } } = {
  dns: { args: arr(question), result: arr(answer) },
  'dns-watch': {
    args: obj({ questions: arr(question), exclude: arr(str), intervalMs: num, stableMs: num, timeoutMs: num }),
    result: obj({
      ended: oneOf('stable', 'timeout'),
      startedAt: num,
      endedAt: num,
      samples: num,
      series: arr(obj({ question, changes: arr(obj({ t: num, rcode: opt(str), set: arr(str), error: opt(str) })) })),
    }),
  },
  'dns-load': {
    args: obj({ questions: arr(question), qps: num, durationMs: num }),
    result: obj({ sent: num, rcodes: rec(num), errors: rec(num), ms: arr(num) }),
  },
  resolve: { args: arr(str), result: arr(obj({ name: str, family: oneOf(0, 4, 6), addresses: arr(str), error: opt(str), ms: num })) },
  connect: {
    args: obj({
      host: str,
      port: num,
      count: num,
      mode: oneOf('tcp', 'udp', 'http', 'http-keepalive', 'http2', 'grpc'),
      timeoutMs: opt(num),
      target: opt(str),
      lbPolicy: opt(oneOf('round_robin', 'pick_first')),
      settleBackends: opt(num),
      sourcePort: opt(num),
    }),
    result: arr(
      obj({ backend: opt(backend), remote: opt(str), local: opt(str), localPort: opt(num), error: opt(str), ms: num, settleMs: opt(num) }),
    ),
  },
  'http-get': {
    args: obj({ url: str, timeoutMs: opt(num) }),
    result: obj({ url: str, status: opt(num), body: str, error: opt(str), ms: num }),
  },
  whoami: {
    args: nul,
    result: obj({ pod: str, ips: arr(str), resolvConf: obj({ nameservers: arr(str), search: arr(str), options: arr(str) }) }),
  },
  'set-ready': { args: bool, result: obj({ ready: bool }) },
};

/** The argument codec: JSON in base64, so that no shell or exec layer touches it. */
export const encodeArg = (v: unknown): string => `b64:${Buffer.from(JSON.stringify(v)).toString('base64')}`;
export function decodeArg(s: string | undefined): unknown {
  if (s === undefined) return null;
  const text = s.startsWith('b64:') ? Buffer.from(s.slice(4), 'base64').toString() : s;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`the argument is not JSON: ${(e as Error).message}: ${text.slice(0, 200)}`);
  }
}
