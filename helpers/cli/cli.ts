// svc-conformance: one command for CI users. Wraps the Jest suites: resolves the
// cluster, runs the preflight, runs the suites, writes JUnit/JSON/Markdown/HTML reports,
// and cleans up. Exit codes: 0 all passed; 1 some check failed; 2 usage or
// configuration error; 3 cluster unreachable, permissions missing, or probe image
// unavailable.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { REGISTRY, type CheckDef } from '../../suites/registry.ts';
import { PROFILES, inProfile, profileNamed } from '../../suites/data/profiles.ts';
import {
  childEnv,
  ClusterError,
  DEFAULT_PROBE_IMAGE,
  inputFromEnv,
  isCI,
  mergeInputs,
  publishTarget,
  useTarget,
  validateInput,
  resolveTarget,
  type RunInput,
  type Target,
  ROOT,
  CODE,
  codeFile,
  HAS_CLUSTER_BUILDS,
  sampleRule,
  UsageError,
} from '../config/target.ts';
import { clusterProject, jestBin, TEST_TIMEOUT_MS } from '../config/jest.ts';
import {
  causeLines,
  closingLines,
  clusterIdentity,
  collect,
  costText,
  coverageText,
  knownLines,
  readRunReport,
  writeReports,
  type JestJson,
} from '../results/reports.ts';
import { componentsOf, implementationOf, readKnownDifferences } from '../results/conformance.ts';
import type { ProgressOptions } from '../results/progress.ts';
import { dryRun, imagesOfRun, selectChecks, selectionPattern } from './plan.ts';
import { interruptedBy, onInterrupt } from '../config/interrupt.ts';

export { ClusterError, UsageError };

