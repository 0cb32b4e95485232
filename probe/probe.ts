// The in-cluster probe: one program, bundled into one CommonJS file (probe/build.mjs),
// shipped in a ConfigMap and run by a stock Node image. Subcommands print JSON
// (see contract.ts) on stdout:
//   idle [port...]           keep the Pod alive (exits on SIGTERM), serving on the ports
//   whoami                   Pod name, IPs and /etc/resolv.conf
//   dns <json DnsQuestion[]> ask DNS servers exact questions
//   dns-watch <json DnsWatchRequest>  follow answers over time (convergence)
//   resolve <json names[]>   the system resolver (getaddrinfo), as an application sees it
//   connect <json ConnectRequest>  N connections or HTTP requests; who answered each
//   http-get <json HttpGetRequest>  one HTTP GET: status and body (health checks)
//   serve <port|grpc:port>...  the backend: answers with its Pod name and IP, and the
//                            client's address as it saw it (TCP, HTTP and UDP on one port)
//   set-ready true|false     flip the backend's readiness (seen on GET /ready)
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import dnsPacket from 'dns-packet';
import * as grpc from '@grpc/grpc-js';
import type {
  Backend,
  ConnectAttempt,
  ConnectRequest,
  DnsAnswer,
  DnsQuestion,
  DnsRecord,
  DnsWatchChange,
  DnsWatchRequest,
  DnsWatchResult,
  DnsLoadRequest,
  DnsLoadResult,
  HttpGetRequest,
  HttpGetResult,
  ProbeIdentity,
  ResolvConf,
  ResolveResult,
  CommandName,
  Commands,
} from './contract.ts';
import { COMMANDS, decodeArg } from './contract.ts';
import { check } from './schema.ts';

// The probe's one reading of its environment (the Pod's downward API and the manifests'
// switches). It runs in a Pod as its own bundle and imports nothing of helpers/, so SVC_DRAIN
// is read here; helpers/config/variables.ts declares it.
const POD_ENV = {
  podName: process.env.POD_NAME,
  podIP: process.env.POD_IP,
  drain: process.env.SVC_DRAIN === '1',
};
/** Present: the backend answers /ready with 503 (the `set-ready` command makes and removes it). */
const NOT_READY_FILE = '/tmp/svc-not-ready';

function out(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function podIPs(): string[] {
  const ips: string[] = [];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal && !a.address.startsWith('fe80')) ips.push(a.address);
  }
  return ips;
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) conf.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') conf.search = rest;
    else if (key === 'options') conf.options.push(...rest);
  }
  return conf;
}

