// The probe runtime: the bundled probe goes into a ConfigMap, long-lived probe Pods run
// it on the stock Node image, and commands return JSON through one exec session per
// probe container (probe.cjs session), opened at the first command and closed with the suite.
import { countCost } from './cost.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type {
  CommandName,
  Commands,
  ConnectAttempt,
  ConnectRequest,
  DnsAnswer,
  DnsQuestion,
  DnsWatchRequest,
  DnsWatchResult,
  DnsLoadRequest,
  DnsLoadResult,
  HttpGetRequest,
  HttpGetResult,
  ProbeIdentity,
  ResolveResult,
} from '../../probe/contract.ts';
import { COMMANDS, encodeArg } from '../../probe/contract.ts';
import { check } from '../../probe/schema.ts';
import { apply, ROOT } from './apply.ts';
import { apiErrorText, kube } from './kube.ts';
import { isProbeNode, isSchedulable } from './nodes.ts';
import { podsReady } from './workloads.ts';
import { currentTarget } from '../config/target.ts';

export const PROBE_BUNDLE = path.join(ROOT, 'dist', 'probe.cjs');
export const PROBE_CONFIGMAP = 'svc-probe';

export async function installProbeBundle(ns: string): Promise<void> {
  let code: string;
  try {
    code = fs.readFileSync(PROBE_BUNDLE, 'utf8');
  } catch {
    throw new Error(`${PROBE_BUNDLE} is missing: build it with 'npm run build:probe' (global setup does this)`);
  }
  try {
    await kube().core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: PROBE_CONFIGMAP }, data: { 'probe.cjs': code } },
    });
  } catch (e) {
    throw new Error(`cannot create the probe ConfigMap in ${ns}: ${apiErrorText(e)}`);
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function execIn(ns: string, pod: string, container: string, command: string[], timeoutMs = 60_000): Promise<ExecResult> {
  const exec = new k8s.Exec(kube().kc);
  countCost('execSessions');
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  return new Promise<ExecResult>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `exec in ${ns}/${pod} timed out after ${timeoutMs} ms: ` + `${command.join(' ').slice(0, 300)}\nstderr so far: ${stderr}`,
          ),
        ),
      timeoutMs,
    );
    exec
      .exec(
        ns,
        pod,
        container,
        command,
        sink((s) => {
          stdout += s;
        }),
        sink((s) => {
          stderr += s;
        }),
        null,
        false,
        (status) => {
          clearTimeout(timer);
          let exitCode = 0;
          if (status.status !== 'Success') {
            const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
            exitCode = cause?.message ? Number(cause.message) : 1;
          }
          // Output frames can trail the status frame: let them land.
          setImmediate(() => resolve({ stdout, stderr, exitCode }));
        },
      )
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(new Error(`exec in ${ns}/${pod} failed: ${apiErrorText(e)}`));
      });
  });
}