const HELP = `svc-conformance: conformance checks for Kubernetes Service discovery (DNS and Service proxies)

Usage:
  svc-conformance run [flags]       run the checks against a cluster
  svc-conformance cleanup [flags]   remove what a crashed run left (namespaces by label, cordons)
  svc-conformance list              print the checks (id, level, source, claim), run nothing;
                                    --profiles: the conformance profiles and their checks
  svc-conformance matrix FILE [flags]  run the checks over several clusters (the columns in FILE,
                                    YAML or JSON) and write one report, differences first
  svc-conformance manifest [flags]  print a Namespace, least-privilege ServiceAccount and RBAC, and
                                    a Job that runs the checks in the cluster (kubectl apply -f -);
                                    --sonobuoy: a Sonobuoy plugin instead
  svc-conformance results DIR|[NAMESPACE/]POD|[NAMESPACE/]job/NAME
                                    print the summary of a finished run's reports (from a Pod or
                                    Job: its log's reports, written to --report-dir first)

Flags for run:
  --kubeconfig PATH          kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)
  --context NAME             context in that kubeconfig
  --local                    use the bundled local cluster, bringing it up if needed (root)
  --kind                     start a kind cluster with testcontainers (needs Docker), run against
                             it, remove it whatever happens; with --kind-image IMAGE (default: ours,
                             cluster/kind/node-image.sh; or an official kindest/node:vX.Y.Z),
                             --kind-nodes N (3), --kind-proxy-mode iptables|nftables,
                             --kind-proxy kube-proxy|cilium (kube-proxy; cilium: Cilium as CNI
                             and kube-proxy replacement, built by cluster/cilium/cilium.sh),
                             --kind-ip-family ipv4|ipv6|dual (ipv4; dual: IPv4 first, then IPv6)
  --outside-network NAME     a Docker network the nodes are on (e.g. 'kind' for a kind cluster of
                             your own): an outside host is started there (set by --kind)
  --outside-client           this machine reaches the nodes' InternalIPs (node ports from outside
                             the cluster; known for --local and --kind)
  --focus REGEX              run only checks whose id or claim matches (ids: svc-conformance list)
  --skip REGEX               skip checks whose id or claim matches
  --conformance-profile NAME run one conformance profile's checks (basics, dns, dns-cache,
                             service-proxy-core, service-proxy-extended, rules-<flavour>: svc-conformance
                             list --profiles); the report gives every profile's result either way
  --rerun-failed DIR         run again only the checks that failed or warned (or were flaky) in the
                             earlier run whose --report-dir was DIR; the report names them
  --retries N                run a failing check again up to N times; every attempt is recorded and a
                             check that passed only on a retry is reported flaky (default 0)
  --implementation NAME      the implementation under test, for the report (default: detected: the
                             Service proxy and its mode, e.g. kube-proxy-nftables, else the DNS server);
                             with --implementation-version V and --implementation-url URL, or
  --implementation-file FILE YAML or JSON: name, version, url
  --known-differences FILE   your own known differences (YAML list of component, versions, checks,
                             reason, url), beside the suite's: a matching failure is marked known
  --strict                   expected-level checks fail the run too (default: they are warnings)
  --profile default|privileged   privileged adds kube-proxy rule checks (host-network probes)
  --probe-image IMAGE        Node >= 20 image for probes and backends (default docker.io/library/node:24-slim)
  --node-tools-image IMAGE   privileged profile: image with iptables, nft, curl, sh
                             (default registry.k8s.io/kube-proxy:<server version>)
  --image-registry PREFIX    mirror prefix for air-gapped clusters (docker.io/library/node:24-slim
                             becomes PREFIX/library/node:24-slim; registry.k8s.io/x becomes PREFIX/x)
  --cluster-domain DOMAIN    cluster domain (default: detected from a probe Pod's resolv.conf)
  --convergence-bound SECONDS  how long DNS may take to follow a change (default 10)
  --proxy-bound SECONDS      how long the Service proxy may take to follow a change (default 120)
  --timeout-scale N          multiply every wait (slow clusters; default 1, 3 on the bundled cluster's VM nodes)
  --scale SERVICESxENDPOINTS the scale profile's size (--conformance-profile scale; default 1000x10):
                             Services with that many endpoints each, changed at a steady rate while
                             the time to each change on every node is measured (p50/p90/p99)
  --probe-nodes-per-zone K   probes on K nodes of each zone instead of the first 5 nodes (large
                             clusters: "from every node" means those; the report names them)
  --parallel N               suites run at once (default 4; 1 on the bundled cluster's VM nodes)
  --report-dir DIR           where reports go (default ./svc-conformance-report)
  --keep-namespaces          keep the run's namespaces for debugging
  --run-id ID                label the run's namespaces with this id (default: generated)
  --in-cluster               inside a Pod: the cluster is the Pod's, as its ServiceAccount
  -q, --quiet                progress lines only ([12/75] id pass 1.2 s), no Jest output
  --list-images              print every image the run will pull (for mirroring) and exit
  --dry-run                  print what the run would create, cluster-scoped objects first, and exit
  --done-file PATH           write the report directory's path to PATH at the end, whatever the
                             outcome (Sonobuoy's done file; set by the plugin manifest --sonobuoy prints)
  --list                     print the checks and exit
  -h, --help                 this help

Flags for cleanup:  --kubeconfig, --context, --run-id ID (default: every run)
Flags for manifest: --namespace N (svc-conformance), --image IMAGE (the image scripts/image.sh
                    builds: push it to your registry), --profile, --sonobuoy, --rbac-only (no Job:
                    the Namespace, ServiceAccount and RBAC, to run from outside as that
                    ServiceAccount), and run's --focus,
                    --skip, --strict, --probe-image, --node-tools-image, --image-registry,
                    --cluster-domain, --convergence-bound, --proxy-bound, --timeout-scale, --parallel
Flags for results:  --report-dir DIR (where a Pod's reports are written), -n/--namespace N
                    (svc-conformance), --kubeconfig, --context
Flags for matrix:   --report-dir DIR (default ./svc-conformance-matrix), --focus, --skip, --strict,
                    --parallel (each column is an ordinary run; the file's own focus/skip/strict
                    apply when the flags are absent), --column-results NAME=DIR (repeatable: column
                    NAME is not run again, its results are the earlier run whose --report-dir was
                    DIR; its profile and proxy mode must match). Exit 0 when every column came up
                    and passed.

Levels: required (the DNS specification or the Kubernetes API guarantees it: a failure
fails the run), expected (documented default behaviour the specification leaves open: a
warning, a failure with --strict), informational (measured and reported, never failing).

Exit codes: 0 no required check failed, 1 some check failed, 2 usage or configuration error,
            3 cluster unreachable, permissions missing or probe image unavailable.

Environment: run also reads SVC_* variables (SVC_PROBE_IMAGE for --probe-image, ...); a flag
overrides its variable. Every SVC_* variable, with its flag and default: docs/configuration.md.

Examples:
  svc-conformance run --kubeconfig ~/.kube/config --report-dir out
  svc-conformance run --focus 'headless|StatefulSet' --convergence-bound 5
  svc-conformance run --image-registry mirror.example.internal:5000 --probe-image mirror.example.internal:5000/node:24-slim
  svc-conformance run --local --profile privileged
  svc-conformance cleanup --kubeconfig ~/.kube/config
  svc-conformance matrix examples/matrix/ci.yaml --report-dir out
  svc-conformance run --list-images --profile privileged
  svc-conformance manifest --namespace conformance --image registry.example/svc-conformance:0.1.0 | kubectl apply -f -
  svc-conformance results conformance/job/svc-conformance --report-dir out
  svc-conformance manifest --sonobuoy > plugin.yaml && sonobuoy run --plugin plugin.yaml --wait
`;

/** The flags of run that `manifest` passes on to the in-cluster run. */
const RUN_FLAGS_IN_CLUSTER = [
  'focus',
  'conformance-profile',
  'retries',
  'implementation',
  'implementation-version',
  'implementation-url',
  'skip',
  'strict',
  'probe-image',
  'node-tools-image',
  'image-registry',
  'cluster-domain',
  'convergence-bound',
  'proxy-bound',
  'timeout-scale',
  'scale',
  'probe-nodes-per-zone',
  'parallel',
];

const FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  local: { type: 'boolean' },
  kind: { type: 'boolean' },
  'kind-image': { type: 'string' },
  'kind-nodes': { type: 'string' },
  'kind-proxy-mode': { type: 'string' },
  'kind-proxy': { type: 'string' },
  'kind-ip-family': { type: 'string' },
  'outside-network': { type: 'string' },
  'outside-client': { type: 'boolean' },
  focus: { type: 'string' },
  skip: { type: 'string' },
  profile: { type: 'string' },
  'probe-image': { type: 'string' },
  'node-tools-image': { type: 'string' },
  'image-registry': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'convergence-bound': { type: 'string' },
  'proxy-bound': { type: 'string' },
  'timeout-scale': { type: 'string' },
  scale: { type: 'string' },
  'probe-nodes-per-zone': { type: 'string' },
  parallel: { type: 'string' },
  'report-dir': { type: 'string' },
  'keep-namespaces': { type: 'boolean' },
  list: { type: 'boolean' },
  strict: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'list-images': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'in-cluster': { type: 'boolean' },
  'done-file': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  image: { type: 'string' },
  sonobuoy: { type: 'boolean' },
  'rbac-only': { type: 'boolean' },
  'column-results': { type: 'string', multiple: true },
  'run-id': { type: 'string' },
  'conformance-profile': { type: 'string' },
  'rerun-failed': { type: 'string' },
  retries: { type: 'string' },
  implementation: { type: 'string' },
  'implementation-version': { type: 'string' },
  'implementation-url': { type: 'string' },
  'implementation-file': { type: 'string' },
  'known-differences': { type: 'string' },
  profiles: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Options = ReturnType<typeof parseCli>['values'];