// ---------------------------------------------------------------------------- dns
function recordData(r: dnsPacket.Answer): string {
  const d = (r as { data?: unknown }).data;
  switch (r.type) {
    case 'SRV': {
      const s = d as dnsPacket.SrvData;
      return `${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${s.target}`;
    }
    case 'SOA': {
      const s = d as dnsPacket.SoaData;
      return `${s.mname} ${s.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    case 'TXT': {
      const parts = Array.isArray(d) ? d : [d];
      return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('');
    }
    case 'OPT':
      return '';
    default:
      return Buffer.isBuffer(d) ? d.toString('hex') : String(d);
  }
}

function records(list: dnsPacket.Answer[] | undefined): DnsRecord[] {
  return (list ?? [])
    .filter((r) => r.type !== 'OPT')
    .map((r) => ({ name: r.name, type: r.type, ttl: (r as { ttl?: number }).ttl ?? 0, data: recordData(r) }));
}

function encodeQuery(q: DnsQuestion, id: number): Buffer {
  const packet: dnsPacket.Packet = {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: q.type as dnsPacket.RecordType, name: q.name, class: q.class ?? 'IN' }],
  };
  if (q.edns) {
    packet.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: q.edns, flags: 0, options: [] } as unknown as dnsPacket.Answer];
  }
  return dnsPacket.encode(packet);
}

type Decoded = dnsPacket.Packet & { rcode?: string; flag_tc?: boolean; flag_aa?: boolean; flag_rd?: boolean; flag_ra?: boolean };

function udpExchange(q: DnsQuestion, timeoutMs: number): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const id = Math.floor(Math.random() * 65535);
    const sock = dgram.createSocket(net.isIPv6(q.server) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP answer from ${q.server} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', (msg) => {
      const p = dnsPacket.decode(msg) as Decoded;
      if (p.id !== id) return;
      clearTimeout(timer);
      sock.close();
      resolve(p);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.send(encodeQuery(q, id), q.port ?? 53, q.server);
  });
}

function tcpExchange(q: DnsQuestion, timeoutMs: number): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const id = Math.floor(Math.random() * 65535);
    const sock = net.connect({ host: q.server, port: q.port ?? 53 });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no TCP answer from ${q.server} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => {
      const msg = encodeQuery(q, id);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(dnsPacket.decode(buf.subarray(2, 2 + len)) as Decoded);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export async function ask(q: DnsQuestion): Promise<DnsAnswer> {
  const timeoutMs = q.timeoutMs ?? 2000;
  const start = process.hrtime.bigint();
  const base = { question: q, answers: [], authority: [], additional: [] };
  const ms = (): number => Number(process.hrtime.bigint() - start) / 1e6;
  let transport: DnsAnswer['transport'] = q.tcp ? 'tcp' : 'udp';
  try {
    let p: Decoded;
    let udpTruncated: boolean | undefined;
    if (q.tcp) {
      p = await tcpExchange(q, timeoutMs);
    } else {
      // One resend on a lost UDP datagram; an answer, right or wrong, is never retried.
      p = await udpExchange(q, timeoutMs).catch(() => udpExchange(q, timeoutMs));
      udpTruncated = Boolean(p.flag_tc);
      if (p.flag_tc && !q.noTcpFallback) {
        p = await tcpExchange(q, timeoutMs);
        transport = 'udp+tcp';
      }
    }
    return {
      ...base,
      transport,
      rcode: p.rcode ?? 'NOERROR',
      udpTruncated,
      flags: { aa: Boolean(p.flag_aa), tc: Boolean(p.flag_tc), rd: Boolean(p.flag_rd), ra: Boolean(p.flag_ra) },
      answers: records(p.answers),
      authority: records(p.authorities),
      additional: records(p.additionals),
      ms: ms(),
    };
  } catch (e) {
    return { ...base, transport, error: (e as Error).message, ms: ms() };
  }
}

async function dnsWatch(r: DnsWatchRequest): Promise<DnsWatchResult> {
  const startedAt = Date.now();
  const series = r.questions.map((question) => ({ question, changes: [] as DnsWatchChange[] }));
  const key = (c: DnsWatchChange): string => `${c.rcode ?? ''}|${c.error ?? ''}|${c.set.join(',')}`;
  let stableSince: number | undefined;
  let samples = 0;
  for (;;) {
    const t = Date.now();
    const answers = await Promise.all(r.questions.map((q) => ask({ ...q, timeoutMs: q.timeoutMs ?? 1000 })));
    samples++;
    answers.forEach((a, i) => {
      const set = a.answers
        .filter((x) => x.type === a.question.type)
        .map((x) => x.data)
        .sort();
      const c: DnsWatchChange = { t, rcode: a.rcode, set, error: a.error };
      const s = series[i]!;
      const last = s.changes[s.changes.length - 1];
      if (!last || key(last) !== key(c)) s.changes.push(c);
    });
    const sets = answers.map((a) => a.answers.filter((x) => x.type === a.question.type).map((x) => x.data));
    const settled =
      sets.every((s) => s.length === 1 && !r.exclude.includes(s[0]!) && s[0] === sets[0]![0]) &&
      answers.every((a) => a.rcode === 'NOERROR');
    if (!settled) stableSince = undefined;
    else stableSince ??= t;
    if (stableSince !== undefined && Date.now() - stableSince >= r.stableMs)
      return { ended: 'stable', startedAt, endedAt: Date.now(), samples, series };
    if (Date.now() - startedAt >= r.timeoutMs) return { ended: 'timeout', startedAt, endedAt: Date.now(), samples, series };
    await new Promise((res) => setTimeout(res, Math.max(0, r.intervalMs - (Date.now() - t))));
  }
}

/** A steady load: one query every 1000/qps ms (the questions in turn), each a single UDP
 *  exchange; every answer's time is kept. Sends on schedule whether or not earlier
 *  queries were answered, so a slow server shows as latency, not as fewer queries. */
async function dnsLoad(r: DnsLoadRequest): Promise<DnsLoadResult> {
  const out: DnsLoadResult = { sent: 0, rcodes: {}, errors: {}, ms: [] };
  const total = Math.max(1, Math.round((r.qps * r.durationMs) / 1000));
  const start = Date.now();
  const pending: Promise<void>[] = [];
  const times: number[] = new Array<number>(total).fill(-1);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / r.qps;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    const q = r.questions[i % r.questions.length]!;
    out.sent++;
    const t0 = process.hrtime.bigint();
    pending.push(
      udpExchange(q, q.timeoutMs ?? 2000).then(
        (p) => {
          times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
          const rc = p.rcode ?? 'NOERROR';
          out.rcodes[rc] = (out.rcodes[rc] ?? 0) + 1;
        },
        (e: Error) => {
          const k = e.message.replace(/ within \d+ ms$/, '');
          out.errors[k] = (out.errors[k] ?? 0) + 1;
        },
      ),
    );
  }
  await Promise.all(pending);
  out.ms = times.filter((t) => t >= 0).map((t) => Math.round(t * 100) / 100);
  return out;
}

// ---------------------------------------------------------------------------- resolve
async function resolveName(name: string): Promise<ResolveResult> {
  const start = Date.now();
  try {
    const addrs = await dns.promises.lookup(name, { all: true, verbatim: true });
    return { name, family: 0, addresses: addrs.map((a) => a.address), ms: Date.now() - start };
  } catch (e) {
    return { name, family: 0, addresses: [], error: (e as NodeJS.ErrnoException).code ?? String(e), ms: Date.now() - start };
  }
}

// ---------------------------------------------------------------------------- connect
function parseBackend(text: string): Backend | undefined {
  try {
    const v = JSON.parse(text) as Backend;
    return typeof v.pod === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

const unmapped = (a: string | undefined): string | undefined => a?.replace(/^::ffff:(?=\d+\.)/, '');

export function tcpWho(host: string, port: number, timeoutMs: number, sourcePort?: number): Promise<ConnectAttempt> {
  const start = Date.now();
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, ...(sourcePort ? { localPort: sourcePort } : {}) });
    let data = '';
    const ends = (): Pick<ConnectAttempt, 'remote' | 'local' | 'localPort'> => ({
      remote: sock.remoteAddress,
      local: unmapped(sock.localAddress),
      localPort: sock.localPort,
    });
    const done = (a: Omit<ConnectAttempt, 'ms'>): void => {
      sock.destroy();
      resolve({ ...a, ms: Date.now() - start });
    };
    sock.setTimeout(timeoutMs, () => done({ error: `ETIMEDOUT after ${timeoutMs} ms`, ...ends() }));
    sock.on('connect', () => sock.write('WHO\n'));
    sock.on('data', (c) => {
      data += c.toString();
      if (data.includes('\n')) done({ backend: parseBackend(data.split('\n')[0] ?? ''), ...ends() });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    sock.on('end', () => {
      if (!data.includes('\n')) done({ error: 'closed without an answer', ...ends() });
    });
  });
}

/** One WHO datagram on a connected UDP socket; the answer is the backend's identity. An
 *  ICMP port unreachable reads as ECONNREFUSED; no answer within the timeout is an error.
 *  Like a DNS client, it resends once, halfway through the timeout, on the same socket (a
 *  lost datagram is not a wrong answer; an answer, right or wrong, is never retried). */
export function udpWho(host: string, port: number, timeoutMs: number, sourcePort?: number): Promise<ConnectAttempt> {
  const start = Date.now();
  return new Promise((resolve) => {
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: Boolean(sourcePort) });
    let finished = false;
    const done = (a: Omit<ConnectAttempt, 'ms'>): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(resend);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve({ ...a, ms: Date.now() - start });
    };
    const ends = (): Pick<ConnectAttempt, 'remote' | 'local' | 'localPort'> => {
      try {
        const l = sock.address();
        return { remote: host, local: l.address, localPort: l.port };
      } catch {
        return { remote: host };
      }
    };
    const timer = setTimeout(() => done({ error: `no UDP answer within ${timeoutMs} ms (sent twice)`, ...ends() }), timeoutMs);
    const resend = setTimeout(() => {
      try {
        if (!finished) sock.send('WHO\n');
      } catch {
        /* not connected yet: the timeout tells */
      }
    }, timeoutMs / 2);
    sock.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message, ...ends() }));
    sock.on('message', (msg) => done({ backend: parseBackend(msg.toString().split('\n')[0] ?? ''), ...ends() }));
    sock.bind(sourcePort ?? 0, () => {
      // A connect error (no route) arrives as the socket's 'error'.
      sock.connect(port, host, () => sock.send('WHO\n'));
    });
  });
}

function httpWho(agent: http.Agent | false, host: string, port: number, timeoutMs: number): Promise<ConnectAttempt> {
  const start = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/who', agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () =>
        resolve({
          backend: parseBackend(body),
          remote: res.socket?.remoteAddress,
          local: unmapped(res.socket?.localAddress),
          localPort: res.socket?.localPort,
          ms: Date.now() - start,
        }),
      );
    });
    req.on('timeout', () => {
      req.destroy(new Error(`ETIMEDOUT after ${timeoutMs} ms`));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message, ms: Date.now() - start }));
  });
}

async function http2Who(r: ConnectRequest, timeoutMs: number): Promise<ConnectAttempt[]> {
  const session = http2.connect(`http://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`);
  session.on('error', () => undefined);
  const results: ConnectAttempt[] = [];
  for (let i = 0; i < r.count; i++) {
    const start = Date.now();
    results.push(
      await new Promise<ConnectAttempt>((resolve) => {
        const req = session.request({ ':path': '/who' });
        let body = '';
        const timer = setTimeout(() => {
          req.close();
          resolve({ error: `ETIMEDOUT after ${timeoutMs} ms`, ms: Date.now() - start });
        }, timeoutMs);
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          clearTimeout(timer);
          resolve({ backend: parseBackend(body), remote: session.socket?.remoteAddress, ms: Date.now() - start });
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          resolve({ error: e.code ?? e.message, ms: Date.now() - start });
        });
        req.end();
      }),
    );
  }
  session.close();
  return results;
}

