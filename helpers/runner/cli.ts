// svc-conformance: one command for CI users. Wraps the Jest suites: resolves the
// cluster, runs the preflight, runs the suites, writes JUnit/JSON/Markdown/HTML reports,
// and cleans up. Exit codes: 0 all passed; 1 some check failed; 2 usage or
// configuration error; 3 cluster unreachable, permissions missing, or probe image
// unavailable.
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { collect, writeReports, type JestJson } from './reports.ts';

const ROOT = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const DEFAULT_PROFILE = '/var/lib/svc-conformance/cluster/profile.json';

export class UsageError extends Error {
  override name = 'UsageError';
}
export class ClusterError extends Error {
  override name = 'ClusterError';
}

const HELP = `svc-conformance: conformance checks for Kubernetes Service discovery (DNS and Service proxies)

Usage:
  svc-conformance run [flags]       run the checks against a cluster
  svc-conformance cleanup [flags]   remove what a crashed run left (namespaces by label, cordons)
  svc-conformance list              print the checks, run nothing (same as run --list)

Flags for run:
  --kubeconfig PATH          kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --context NAME             context in that kubeconfig
  --local                    use the bundled local cluster, bringing it up if needed (root)
  --focus REGEX              run only checks whose name matches
  --skip REGEX               skip checks whose name matches
  --profile default|privileged   privileged adds kube-proxy rule checks (host-network probes)
  --probe-image IMAGE        Node >= 20 image for probes and backends (default docker.io/library/node:24-slim)
  --node-tools-image IMAGE   privileged profile: image with iptables, nft, curl, sh
                             (default registry.k8s.io/kube-proxy:<server version>)
  --image-registry PREFIX    mirror prefix for air-gapped clusters (docker.io/library/node:24-slim
                             becomes PREFIX/library/node:24-slim; registry.k8s.io/x becomes PREFIX/x)
  --cluster-domain DOMAIN    cluster domain (default: detected from a probe Pod's resolv.conf)
  --convergence-bound SECONDS  how long DNS may take to follow a change (default 10)
  --proxy-bound SECONDS      how long the Service proxy may take to follow a change (default 120)
  --timeout-scale N          multiply every wait (slow clusters; default 1)
  --parallel N               suites run at once (default 3)
  --report-dir DIR           where reports go (default ./svc-conformance-report)
  --keep-namespaces          keep the run's namespaces for debugging
  --run-id ID                label the run's namespaces with this id (default: generated)
  --list                     print the checks and exit
  -h, --help                 this help

Flags for cleanup:  --kubeconfig, --context, --run-id ID (default: every run)

Exit codes: 0 all passed, 1 some check failed, 2 usage or configuration error,
            3 cluster unreachable, permissions missing or probe image unavailable.

Examples:
  svc-conformance run --kubeconfig ~/.kube/config --report-dir out
  svc-conformance run --focus 'headless|StatefulSet' --convergence-bound 5
  svc-conformance run --image-registry mirror.example.internal:5000 --probe-image mirror.example.internal:5000/node:24-slim
  svc-conformance run --local --profile privileged
  svc-conformance cleanup --kubeconfig ~/.kube/config
`;