export function parseCli(argv: string[]): {
  command: string;
  file?: string;
  values: {
    [K in keyof typeof FLAGS]?: (typeof FLAGS)[K] extends { multiple: true }
      ? string[]
      : (typeof FLAGS)[K]['type'] extends 'string'
        ? string
        : boolean;
  };
} {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun 'svc-conformance --help' for the flags.`);
  }
  const command = parsed.positionals[0] ?? 'run';
  if (!['run', 'cleanup', 'list', 'matrix', 'manifest', 'results', 'help'].includes(command))
    throw new UsageError(`unknown command '${command}'. Commands: run, cleanup, list, matrix, manifest, results (see --help)`);
  const maxPositionals = command === 'matrix' || command === 'results' ? 2 : 1;
  if (parsed.positionals.length > maxPositionals)
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}' (see --help)`);
  if (command === 'matrix' && !parsed.values.help && parsed.positionals.length < 2)
    throw new UsageError('matrix needs the matrix file: svc-conformance matrix FILE (see --help and docs/matrix.md)');
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const positive = (flag: string): void => {
    const raw = v[flag];
    if (raw !== undefined && !(Number(raw) > 0)) throw new UsageError(`--${flag} must be a positive number (got '${String(raw)}')`);
  };
  positive('parallel');
  if (v.retries !== undefined && !/^\d+$/.test(String(v.retries)))
    throw new UsageError(`--retries must be a whole number, 0 or more (got '${String(v.retries)}')`);
  if (v['conformance-profile'] !== undefined && !profileNamed(String(v['conformance-profile'])))
    throw new UsageError(
      `--conformance-profile: no profile '${String(v['conformance-profile'])}'; the profiles are ${PROFILES.map((p) => p.name).join(', ')} (svc-conformance list --profiles)`,
    );
  if ((v['implementation-version'] || v['implementation-url']) && !v.implementation)
    throw new UsageError('--implementation-version and --implementation-url go with --implementation NAME');
  if (v.implementation && v['implementation-file'])
    throw new UsageError('--implementation and --implementation-file both name the implementation: give one');
  for (const flag of ['implementation-file', 'known-differences'])
    if (typeof v[flag] === 'string' && !fs.existsSync(v[flag] as string))
      throw new UsageError(`--${flag} ${String(v[flag])}: no such file`);
  if (typeof v['rerun-failed'] === 'string' && !fs.existsSync(path.join(v['rerun-failed'] as string, 'results.json')))
    throw new UsageError(`--rerun-failed ${String(v['rerun-failed'])}: no results.json there (give the --report-dir of the earlier run)`);
  if (v['rerun-failed'] && (v.focus || v.skip || v['conformance-profile']))
    throw new UsageError(
      '--rerun-failed chooses the checks itself (those that failed before): it cannot be combined with --focus, --skip or --conformance-profile',
    );
  if (v.profiles && command !== 'list') throw new UsageError('--profiles goes with list: svc-conformance list --profiles');
  if (v.profile !== undefined && !['default', 'privileged'].includes(String(v.profile)))
    throw new UsageError(`--profile must be default or privileged (got '${String(v.profile)}')`);
  for (const flag of ['focus', 'skip']) {
    if (typeof v[flag] === 'string') {
      try {
        new RegExp(v[flag] as string);
      } catch (e) {
        throw new UsageError(`--${flag} is not a valid regular expression: ${(e as Error).message}`);
      }
    }
  }
  if (
    (command === 'run' || command === 'matrix' || command === 'manifest') &&
    (v.focus || v.skip) &&
    !selectChecks(v.focus as string, v.skip as string).length
  )
    throw new UsageError(`--focus/--skip select no check (they match ids and claims: svc-conformance list prints both)`);
  if (v.kind && (v.local || v.kubeconfig || v.context))
    throw new UsageError('--kind starts a cluster of its own: it cannot be combined with --local, --kubeconfig or --context');
  if (!v.kind && (v['kind-image'] || v['kind-nodes'] || v['kind-proxy-mode'] || v['kind-proxy'] || v['kind-ip-family']))
    throw new UsageError('--kind-image, --kind-nodes, --kind-proxy-mode, --kind-proxy and --kind-ip-family go with --kind');
  if (v['kind-proxy'] !== undefined && !['kube-proxy', 'cilium'].includes(String(v['kind-proxy'])))
    throw new UsageError(`--kind-proxy must be kube-proxy or cilium (got '${String(v['kind-proxy'])}')`);
  if (v['kind-proxy'] === 'cilium' && v['kind-proxy-mode'])
    throw new UsageError("--kind-proxy-mode is kube-proxy's mode: with --kind-proxy cilium no kube-proxy runs");
  if (!HAS_CLUSTER_BUILDS && v['kind-proxy'] === 'cilium')
    throw new UsageError(
      "--kind-proxy cilium uses Cilium built by the repository's cluster/cilium/cilium.sh (absent from the npm package): run from a clone of the repository",
    );
  if (v['kind-nodes'] !== undefined && !/^[1-5]$/.test(String(v['kind-nodes'])))
    throw new UsageError(`--kind-nodes must be 1 to 5 (got '${String(v['kind-nodes'])}')`);
  if (v['kind-proxy-mode'] !== undefined && !['iptables', 'nftables'].includes(String(v['kind-proxy-mode'])))
    throw new UsageError(`--kind-proxy-mode must be iptables or nftables (got '${String(v['kind-proxy-mode'])}')`);
  if (v['kind-ip-family'] !== undefined && !['ipv4', 'ipv6', 'dual'].includes(String(v['kind-ip-family'])))
    throw new UsageError(`--kind-ip-family must be ipv4, ipv6 or dual (got '${String(v['kind-ip-family'])}')`);
  if (!HAS_CLUSTER_BUILDS && v.local)
    throw new UsageError(
      "--local brings up the bundled cluster, built from the repository's cluster/ (absent from the npm package): " +
        'use --kubeconfig for a cluster of yours, or run from a clone of the repository after scripts/setup.sh',
    );
  if (!HAS_CLUSTER_BUILDS && v.kind && !v['kind-image'])
    throw new UsageError(
      "--kind without --kind-image uses the repository's own node image (built by cluster/kind/node-image.sh, absent from the npm package): " +
        'give --kind-image kindest/node:vX.Y.Z (an official kind node image), or run from a clone of the repository',
    );
  if (v.local && (v.kubeconfig || v.context))
    throw new UsageError('--local uses the bundled cluster: it cannot be combined with --kubeconfig or --context');
  if (command === 'results' && !parsed.values.help && parsed.positionals.length < 2)
    throw new UsageError('results needs a report directory or a Pod: svc-conformance results DIR | [NAMESPACE/]POD | [NAMESPACE/]job/NAME');
  const only = (allowed: string[], what: string): void => {
    const other = Object.keys(v).filter((k) => v[k] !== undefined && !allowed.includes(k) && k !== 'help');
    if (other.length)
      throw new UsageError(
        `${command} takes ${allowed.map((a) => `--${a}`).join(', ')}; ${what} (not ${other.map((o) => `--${o}`).join(', ')})`,
      );
  };
  if (command === 'results') only(['kubeconfig', 'context', 'namespace', 'report-dir'], 'the reports come from the directory or Pod named');
  if (command === 'manifest')
    only(
      [...RUN_FLAGS_IN_CLUSTER, 'namespace', 'image', 'sonobuoy', 'profile', 'rbac-only'],
      'the Job runs in the cluster as the ServiceAccount it prints, its reports in a volume',
    );
  if (command !== 'manifest' && command !== 'results' && (v.namespace || v.image || v.sonobuoy || v['rbac-only']))
    throw new UsageError('--namespace, --image, --sonobuoy and --rbac-only go with the manifest command (--namespace also with results)');
  if (v.sonobuoy && v['rbac-only']) throw new UsageError('--rbac-only and --sonobuoy: Sonobuoy brings its own ServiceAccount (choose one)');
  if (command !== 'run' && (v['in-cluster'] || v['done-file'] || v['list-images'] || v['dry-run']))
    throw new UsageError('--in-cluster, --done-file, --list-images and --dry-run go with run');
  if (command !== 'run' && command !== 'manifest' && (v['conformance-profile'] || v.retries || v.implementation))
    throw new UsageError('--conformance-profile, --retries and --implementation go with run (and manifest, which passes them on)');
  if (command !== 'run' && (v['rerun-failed'] || v['implementation-file'] || v['known-differences']))
    throw new UsageError('--rerun-failed, --implementation-file and --known-differences go with run');
  if (v['in-cluster'] && (v.local || v.kind || v.kubeconfig || v.context))
    throw new UsageError(
      "--in-cluster uses the Pod's ServiceAccount: it cannot be combined with --local, --kind, --kubeconfig or --context",
    );
  if (v.namespace !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(String(v.namespace)))
    throw new UsageError(`--namespace must be a namespace name: lower-case letters, digits and dashes (got '${String(v.namespace)}')`);
  if (command === 'matrix')
    only(
      ['report-dir', 'focus', 'skip', 'strict', 'parallel', 'column-results'],
      "a column's cluster, profile and kubeconfig come from the matrix file",
    );
  // The run's own inputs are checked by the one set of rules (helpers/config/target.ts).
  validateInput(inputFromFlags(parsed.values as Options));
  return {
    command: v.help ? 'help' : command,
    file: command === 'matrix' || command === 'results' ? parsed.positionals[1] : undefined,
    values: parsed.values as never,
  };
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
/** The registry, as `svc-conformance list` prints it: id, level, source and claim. */
export function listChecks(): { id: string; suite: string; level: string; source: string; claim: string }[] {
  return REGISTRY.map((c) => ({ id: c.id, suite: c.suite, level: c.level, source: `${c.source.title} <${c.source.url}>`, claim: c.claim }));
}