const WHO_METHOD = '/svcconformance.Probe/Who';
const identity = (b: Buffer): Buffer => b;

async function grpcWho(r: ConnectRequest, timeoutMs: number): Promise<ConnectAttempt[]> {
  // A literal IPv6 address is bracketed in a target (gRPC's naming: [addr]:port).
  const target = r.target ?? `${net.isIPv6(r.host) ? `[${r.host}]` : r.host}:${r.port}`;
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [r.lbPolicy ?? 'pick_first']: {} }] }),
    // The service config is given: no TXT lookup for one.
    'grpc.service_config_disable_resolution': 1,
  });
  // The channel first resolves the name (the client's own DNS lookups, with the search
  // list) and connects; that is not what the calls measure, so it gets its own, longer
  // deadline, and each call's deadline starts once the channel is ready. A channel that
  // does not get ready is one error, with the time it took.
  const readyStart = Date.now();
  const notReady = await new Promise<Error | undefined>((resolve) =>
    client.waitForReady(Date.now() + Math.max(5 * timeoutMs, 15_000), (e) => resolve(e ?? undefined)),
  );
  if (notReady) {
    client.close();
    return [
      { error: `channel to ${target} not ready after ${Date.now() - readyStart} ms: ${notReady.message}`, ms: Date.now() - readyStart },
    ];
  }
  const call = (): Promise<ConnectAttempt> => {
    const start = Date.now();
    return new Promise<ConnectAttempt>((resolve) => {
      client.makeUnaryRequest(WHO_METHOD, identity, identity, Buffer.alloc(0), { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) resolve({ error: `${grpc.status[err.code] ?? err.code}: ${err.details}`, ms: Date.now() - start });
        else resolve({ backend: parseBackend(value?.toString() ?? ''), ms: Date.now() - start });
      });
    });
  };
  // Settle: the channel is READY with one subchannel; wait (bounded) until the others
  // answer too, so the counted calls see the balancer with every backend connected.
  let settleMs: number | undefined;
  if (r.settleBackends) {
    const seen = new Set<string>();
    const settleStart = Date.now();
    const settleEnd = settleStart + Math.max(5 * timeoutMs, 15_000);
    while (seen.size < r.settleBackends && Date.now() < settleEnd) {
      const a = await call();
      if (a.backend) seen.add(a.backend.pod);
      else await new Promise((res) => setTimeout(res, 50));
      if (seen.size < r.settleBackends) await new Promise((res) => setTimeout(res, 20));
    }
    if (seen.size >= r.settleBackends) settleMs = Date.now() - settleStart;
  }
  const results: ConnectAttempt[] = [];
  for (let i = 0; i < r.count; i++) results.push(await call());
  client.close();
  if (settleMs !== undefined && results[0]) results[0].settleMs = settleMs;
  return results;
}

