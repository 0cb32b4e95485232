// The probe runtime: the bundled probe goes into a ConfigMap, long-lived probe Pods run
// it on the stock Node image, and commands run by exec and return JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type {
  CommandName, Commands, ConnectAttempt, ConnectRequest, DnsAnswer, DnsQuestion, DnsWatchRequest, DnsWatchResult, HttpGetRequest, HttpGetResult, ProbeIdentity,
  ResolveResult,
} from '../probe/contract.ts';
import { COMMANDS, encodeArg } from '../probe/contract.ts';
import { check } from '../probe/schema.ts';
import { apply, ROOT } from './apply.ts';
import { apiErrorText, kube } from './kube.ts';
import { isSchedulable } from './nodes.ts';
import { podsReady } from './workloads.ts';

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
    await kube().core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: PROBE_CONFIGMAP }, data: { 'probe.cjs': code } } });
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
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void): Writable => new Writable({ write(chunk: Buffer, _enc, cb) { append(chunk.toString()); cb(); } });
  return new Promise<ExecResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exec in ${ns}/${pod} timed out after ${timeoutMs} ms: ${command.join(' ').slice(0, 300)}\nstderr so far: ${stderr}`)), timeoutMs);
    exec.exec(ns, pod, container, command, sink((s) => { stdout += s; }), sink((s) => { stderr += s; }), null, false, (status) => {
      clearTimeout(timer);
      let exitCode = 0;
      if (status.status !== 'Success') {
        const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
        exitCode = cause?.message ? Number(cause.message) : 1;
      }
      // Output frames can trail the status frame: let them land.
      setImmediate(() => resolve({ stdout, stderr, exitCode }));
    }).catch((e: unknown) => { clearTimeout(timer); reject(new Error(`exec in ${ns}/${pod} failed: ${apiErrorText(e)}`)); });
  });
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
    const argv = args === null ? [] : [encodeArg(args)];
    const r = await execIn(this.ns, this.pod, this.container, ['node', '/probe/probe.cjs', cmd, ...argv], timeoutMs);
    if (r.exitCode !== 0) throw new Error(`probe ${cmd} in ${this.pod} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.stdout);
    } catch {
      throw new Error(`probe ${cmd} in ${this.pod} printed no JSON: ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`);
    }
    return check<Commands[K]['result']>(COMMANDS[cmd].result, parsed, `the output of probe ${cmd} in ${this.pod}`);
  }

  dns(questions: DnsQuestion[]): Promise<DnsAnswer[]> {
    return this.call('dns', questions);
  }

  resolve(names: string[]): Promise<ResolveResult[]> {
    return this.call('resolve', names);
  }

  connect(req: ConnectRequest): Promise<ConnectAttempt[]> {
    return this.call('connect', req, 120_000);
  }

  dnsWatch(req: DnsWatchRequest): Promise<DnsWatchResult> {
    return this.call('dns-watch', req, req.timeoutMs + 30_000);
  }

  httpGet(req: HttpGetRequest): Promise<HttpGetResult> {
    return this.call('http-get', req);
  }

  setReady(ready: boolean): Promise<{ ready: boolean }> {
    return this.call('set-ready', ready);
  }

  whoami(): Promise<ProbeIdentity> {
    return this.call('whoami', null);
  }
}

/** Schedulable nodes: Ready, not cordoned, no NoSchedule/NoExecute taint. */
export async function schedulableNodes(): Promise<k8s.V1Node[]> {
  return (await kube().core.listNode()).items.filter(isSchedulable);
}

export function hostnameLabel(n: k8s.V1Node): string {
  return n.metadata?.labels?.['kubernetes.io/hostname'] ?? n.metadata?.name ?? '';
}

/** Starts one probe Pod per schedulable node (at most maxProbeNodes) and waits until they run. */
export async function startProbes(ns: string, opts: { nodes?: number } = {}): Promise<Probe[]> {
  const nodes = (await schedulableNodes()).slice(0, opts.nodes ?? kube().target.maxProbeNodes);
  if (nodes.length === 0) throw new Error('no schedulable, Ready node to run a probe Pod on');
  const probes = nodes.map((n, i) => new Probe(ns, `probe-${i}`, n.metadata?.name ?? ''));
  await Promise.all(nodes.map((n, i) => apply(ns, 'probe/pod.yaml', { NAME: `probe-${i}`, NODE: hostnameLabel(n) })));
  await podsReady(ns, probes.map((p) => p.pod), 120_000);
  return probes;
}