export function formatList(): string {
  const rows = listChecks();
  const w = Math.max(...rows.map((r) => r.id.length));
  return (
    rows.map((r) => `${r.id.padEnd(w)}  ${r.level.padEnd(13)}  ${r.claim}\n${' '.repeat(w + 17)}source: ${r.source}`).join('\n') + '\n'
  );
}

/** `list --profiles`: each conformance profile, what it holds and its checks. */
export function formatProfiles(): string {
  return PROFILES.map((p) => {
    const ids = REGISTRY.filter((c) => inProfile(p, c.id, c.level)).map((c) => c.id);
    return (
      `${p.name}: ${p.title}${p.proxies ? ` (applies to ${p.proxies.join(', ')})` : ''}\n  ${p.description}\n` +
      `  ${ids.length} checks: ${ids.join(', ')}\n`
    );
  }).join('\n');
}

export function nodeBin(): string {
  const bundled = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
  return fs.existsSync(bundled) ? bundled : process.execPath;
}

/** The flags as run input (they override the environment, key by key). */
export function inputFromFlags(o: Options): RunInput {
  const registry = o['image-registry'];
  const sources: RunInput['sources'] = {};
  const from = (key: keyof NonNullable<RunInput['sources']>, flag: keyof Options): void => {
    const raw = o[flag];
    if (typeof raw === 'string') sources[key] = { name: `--${flag}`, raw };
  };
  from('convergenceBoundMs', 'convergence-bound');
  from('proxyBoundMs', 'proxy-bound');
  from('timeoutScale', 'timeout-scale');
  from('clusterDomain', 'cluster-domain');
  from('runId', 'run-id');
  from('scale', 'scale');
  from('probeNodesPerZone', 'probe-nodes-per-zone');
  const secs = (v?: string): number | undefined => (v === undefined ? undefined : Math.round(Number(v) * 1000));
  return {
    sources,
    local: o.local || undefined,
    kubeconfig: o.kubeconfig,
    context: o.context,
    probeImage: o['probe-image'] ?? (registry ? mirror(DEFAULT_PROBE_IMAGE, registry) : undefined),
    nodeToolsImage: o['node-tools-image'],
    nodeToolsRegistry: registry,
    clusterDomain: o['cluster-domain'],
    scale: o.scale,
    probeNodesPerZone: o['probe-nodes-per-zone'] === undefined ? undefined : Number(o['probe-nodes-per-zone']),
    convergenceBoundMs: secs(o['convergence-bound']),
    proxyBoundMs: secs(o['proxy-bound']),
    timeoutScale: o['timeout-scale'] === undefined ? undefined : Number(o['timeout-scale']),
    keepNamespaces: o['keep-namespaces'] || undefined,
    outsideNetwork: o['outside-network'],
    outsideClient: o['outside-client'] || undefined,
    privileged: o.profile === undefined ? undefined : o.profile === 'privileged',
    strict: o.strict || undefined,
    runId: o['run-id'],
  };
}