async function connect(r: ConnectRequest): Promise<ConnectAttempt[]> {
  const timeoutMs = r.timeoutMs ?? 3000;
  if (r.mode === 'http2') return http2Who(r, timeoutMs);
  if (r.mode === 'grpc') return grpcWho(r, timeoutMs);
  const results: ConnectAttempt[] = [];
  const agent = r.mode === 'http-keepalive' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  for (let i = 0; i < r.count; i++) {
    if (r.mode === 'tcp') results.push(await tcpWho(r.host, r.port, timeoutMs, r.sourcePort));
    else if (r.mode === 'udp') results.push(await udpWho(r.host, r.port, timeoutMs, r.sourcePort));
    else results.push(await httpWho(agent, r.host, r.port, timeoutMs));
  }
  if (agent) agent.destroy();
  return results;
}

/** One plain HTTP GET: the status and body as they came (a health check endpoint). */
function httpGet(r: HttpGetRequest): Promise<HttpGetResult> {
  const start = Date.now();
  const timeoutMs = r.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const req = http.get(r.url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ url: r.url, status: res.statusCode, body: body.slice(0, 4096), ms: Date.now() - start }));
    });
    req.on('timeout', () => {
      req.destroy(new Error(`ETIMEDOUT after ${timeoutMs} ms`));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ url: r.url, body: '', error: e.code ?? e.message, ms: Date.now() - start }));
  });
}