const FLAGS = {
  kubeconfig: { type: 'string' }, context: { type: 'string' }, local: { type: 'boolean' },
  focus: { type: 'string' }, skip: { type: 'string' }, profile: { type: 'string' },
  'probe-image': { type: 'string' }, 'node-tools-image': { type: 'string' }, 'image-registry': { type: 'string' },
  'cluster-domain': { type: 'string' }, 'convergence-bound': { type: 'string' }, 'proxy-bound': { type: 'string' }, 'timeout-scale': { type: 'string' },
  parallel: { type: 'string' }, 'report-dir': { type: 'string' }, 'keep-namespaces': { type: 'boolean' },
  list: { type: 'boolean' }, 'run-id': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export type Options = ReturnType<typeof parseCli>['values'];

export function parseCli(argv: string[]): { command: string; values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'string' ? string : boolean } } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun 'svc-conformance --help' for the flags.`);
  }
  const command = parsed.positionals[0] ?? 'run';
  if (!['run', 'cleanup', 'list', 'help'].includes(command)) throw new UsageError(`unknown command '${command}'. Commands: run, cleanup, list (see --help)`);
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument '${parsed.positionals[1]}' (see --help)`);
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const positive = (flag: string): void => {
    const raw = v[flag];
    if (raw !== undefined && !(Number(raw) > 0)) throw new UsageError(`--${flag} must be a positive number (got '${String(raw)}')`);
  };
  ['convergence-bound', 'proxy-bound', 'timeout-scale', 'parallel'].forEach(positive);
  if (v.profile !== undefined && !['default', 'privileged'].includes(String(v.profile))) throw new UsageError(`--profile must be default or privileged (got '${String(v.profile)}')`);
  for (const flag of ['focus', 'skip']) {
    if (typeof v[flag] === 'string') {
      try { new RegExp(v[flag] as string); } catch (e) { throw new UsageError(`--${flag} is not a valid regular expression: ${(e as Error).message}`); }
    }
  }
  if (v.local && (v.kubeconfig || v.context)) throw new UsageError('--local uses the bundled cluster: it cannot be combined with --kubeconfig or --context');
  if (v['cluster-domain'] !== undefined && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(String(v['cluster-domain']))) throw new UsageError(`--cluster-domain '${String(v['cluster-domain'])}' is not a DNS name`);
  return { command: v.help ? 'help' : command, values: parsed.values as never };
}

/** Rewrites an image reference onto a mirror prefix. */
export function mirror(image: string, registry: string): string {
  const prefix = registry.replace(/\/+$/, '');
  const first = image.split('/')[0]!;
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const rest = hasRegistry ? image.slice(first.length + 1) : image.includes('/') ? image : `library/${image}`;
  return `${prefix}/${rest}`;
}

/** The checks, read from the suite files (names are the tests' titles). */
export function listChecks(): { suite: string; name: string }[] {
  const dir = path.join(ROOT, 'suites');
  const out: { suite: string; name: string }[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.test.ts')).sort()) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(/^\s*(?:test|t|\(.*?\))\(\s*(`[^`]*`|'(?:[^'\\]|\\.)*')/gm)) {
      const raw = m[1]!.slice(1, -1).replace(/\\'/g, "'").replace(/\$\{[^}]*\}/g, '');
      out.push({ suite: f.replace(/\.test\.ts$/, ''), name: raw.trim() });
    }
  }
  return out;
}

function nodeBin(): string {
  const bundled = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
  return fs.existsSync(bundled) ? bundled : process.execPath;
}

export function testNamePattern(focus?: string, skip?: string): string | undefined {
  if (!focus && !skip) return undefined;
  return `^${skip ? `(?!.*(?:${skip}))` : ''}.*${focus ? `(?:${focus})` : ''}`;
}