/** run --kind: the same run, in this process, against a kind cluster that withKind starts
 *  and removes whatever happens (also on an interrupt). */
async function runOnKind(o: Options): Promise<number> {
  const { withKind } = await import('../targets/kind/with-kind.ts');
  const log = (l: string): void => {
    process.stderr.write(`[kind ${new Date().toISOString().slice(11, 19)}] ${l}\n`);
  };
  const kind = {
    image: o['kind-image'],
    nodes: Number(o['kind-nodes'] ?? '3'),
    proxyMode: (o['kind-proxy-mode'] ?? 'iptables') as 'iptables' | 'nftables',
    proxy: (o['kind-proxy'] ?? 'kube-proxy') as 'kube-proxy' | 'cilium',
    ipFamily: (o['kind-ip-family'] ?? 'ipv4') as 'ipv4' | 'ipv6' | 'dual',
    name: `svc-${Date.now().toString(36).slice(-5)}`,
    log,
  };
  return withKind(kind, (cluster) =>
    runCommand(o, { kubeconfig: cluster.kubeconfig, profilePath: cluster.profile, outsideNetwork: cluster.network }),
  );
}

/** One run: the pipeline of `svc-conformance run`, and of npm test, each matrix column and
 *  the kind target. `target` is what the target gives (kind's cluster). */