// ---------------------------------------------------------------------------- serve
function serveGrpc(port: number, pod: string, ip: string): void {
  const server = new grpc.Server();
  const who = Buffer.from(JSON.stringify({ pod, ip, port } satisfies Backend));
  server.addService(
    {
      Who: {
        path: WHO_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Who: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, who),
    },
  );
  // Both families on one socket ([::] takes IPv4 too); IPv4 alone where the Pod has no IPv6.
  const bind = (host: string, fallback?: string): void =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
      if (err && fallback) return bind(fallback);
      if (err) throw err;
      process.stderr.write(`serving gRPC ${pod} ${ip} on ${host}:${port}\n`);
    });
  bind('[::]', '0.0.0.0');
}

/** Ports are numbers (WHO line protocol, HTTP/1.1 and h2c on one TCP port, and WHO
 *  datagrams on the same UDP port) or grpc:<port>. Every answer names the Pod and the
 *  client as this Pod saw it (source address and port, after any NAT on the way). */
function serve(specs: string[]): void {
  const pod = POD_ENV.podName ?? os.hostname();
  const ip = POD_ENV.podIP ?? podIPs()[0] ?? '';
  for (const spec of specs) {
    if (spec.startsWith('grpc:')) {
      serveGrpc(Number(spec.slice(5)), pod, ip);
      continue;
    }
    const port = Number(spec);
    const who = (client: string | undefined, clientPort: number | undefined): string =>
      JSON.stringify({ pod, ip, port, client: unmapped(client), clientPort } satisfies Backend);
    const answer = (req: http.IncomingMessage | http2.Http2ServerRequest): [number, string] => {
      if (req.url === '/ready') {
        const ready = !fs.existsSync(NOT_READY_FILE);
        return ready ? [200, 'ready\n'] : [503, 'not ready\n'];
      }
      // The h2c socket is the inner loopback pipe: its client is the outer connection's.
      const outer = (req.headers['x-svc-client'] as string | undefined)?.split(' ');
      return [200, who(outer?.[0] ?? req.socket.remoteAddress, outer ? Number(outer[1]) : req.socket.remotePort) + '\n'];
    };
    const httpServer = http.createServer((req, res) => {
      const [code, body] = answer(req);
      res.writeHead(code).end(body);
    });
    // HTTP/2 (h2c, prior knowledge) is served on an internal loopback port: the HTTP/2
    // server reads its socket natively, so sniffed connections are piped to it.
    const h2Clients = new Map<number, string>();
    const h2Server = http2.createServer((req, res) => {
      const outer = h2Clients.get(req.socket.remotePort ?? 0);
      if (outer) req.headers['x-svc-client'] = outer;
      const [code, body] = answer(req);
      res.writeHead(code).end(body);
    });
    h2Server.listen(0, '127.0.0.1');
    // One port speaks both: a line protocol ("WHO\n" -> identity line) and HTTP/1.1.
    const server = net.createServer((sock) => {
      sock.once('data', (first) => {
        if (first.subarray(0, 4).toString() === 'WHO\n') {
          sock.end(who(sock.remoteAddress, sock.remotePort) + '\n');
          return;
        }
        if (first.subarray(0, 3).toString() === 'PRI') {
          // h2c with prior knowledge starts with the HTTP/2 connection preface.
          const inner = net.connect((h2Server.address() as net.AddressInfo).port, '127.0.0.1');
          inner.on('connect', () => h2Clients.set(inner.localPort ?? 0, `${sock.remoteAddress} ${sock.remotePort}`));
          inner.on('error', () => sock.destroy());
          sock.on('close', () => {
            h2Clients.delete(inner.localPort ?? 0);
            inner.destroy();
          });
          inner.write(first);
          sock.pipe(inner).pipe(sock);
          return;
        }
        sock.pause();
        sock.unshift(first);
        httpServer.emit('connection', sock);
        sock.resume();
      });
      sock.on('error', () => sock.destroy());
    });
    server.listen(port, () => process.stderr.write(`serving ${pod} ${ip} on ${port}\n`));
    // UDP on the same port number: a WHO datagram gets the identity datagram back. One
    // dual-stack socket where the Pod has IPv6, else IPv4 only.
    const bindUdp = (type: 'udp6' | 'udp4'): void => {
      const udp = dgram.createSocket({ type, ipv6Only: false });
      udp.on('message', (msg, rinfo) => {
        if (msg.subarray(0, 3).toString() === 'WHO') udp.send(who(rinfo.address, rinfo.port) + '\n', rinfo.port, rinfo.address);
      });
      udp.on('error', (e) => {
        udp.close();
        if (type === 'udp6') bindUdp('udp4');
        else process.stderr.write(`no UDP on ${port}: ${e.message}\n`);
      });
      udp.bind(port, () => process.stderr.write(`serving ${pod} ${ip} on ${port}/udp (${type})\n`));
    };
    bindUdp('udp6');
  }
}