async function runCommand(o: Options): Promise<number> {
  const runId = o['run-id'] ?? `r${Date.now().toString(36).slice(-5)}${crypto.randomBytes(1).toString('hex')}`;
  if (!/^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/.test(runId)) throw new UsageError(`--run-id '${runId}' must be lower-case letters, digits and dashes (at most 20)`);
  // Interrupts from here on stop the run and remove what it made.
  let interrupted = false;
  const control: { stop?: () => void } = {};
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nsvc-conformance: ${sig}: stopping the run and removing its namespaces\n`);
    if (control.stop) control.stop();
    else void import('./preflight.ts').then(({ cleanup }) => cleanup(runId)).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reportDir = path.resolve(o['report-dir'] ?? 'svc-conformance-report');
  const env: Record<string, string> = { ...process.env as Record<string, string>, SVC_RUN_ID: runId, SVC_EVIDENCE_DIR: path.join(reportDir, 'evidence') };
  if (o.local) {
    if (process.getuid?.() !== 0) throw new UsageError('--local brings up the bundled cluster, which needs root: run as root, or use --kubeconfig for another cluster');
    const up = spawnSync('bash', [path.join(ROOT, 'cluster', 'cluster.sh'), 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (up.status !== 0) throw new ClusterError('the bundled cluster did not come up (see above)');
    env.SVC_PROFILE = DEFAULT_PROFILE;
    delete env.KUBECONFIG;
  } else {
    const kubeconfig = o.kubeconfig ?? process.env.KUBECONFIG;
    if (kubeconfig) {
      if (!fs.existsSync(kubeconfig.split(':')[0]!)) throw new UsageError(`kubeconfig ${kubeconfig} does not exist (--kubeconfig / $KUBECONFIG)`);
      env.SVC_KUBECONFIG = kubeconfig;
      // The bundled cluster through its own (or another) kubeconfig: its images are local
      // to it, so take them from its profile.
      if (fs.existsSync(DEFAULT_PROFILE)) {
        const { loadKubeConfig } = await import('../kube.ts');
        const server = (() => { try { return loadKubeConfig(kubeconfig, o.context).getCurrentCluster()?.server; } catch { return undefined; } })();
        const profile = JSON.parse(fs.readFileSync(DEFAULT_PROFILE, 'utf8')) as { apiServer?: string };
        if (server && server === profile.apiServer) env.SVC_PROFILE = DEFAULT_PROFILE;
      }
    } else if (fs.existsSync(DEFAULT_PROFILE)) {
      env.SVC_PROFILE = DEFAULT_PROFILE;
    } else if (!fs.existsSync(path.join(process.env.HOME ?? '/root', '.kube', 'config'))) {
      throw new UsageError('no cluster given: pass --kubeconfig (or set KUBECONFIG), or --local for the bundled cluster');
    }
  }
  if (o.context) env.SVC_CONTEXT = o.context;
  const registry = o['image-registry'];
  const probeImage = o['probe-image'] ?? (registry ? mirror('docker.io/library/node:24-slim', registry) : undefined);
  if (probeImage) env.SVC_PROBE_IMAGE = probeImage;
  if (registry) env.SVC_PAUSE_IMAGE = mirror('registry.k8s.io/pause:3.10.1', registry);
  if (o['node-tools-image']) env.SVC_NODE_TOOLS_IMAGE = o['node-tools-image'];
  if (o['cluster-domain']) env.SVC_CLUSTER_DOMAIN = o['cluster-domain'];
  if (o['convergence-bound']) env.SVC_CONVERGENCE_BOUND_MS = String(Math.round(Number(o['convergence-bound']) * 1000));
  if (o['proxy-bound']) env.SVC_PROXY_BOUND_MS = String(Math.round(Number(o['proxy-bound']) * 1000));
  if (o['timeout-scale']) env.SVC_TIMEOUT_SCALE = o['timeout-scale'];
  if (o['keep-namespaces']) env.SVC_KEEP_NAMESPACES = '1';
  if (o.profile === 'privileged') env.SVC_PRIVILEGED = '1';
  if (registry && o.profile === 'privileged' && !o['node-tools-image']) env.SVC_NODE_TOOLS_IMAGE_REGISTRY = registry;

  // Preflight, before any namespace of the run is made.
  const t0 = Date.now();
  Object.assign(process.env, env);
  const { preflight } = await import('./preflight.ts');
  const facts = await preflight({ privileged: o.profile === 'privileged', runId });
  process.stdout.write(`svc-conformance: preflight passed in ${((Date.now() - t0) / 1000).toFixed(1)} s (${facts.server}, Kubernetes ${facts.version})\n`);
  if (facts.nodeToolsImage) env.SVC_NODE_TOOLS_IMAGE = facts.nodeToolsImage;

  fs.rmSync(reportDir, { recursive: true, force: true });
  fs.mkdirSync(reportDir, { recursive: true });
  const jsonFile = path.join(reportDir, 'jest.json');
  const args = ['node_modules/jest/bin/jest.js', '--selectProjects', 'cluster', '--json', '--outputFile', jsonFile,
    `--maxWorkers=${o.parallel ?? '3'}`, '--verbose', '--testPathIgnorePatterns', '/lifecycle/', '/runner/'];
  const pattern = testNamePattern(o.focus, o.skip);
  if (pattern) args.push('--testNamePattern', pattern);
  if (process.env.CI) args.push('--ci');
  const started = Date.now();
  const child = spawn(nodeBin(), args, { cwd: ROOT, env: { ...env, NODE_OPTIONS: '--experimental-vm-modules --no-warnings' }, stdio: ['ignore', 'inherit', 'inherit'] });
  // Jest and its workers are the child's descendants: stop them all, so that none
  // makes a namespace after the cleanup below has looked.
  const descendants = (pid: number): number[] => {
    const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
    const kids = r.stdout.split('\n').map((x) => Number(x.trim())).filter((x) => x > 0);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  };
  const signalAll = (sig: NodeJS.Signals): void => {
    for (const pid of [child.pid!, ...descendants(child.pid!)]) { try { process.kill(pid, sig); } catch { /* gone */ } }
  };
  let family: number[] = [];
  control.stop = () => { family = descendants(child.pid!); signalAll('SIGTERM'); };
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const alive = (): number[] => family.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
  for (let i = 0; i < 100 && alive().length; i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  const { cleanup } = await import('./preflight.ts');
  const removed = await cleanup(runId).catch((e: unknown) => { process.stderr.write(`svc-conformance: cleanup failed: ${(e as Error).message}\n`); return []; });
  if (removed.length) process.stdout.write(`svc-conformance: removed ${removed.join(', ')}\n`);
  if (interrupted) return 130;

  let results: JestJson[] = [];
  try { results = [JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as JestJson]; } catch { /* no results: a crash */ }
  const report = collect(results, env.SVC_EVIDENCE_DIR!, { runId, cluster: facts.server, durationMs: Date.now() - started });
  const files = writeReports(reportDir, report);
  process.stdout.write(`svc-conformance: reports in ${reportDir}: ${files.map((f) => path.basename(f)).join(', ')}\n`);
  process.stdout.write(`svc-conformance: ${report.counts.passed} passed, ${report.counts.failed} failed, ${report.counts.skipped} skipped\n`);
  if (!results.length) return 1;
  return report.counts.failed > 0 || code !== 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  // Started from inside a Jest worker (the runner's own tests): this process is the CLI,
  // not a worker, and handles interrupts itself.
  delete process.env.JEST_WORKER_ID;
  try {
    const { command, values } = parseCli(argv);
    if (command === 'help') { process.stdout.write(HELP); return 0; }
    if (command === 'list' || values.list) {
      for (const c of listChecks()) process.stdout.write(`${c.suite}: ${c.name}\n`);
      return 0;
    }
    if (command === 'cleanup') {
      if (values.kubeconfig) process.env.SVC_KUBECONFIG = values.kubeconfig;
      else if (!process.env.KUBECONFIG && fs.existsSync(DEFAULT_PROFILE)) process.env.SVC_PROFILE = DEFAULT_PROFILE;
      if (values.context) process.env.SVC_CONTEXT = values.context;
      const { cleanup, reachable } = await import('./preflight.ts');
      await reachable();
      const removed = await cleanup(values['run-id']);
      process.stdout.write(removed.length ? `svc-conformance: removed ${removed.join(', ')}\n` : 'svc-conformance: nothing to clean up\n');
      return 0;
    }
    return await runCommand(values);
  } catch (e) {
    const code = (e as Error).name === 'UsageError' ? 2 : (e as Error).name === 'ClusterError' ? 3 : 1;
    process.stderr.write(`svc-conformance: ${(e as Error).message}\n`);
    return code;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