async function runCommand(o: Options, target: RunInput = {}): Promise<number> {
  const reportDir = path.resolve(o['report-dir'] ?? 'svc-conformance-report');
  if (o['in-cluster']) {
    const { inClusterKubeconfig } = await import('./ship.ts');
    target = { ...target, kubeconfig: inClusterKubeconfig() };
  }
  if (o.local) {
    if (process.getuid?.() !== 0)
      throw new UsageError('--local brings up the bundled cluster, which needs root: run as root, or use --kubeconfig for another cluster');
    const up = spawnSync('bash', [path.join(ROOT, 'cluster', 'cluster.sh'), 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (up.status !== 0) throw new ClusterError('the bundled cluster did not come up (see above)');
  }
  // One resolution: the environment, then the flags; the report dir holds the evidence.
  const resolved = resolveTarget(mergeInputs(inputFromEnv(), { evidenceDir: path.join(reportDir, 'evidence') }, inputFromFlags(o), target));
  const runId = resolved.runId;
  // Interrupts from here on stop the run (the preflight's waits give up, Jest and its
  // workers are stopped) and remove what it made; the run then returns 130.
  const control: { stop?: () => void } = {};
  const stopHandling = onInterrupt(
    (sig) => {
      process.stderr.write(`\nsvc-conformance: ${sig}: stopping the run and removing its namespaces\n`);
      control.stop?.();
    },
    { then: 'continue' },
  );
  try {
    return await runPipeline(o, resolved, reportDir, control);
  } catch (e) {
    if (!interruptedBy()) throw e;
    const { cleanup } = await import('../cluster/preflight.ts');
    await cleanup(runId).catch(() => undefined);
    return 130;
  } finally {
    stopHandling();
  }
}

/** The checks a run selects: --focus/--skip, then one conformance profile's, or (--rerun-failed)
 *  those that failed, warned or were flaky in an earlier run (every check of a suite that
 *  could not set up). */
export function selectFor(o: Options): { selected: CheckDef[]; rerun?: { from: string; ids: string[] } } {
  const profile = o['conformance-profile'] ? profileNamed(o['conformance-profile']) : undefined;
  let selected = selectChecks(o.focus, o.skip, { optIn: profile?.optIn });
  if (profile) selected = selected.filter((c) => inProfile(profile, c.id, c.level));
  if (!o['rerun-failed']) return { selected };
  const from = path.resolve(o['rerun-failed']);
  const earlier = readRunReport(path.join(from, 'results.json'));
  const broken = new Set(earlier.suiteErrors.map((e) => e.suite));
  const ids = new Set(
    earlier.checks
      .filter((c) => c.id && (c.status === 'failed' || c.status === 'warning' || c.flaky || broken.has(c.suite)))
      .map((c) => c.id!),
  );
  for (const c of REGISTRY) if (broken.has(c.suite)) ids.add(c.id);
  if (!ids.size)
    throw new UsageError(
      `--rerun-failed ${o['rerun-failed']}: no check failed, warned or was flaky in that run (${closingLines(earlier.counts).join(' ')}): nothing to run again`,
    );
  return { selected: REGISTRY.filter((c) => ids.has(c.id)), rerun: { from, ids: [...ids] } };
}

async function runPipeline(o: Options, resolved: Target, reportDir: string, control: { stop?: () => void }): Promise<number> {
  // The selection travels in the run config: suites start the fixtures of selected checks
  // ahead of them, and no others.
  const { selected, rerun } = selectFor(o);
  const retries = o.retries ? Number(o.retries) : 0;
  const target: Target = {
    ...resolved,
    ...(selected.length < REGISTRY.length ? { selected: selected.map((c) => c.id) } : {}),
    ...(retries ? { retries } : {}),
    ...(o.quiet ? { quiet: true } : {}),
  };
  const runId = target.runId;
  // Preflight, before any namespace of the run is made.
  const t0 = Date.now();
  useTarget(target);
  const { dnsPathLine, preflight } = await import('../cluster/preflight.ts');
  const cluster = await preflight(target);
  if (interruptedBy()) throw new Error('interrupted');
  process.stdout.write(
    `svc-conformance: preflight passed in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
      `(${cluster.server}, Kubernetes ${cluster.version}, Services in ${cluster.ipFamilies.join(', ')})\nsvc-conformance: ${dnsPathLine(cluster)}\n`,
  );
  for (const line of causeLines(cluster.causes)) process.stdout.write(`${line}\n`);

  // Emptied, not removed: it may be a mounted volume.
  fs.mkdirSync(reportDir, { recursive: true });
  for (const f of fs.readdirSync(reportDir)) fs.rmSync(path.join(reportDir, f), { recursive: true, force: true });
  publishTarget(target, cluster, reportDir);
  const env = childEnv({ NODE_OPTIONS: '--experimental-vm-modules --no-warnings' });
  const jsonFile = path.join(reportDir, 'jest.json');
  // VM nodes of the bundled cluster (cluster/vm.sh) run under software emulation: suites one
  // at a time there unless --parallel says otherwise, so that no suite's load makes another's
  // proxy or DNS slower than its bound.
  const vmNodes = target.profile?.vmNodes ?? 0;
  const parallel = o.parallel ?? (vmNodes > 0 ? '1' : '4');
  if (vmNodes > 0 && o.parallel === undefined)
    process.stdout.write(`svc-conformance: ${vmNodes} VM node(s) under emulation: suites run one at a time (--parallel to change)\n`);
  const progress: [string, ProgressOptions] = [
    codeFile('helpers/results/progress'),
    { ids: selected.map((c) => c.id), evidenceDir: target.evidenceDir, runId, notSelected: REGISTRY.length - selected.length },
  ];
  const jestConfig = {
    ...clusterProject(CODE),
    // The longest suites first: the run ends on short ones (helpers/harness/sequencer.ts).
    testSequencer: codeFile('helpers/harness/sequencer'),
    testTimeout: TEST_TIMEOUT_MS,
    reporters: o.quiet ? [progress] : ['default', progress],
  };
  const args = [
    jestBin(),
    '--config',
    JSON.stringify(jestConfig),
    '--json',
    '--outputFile',
    jsonFile,
    `--maxWorkers=${parallel}`,
    ...(o.quiet ? [] : ['--verbose']),
  ];
  const pattern = selectionPattern(selected);
  if (pattern) args.push('--testNamePattern', pattern);
  if (isCI()) args.push('--ci');
  const started = Date.now();
  // --quiet: Jest's own line about its JSON file is dropped too (the reports line says where they are).
  const child = spawn(nodeBin(), args, { cwd: CODE, env, stdio: ['ignore', o.quiet ? 'pipe' : 'inherit', o.quiet ? 'pipe' : 'inherit'] });
  if (o.quiet)
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const)
      createInterface({ input: from! }).on('line', (l) => {
        if (!/^Test results written to: /.test(l)) to.write(`${l}\n`);
      });
  // Jest and its workers are the child's descendants: stop them all, so that none
  // makes a namespace after the cleanup below has looked.
  const descendants = (pid: number): number[] => {
    const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
    const kids = r.stdout
      .split('\n')
      .map((x) => Number(x.trim()))
      .filter((x) => x > 0);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  };
  const signalAll = (sig: NodeJS.Signals): void => {
    for (const pid of [child.pid!, ...descendants(child.pid!)]) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  let family: number[] = [];
  control.stop = () => {
    family = descendants(child.pid!);
    signalAll('SIGTERM');
  };
  if (interruptedBy()) control.stop();
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const alive = (): number[] =>
    family.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 100 && alive().length; i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const { cleanup } = await import('../cluster/preflight.ts');
  const removed = await cleanup(runId).catch((e: unknown) => {
    process.stderr.write(`svc-conformance: cleanup failed: ${(e as Error).message}\n`);
    return [];
  });
  if (removed.length) process.stdout.write(`svc-conformance: removed ${removed.join(', ')}\n`);
  if (interruptedBy()) return 130;
  // This process's own API calls (preflight, cleanup), beside the workers' (helpers/cluster/cost.ts).
  const { writeCost } = await import('../cluster/cost.ts');
  writeCost();

  let results: JestJson[] = [];
  try {
    results = [JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as JestJson];
  } catch {
    /* no results: a crash */
  }
  const report = collect(results, target.evidenceDir, {
    runId,
    cluster: `${cluster.server} (${dnsPathLine(cluster)})`,
    durationMs: Date.now() - started,
    identity: clusterIdentity(cluster),
    causes: cluster.causes,
    implementation: implementationOf(
      { name: o.implementation, version: o['implementation-version'], url: o['implementation-url'], file: o['implementation-file'] },
      componentsOf(cluster, target.profile),
    ),
    knownDifferences: o['known-differences'] ? readKnownDifferences(o['known-differences']) : undefined,
    selected: target.selected,
    coverage: {
      probeNodes: cluster.probeNodes ?? [],
      schedulableNodes: cluster.schedulableNodes,
      zones: cluster.zones ?? 0,
      rule: sampleRule(target.probeNodesPerZone, target.maxProbeNodes),
    },
    selection: {
      ...(o.focus ? { focus: o.focus } : {}),
      ...(o.skip ? { skip: o.skip } : {}),
      ...(o['conformance-profile'] ? { conformanceProfile: o['conformance-profile'] } : {}),
      ...(rerun ? { rerunFailed: rerun } : {}),
      ...(retries ? { retries } : {}),
    },
  });
  // Jest ended without its results (a crash, an error in its global setup or teardown):
  // that is a failure of the run, never a run of zero checks.
  if (!results.length)
    report.suiteErrors.push({
      suite: 'jest',
      message: `Jest exited ${code} without writing its results to ${jsonFile} (its output above says why)`,
    });
  report.counts.failed += results.length ? 0 : 1;
  const quote = (x: string): string => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, "'\\''")}'`);
  const files = writeReports(reportDir, report, `svc-conformance ${process.argv.slice(2).map(quote).join(' ')}`);
  process.stdout.write(`svc-conformance: reports in ${reportDir}: ${files.map((f) => path.basename(f)).join(', ')}\n`);
  if (report.cost)
    process.stdout.write(
      `svc-conformance: what the run cost the cluster: ${costText(report.cost)} in ${(report.durationMs / 1000).toFixed(0)} s\n`,
    );
  if (report.coverage) process.stdout.write(`svc-conformance: ${coverageText(report.coverage)}\n`);
  if (o['in-cluster']) {
    // The Pod's volume goes with it: its log gets the summary (what did not pass, then the
    // closing lines) and the reports (`svc-conformance results`).
    const { reportsBlock, summaryLines } = await import('./ship.ts');
    process.stdout.write(`${summaryLines(report).join('\n')}\n${reportsBlock(reportDir)}`);
  } else
    process.stdout.write(
      `${[
        ...causeLines(report.counts.failed || report.counts.warnings ? report.causes : []),
        ...knownLines(report.knownDifferences),
        ...closingLines(
          report.counts,
          report.checks.filter((c) => c.status === 'warning').map((c) => c.id ?? c.name),
        ),
      ].join('\n')}\n`,
    );
  if (!results.length) return 1;
  return report.counts.failed > 0 || code !== 0 ? 1 : 0;
}

/** --list-images and --dry-run: what the run would pull and create, before it does. */
async function planCommand(o: Options): Promise<number> {
  const { selected } = selectFor(o);
  // --kind: no cluster exists yet, and no profile applies (not the bundled cluster's): the
  // images are the flags' or the defaults (our own node image brings its own, never pulled).
  const noCluster: RunInput = { kubeconfig: '/dev/null', profilePath: '/nonexistent/svc-conformance-profile.json' };
  const target = resolveTarget(mergeInputs(inputFromEnv(), inputFromFlags(o), o.kind ? noCluster : {}));
  if (o['list-images']) {
    // The node-tools default names the API server's version: asked when the cluster answers.
    let serverVersion: string | undefined;
    if (target.privileged && !o.kind) {
      useTarget(target);
      const { reachable } = await import('../cluster/preflight.ts');
      serverVersion = await reachable()
        .then((r) => r.version)
        .catch(() => undefined);
    }
    // A kind node image's tag is its Kubernetes version.
    if (o.kind) serverVersion = /:(v\d+\.\d+\.\d+)/.exec(o['kind-image'] ?? '')?.[1];
    const uses = imagesOfRun(target, selected, { serverVersion, kind: o.kind, kindImage: o['kind-image'] });
    const w = Math.max(...uses.map((u) => u.image.length));
    for (const u of uses) process.stdout.write(`${u.image.padEnd(w)}  ${u.where === 'docker' ? 'Docker' : 'cluster'}: ${u.use}\n`);
  }
  if (o['dry-run']) process.stdout.write(dryRun(target, selected));
  return 0;
}

async function matrixCommand(file: string, o: Options): Promise<number> {
  const { headline, readMatrix, runMatrix, writeMatrixReports, matrixExitCode } = await import('../matrix/matrix.ts');
  const spec = readMatrix(file);
  if (spec.columns.some((c) => c.cluster) && process.getuid?.() !== 0)
    throw new UsageError(
      `the matrix ${file} has bundled-cluster columns (${spec.columns
        .filter((c) => c.cluster)
        .map((c) => c.name)
        .join(', ')}), which need root: run as root, or give those columns a kubeconfig`,
    );
  const reportDir = path.resolve(o['report-dir'] ?? 'svc-conformance-matrix');
  const earlier: Record<string, string> = {};
  for (const v of o['column-results'] ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(v);
    if (!m) throw new UsageError(`--column-results takes NAME=DIR (a column of ${file} and an earlier run's --report-dir), got '${v}'`);
    if (!spec.columns.some((c) => c.name === m[1]))
      throw new UsageError(`--column-results ${v}: ${file} has no column '${m[1]}' (it has ${spec.columns.map((c) => c.name).join(', ')})`);
    earlier[m[1]!] = m[2]!;
  }
  const { report, interrupted } = await runMatrix(spec, {
    reportDir,
    focus: o.focus,
    skip: o.skip,
    strict: o.strict,
    parallel: o.parallel,
    nodeBin: nodeBin(),
    earlier,
  });
  const files = writeMatrixReports(reportDir, report);
  process.stdout.write(`svc-conformance matrix: reports in ${reportDir}: ${files.map((f) => path.basename(f)).join(', ')}\n`);
  process.stdout.write(`svc-conformance matrix: ${headline(report)}\n`);
  const c = report.counts;
  process.stdout.write(
    `svc-conformance matrix: ${report.columns.length} column(s), ${c.columnsNotUp} did not run (each counts as a failure below)\n`,
  );
  process.stdout.write(
    `${closingLines({ passed: c.passed, failed: c.failed + c.columnsNotUp, skipped: c.skipped, warnings: c.warnings }).join('\n')}\n`,
  );
  if (interrupted) return 130;
  return matrixExitCode(report);
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { command, values, file } = parseCli(argv);
    if (command === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    if (command === 'list' || values.list) {
      process.stdout.write(values.profiles ? formatProfiles() : formatList());
      return 0;
    }
    if (command === 'cleanup') {
      useTarget(resolveTarget(mergeInputs(inputFromEnv(), { kubeconfig: values.kubeconfig, context: values.context })));
      const { cleanup, reachable } = await import('../cluster/preflight.ts');
      await reachable();
      const removed = await cleanup(values['run-id']);
      process.stdout.write(removed.length ? `svc-conformance: removed ${removed.join(', ')}\n` : 'svc-conformance: nothing to clean up\n');
      return 0;
    }
    if (command === 'matrix') return await matrixCommand(file!, values);
    if (command === 'manifest') {
      const { defaultImage, manifest } = await import('./ship.ts');
      const runFlags = RUN_FLAGS_IN_CLUSTER.flatMap((f) => {
        const x = (values as Record<string, string | boolean | undefined>)[f];
        return x === undefined ? [] : x === true ? [`--${f}`] : [`--${f}`, String(x)];
      });
      process.stdout.write(
        manifest({
          namespace: values.namespace ?? 'svc-conformance',
          image: values.image ?? defaultImage(),
          privileged: values.profile === 'privileged',
          runFlags,
          sonobuoy: Boolean(values.sonobuoy),
          rbacOnly: Boolean(values['rbac-only']),
        }),
      );
      return 0;
    }
    if (command === 'results') {
      if (!fs.existsSync(file!) || values.kubeconfig || values.context)
        useTarget(resolveTarget(mergeInputs(inputFromEnv(), { kubeconfig: values.kubeconfig, context: values.context })));
      const { resultsCommand } = await import('./ship.ts');
      return await resultsCommand(file!, { namespace: values.namespace, reportDir: values['report-dir'] });
    }
    if (values['list-images'] || values['dry-run']) return await planCommand(values);
    const run = values.kind ? runOnKind(values) : runCommand(values);
    if (!values['done-file']) return await run;
    // The done file (Sonobuoy's protocol) is written whatever the outcome.
    const { writeDoneFile } = await import('./ship.ts');
    let code = 1;
    try {
      code = await run;
      return code;
    } catch (e) {
      // The run stopped before its reports: any JUnit there is an older run's.
      writeDoneFile(values['done-file'], path.resolve(values['report-dir'] ?? 'svc-conformance-report'), (e as Error).message, true);
      throw e;
    } finally {
      writeDoneFile(values['done-file'], path.resolve(values['report-dir'] ?? 'svc-conformance-report'), `the run exited ${code}`);
    }
  } catch (e) {
    const code = (e as Error).name === 'UsageError' ? 2 : (e as Error).name === 'ClusterError' ? 3 : 1;
    process.stderr.write(`svc-conformance: ${(e as Error).message}\n`);
    return code;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