// ---------------------------------------------------------------------------- main
/** The command's argument, decoded and checked against the command map. */
function readArg<K extends CommandName>(cmd: K, arg: string | undefined): Commands[K]['args'] {
  return check<Commands[K]['args']>(COMMANDS[cmd].args, decodeArg(arg), `the ${cmd} argument`);
}

class UsageError extends Error {}

/** One command's answer (the commands a suite asks; idle and serve are long-lived). */
async function answer(cmd: string, arg: string | undefined): Promise<unknown> {
  switch (cmd) {
    case 'whoami': {
      const id: ProbeIdentity = {
        pod: POD_ENV.podName ?? os.hostname(),
        ips: podIPs(),
        resolvConf: parseResolvConf(fs.readFileSync('/etc/resolv.conf', 'utf8')),
      };
      return id;
    }
    case 'dns':
      return Promise.all(readArg('dns', arg).map((q) => ask(q)));
    case 'dns-watch':
      return dnsWatch(readArg('dns-watch', arg));
    case 'dns-load':
      return dnsLoad(readArg('dns-load', arg));
    case 'resolve':
      return Promise.all(readArg('resolve', arg).map((n) => resolveName(n)));
    case 'connect':
      return connect(readArg('connect', arg));
    case 'http-get':
      return httpGet(readArg('http-get', arg));
    case 'set-ready': {
      const ready = readArg('set-ready', arg);
      if (!ready) fs.writeFileSync(NOT_READY_FILE, '');
      else fs.rmSync(NOT_READY_FILE, { force: true });
      return { ready };
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

/** A session: one exec that answers many commands, so that a suite pays for one process
 *  (and one exec through the API server, kubelet and runtime) per probe, not per question.
 *  Requests are lines on stdin, {"id":1,"cmd":"dns","arg":"<encoded>"}; each answer is one
 *  line, {"id":1,"result":...} or {"id":1,"error":"..."}, in the order they finish. It ends
 *  with stdin (after the answers under way). An error no command caught ends it with {"fatal":"..."}. */
function session(): void {
  const fatal = (e: unknown): void => {
    out({ fatal: (e as Error).stack ?? String(e) });
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  let buf = '';
  let inflight = 0;
  let ended = false;
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let req: { id?: unknown; cmd?: unknown; arg?: unknown };
      try {
        req = JSON.parse(line) as typeof req;
      } catch {
        out({ error: `not a JSON request: ${line.slice(0, 200)}` });
        continue;
      }
      const id = req.id;
      inflight++;
      answer(String(req.cmd), typeof req.arg === 'string' ? req.arg : undefined)
        .then((result) => out({ id, result }))
        .catch((e: unknown) => out({ id, error: (e as Error).message ?? String(e) }))
        .finally(() => {
          if (--inflight === 0 && ended) process.exit(0);
        });
    }
  });
  // The end of stdin: the answers still being worked out are given, then it exits.
  process.stdin.on('end', () => {
    ended = true;
    if (inflight === 0) process.exit(0);
  });
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case 'idle':
      // Idles; with ports, also answers as a backend on them (for Pod-to-Pod checks).
      process.on('SIGTERM', () => process.exit(0));
      if (args.length) serve(args);
      else setInterval(() => undefined, 1 << 30);
      return;
    case 'session':
      session();
      return;
    case 'serve':
      // SVC_DRAIN=1: keep serving after SIGTERM (a Pod draining its connections): it stays
      // serving while terminating, until the kubelet kills it at its grace period's end.
      process.on('SIGTERM', () => {
        if (POD_ENV.drain) process.stderr.write('SIGTERM: still serving (draining)\n');
        else process.exit(0);
      });
      serve(args);
      return;
    default:
      try {
        out(await answer(cmd ?? '', args[0]));
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write('usage: probe idle|session|whoami|dns|dns-watch|resolve|connect|http-get|serve|set-ready ...\n');
        process.exit(2);
      }
  }
}

if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`probe: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