interface Pending {
  cmd: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One `probe.cjs session` exec in a container: requests are lines on its stdin, answers
 *  lines on its stdout, matched by id. It ends when the process or the connection does (the
 *  Pod deleted, the suite's namespace removed); the next command opens a new one. */
class Session {
  private readonly stdin = new PassThrough();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buf = '';
  private stderr = '';
  private ws: { close(): void } | undefined;
  ended: string | undefined;

  readonly ns: string;
  readonly pod: string;
  readonly container: string;
  private readonly onEnd: () => void;

  constructor(ns: string, pod: string, container: string, onEnd: () => void) {
    this.ns = ns;
    this.pod = pod;
    this.container = container;
    this.onEnd = onEnd;
    const sink = (append: (s: string) => void): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          append(chunk.toString());
          cb();
        },
      });
    countCost('execSessions');
    new k8s.Exec(kube().kc)
      .exec(
        ns,
        pod,
        container,
        ['node', '/probe/probe.cjs', 'session'],
        sink((t) => this.onStdout(t)),
        sink((t) => {
          this.stderr = (this.stderr + t).slice(-4000);
        }),
        this.stdin,
        false,
        (status) =>
          this.end(status.status === 'Success' ? 'the probe session ended' : `the probe session ended: ${status.message ?? status.status}`),
      )
      .then((ws) => {
        this.ws = ws;
        ws.on('close', () => this.end('the exec connection closed'));
        if (this.ended) ws.close();
      })
      .catch((e: unknown) => this.end(`exec in ${ns}/${pod} failed: ${apiErrorText(e)}`));
  }

  private onStdout(text: string): void {
    this.buf += text;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      let msg: { id?: number; result?: unknown; error?: string; fatal?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.end(`the probe session printed a line that is not JSON: ${line.slice(0, 300)}`);
        return;
      }
      if (msg.fatal !== undefined) {
        this.end(`the probe failed: ${msg.fatal}`);
        return;
      }
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p) continue; // answered after its timeout
      this.pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.error !== undefined) p.reject(new Error(`probe ${p.cmd} in ${this.pod} failed: ${msg.error}`));
      else p.resolve(msg.result);
    }
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = why;
    this.onEnd();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new Error(`probe ${p.cmd} in ${this.ns}/${this.pod}: ${why}${this.stderr.trim() ? `\nstderr: ${this.stderr.trim()}` : ''}`));
    }
    this.close();
  }

  close(): void {
    this.stdin.end();
    this.ws?.close();
  }

  call(cmd: string, arg: string | undefined, timeoutMs: number): Promise<unknown> {
    if (this.ended) return Promise.reject(new Error(`probe ${cmd} in ${this.ns}/${this.pod}: ${this.ended}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `probe ${cmd} in ${this.ns}/${this.pod} timed out after ${timeoutMs} ` +
              `ms${this.stderr.trim() ? `\nstderr so far: ${this.stderr.trim()}` : ''}`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { cmd, resolve, reject, timer });
      this.stdin.write(`${JSON.stringify({ id, cmd, arg })}\n`);
    });
  }
}

const sessions = new Map<string, Session>();

function sessionFor(ns: string, pod: string, container: string): Session {
  const key = `${ns}/${pod}/${container}`;
  let s = sessions.get(key);
  if (!s || s.ended) {
    const fresh: Session = new Session(ns, pod, container, () => {
      if (sessions.get(key) === fresh) sessions.delete(key);
    });
    sessions.set(key, fresh);
    s = fresh;
  }
  return s;
}

/** Closes the probe sessions into a namespace (the suite's end, before the namespace goes),
 *  or into one Pod (before a check deletes it, so that no command reaches the old one). */
export function closeSessions(ns: string, pod?: string): void {
  for (const s of [...sessions.values()])
    if (s.ns === ns && (pod === undefined || s.pod === pod)) {
      s.close();
      sessions.delete(`${s.ns}/${s.pod}/${s.container}`);
    }
}

export class Probe {
  readonly ns: string;
  readonly pod: string;
  readonly node: string;
  readonly container: string;

  constructor(ns: string, pod: string, node: string, container = 'probe') {
    this.ns = ns;
    this.pod = pod;
    this.node = node;
    this.container = container;
  }

  /** Runs one probe command: its argument encoded by the command map's codec, its output
   *  checked against the command's schema (a mismatch is an error that says so). */
  async call<K extends CommandName>(cmd: K, args: Commands[K]['args'], timeoutMs?: number): Promise<Commands[K]['result']> {
    const arg = args === null ? undefined : encodeArg(args);
    // A slow cluster's probe (--timeout-scale; 3 on the bundled cluster's VM nodes) answers later, not wrongly.
    const parsed = await sessionFor(this.ns, this.pod, this.container).call(cmd, arg, (timeoutMs ?? 60_000) * currentTarget().timeoutScale);
    return check<Commands[K]['result']>(COMMANDS[cmd].result, parsed, `the output of probe ${cmd} in ${this.pod}`);
  }

  dns(questions: DnsQuestion[]): Promise<DnsAnswer[]> {
    return this.call('dns', questions);
  }

  resolve(names: string[]): Promise<ResolveResult[]> {
    return this.call('resolve', names);
  }

  /** Connections from this probe. Their per-attempt timeout is scaled like every wait
   *  (--timeout-scale; 3 with VM nodes): on an emulated node a backend answers later, not
   *  wrongly. Checks that time a refusal compare the measured ms, not the timeout. */
  connect(req: ConnectRequest): Promise<ConnectAttempt[]> {
    return this.call('connect', scaled(req), 120_000);
  }

  dnsWatch(req: DnsWatchRequest): Promise<DnsWatchResult> {
    return this.call('dns-watch', req, req.timeoutMs + 30_000);
  }

  /** A steady DNS query load from this probe (helpers: scale checks); every answer's time. */
  dnsLoad(req: DnsLoadRequest): Promise<DnsLoadResult> {
    return this.call('dns-load', req, req.durationMs + 30_000);
  }

  httpGet(req: HttpGetRequest): Promise<HttpGetResult> {
    return this.call('http-get', scaled(req));
  }

  setReady(ready: boolean): Promise<{ ready: boolean }> {
    return this.call('set-ready', ready);
  }

  whoami(): Promise<ProbeIdentity> {
    return this.call('whoami', null);
  }
}

/** A probe request with its own timeoutMs multiplied by the run's timeoutScale. */
function scaled<R extends { timeoutMs?: number }>(req: R): R {
  const scale = currentTarget().timeoutScale;
  return scale === 1 || req.timeoutMs === undefined ? req : { ...req, timeoutMs: req.timeoutMs * scale };
}

/** Schedulable nodes: Ready, not cordoned, no NoSchedule/NoExecute taint. */
export async function schedulableNodes(): Promise<k8s.V1Node[]> {
  return (await kube().core.listNode()).items.filter(isSchedulable);
}

export function hostnameLabel(n: k8s.V1Node): string {
  return n.metadata?.labels?.['kubernetes.io/hostname'] ?? n.metadata?.name ?? '';
}

/** The nodes probes run on (isProbeNode), by name: with --probe-nodes-per-zone K, the first
 *  K of each zone (topology.kubernetes.io/zone; nodes without one are a zone of their own);
 *  else the first maxProbeNodes; at most `limit` when given. */
export async function probeNodes(limit?: number): Promise<k8s.V1Node[]> {
  return probeNodesOf((await kube().core.listNode()).items).slice(0, limit);
}

/** probeNodes' choice among nodes already listed (the preflight's own list). */
export function probeNodesOf(items: k8s.V1Node[]): k8s.V1Node[] {
  const t = currentTarget();
  const nodes = items.filter((n) => isProbeNode(n, t.runId)).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  return sampleNodes(nodes, t.probeNodesPerZone, t.maxProbeNodes);
}

/** The sample rule (probeNodes), on a node list sorted by name. */
export function sampleNodes(nodes: k8s.V1Node[], perZone: number | undefined, max: number): k8s.V1Node[] {
  if (!perZone) return nodes.slice(0, max);
  const taken = new Map<string, number>();
  return nodes.filter((n) => {
    const zone = n.metadata?.labels?.['topology.kubernetes.io/zone'] ?? '';
    const k = taken.get(zone) ?? 0;
    taken.set(zone, k + 1);
    return k < perZone;
  });
}

/** Starts one probe Pod per probe node (probeNodes) and waits until they run. */
export async function startProbes(ns: string, opts: { nodes?: number } = {}): Promise<Probe[]> {
  const nodes = await probeNodes(opts.nodes);
  if (nodes.length === 0) throw new Error('no schedulable, Ready node to run a probe Pod on');
  const probes = nodes.map((n, i) => new Probe(ns, `probe-${i}`, n.metadata?.name ?? ''));
  await Promise.all(nodes.map((n, i) => apply(ns, 'probe/pod.yaml', { NAME: `probe-${i}`, NODE: hostnameLabel(n) })));
  await podsReady(
    ns,
    probes.map((p) => p.pod),
    120_000,
  );
  return probes;
}
