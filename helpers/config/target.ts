// The run config: which cluster the checks run against, with which images, bounds and
// switches. Resolved once per run (by the CLI, or by Jest's global setup for `npm test`)
// from flags, environment and the bundled cluster's profile, validated, completed with
// what the preflight detected, and written to one file that every worker loads
// (SVC_RUN_CONFIG). This is the only module that reads process.env (its SVC_* variables
// through their declaration, ./variables.ts): everything else asks it (currentTarget(), and
// the few process facts at the end of the file).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { DnsPath } from '../lib/dns-path.ts';
import { readVariable, RUN_INPUT_VARIABLES, setVariable, type InputForm } from './variables.ts';

/** The code's root: the repository (TypeScript, run with type stripping), or `dist/` of the
 *  installed package (the same folders, compiled to JavaScript by tsconfig.build.json). */
export const CODE = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
/** The extension of the code's own modules: .ts in the repository, .js in the package. */
export const CODE_EXT = path.extname(fileURLToPath(import.meta.url));
/** The repository (or installed package) root: package.json, manifests/, dist/probe.cjs;
 *  the package's compiled code is one folder down (dist/). */
export const ROOT = fs.existsSync(path.join(CODE, 'package.json')) ? CODE : path.dirname(CODE);
/** A file of the code's own, by its path from the root without extension ('helpers/cli/cli'). */
export const codeFile = (rel: string): string => path.join(CODE, `${rel}${CODE_EXT}`);
/** The repository's cluster builds (cluster/): absent from the npm package. */
export const HAS_CLUSTER_BUILDS = fs.existsSync(path.join(ROOT, 'cluster', 'cluster.sh'));

export const DEFAULT_PROFILE_PATH = '/var/lib/svc-conformance/cluster/profile.json';
export const DEFAULT_PROBE_IMAGE = 'docker.io/library/node:24-slim';

/** Bad flags or configuration: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
/** Cluster unreachable, permissions missing, image unavailable: exit 3. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}
/** Container waiting reasons that mean an image cannot be had. */
export const IMAGE_FAILURES = /ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull/;

/** Written by cluster/cluster.sh up next to the admin kubeconfig. */
export interface ClusterProfile {
  name: string;
  kubeconfig: string;
  apiServer: string;
  kubernetesVersion: string;
  nodes: number;
  proxyMode: string;
  clusterDomain: string;
  serviceCIDR: string;
  dnsServiceIP: string;
  podCIDR: string;
  coreDNSReplicas: number;
  images: { probe: string; nodeTools: string; pause: string; coredns: string };
  /** `kube-proxy --version` of the binary the nodes run (kubeProxyBinary or the cluster's own). */
  kubeProxyVersion?: string;
  /** The Service proxy: 'kube-proxy' (in proxyMode), 'kube-router' (proxyMode 'kube-router') or
   *  'cilium' (the kind target's, proxyMode 'none'). */
  serviceProxy?: string;
  /** The Service proxy's version where it is not kube-proxy (Cilium's). */
  serviceProxyVersion?: string;
  /** How many nodes are QEMU guests (cluster/vm.sh): every one under ipvs and kube-router. */
  vmNodes?: number;
  /** NodeLocal DNSCache: 'off', 'link-local' or 'service-ip' (cluster/cluster.json nodeLocalDNS). */
  nodeLocalDNS?: string;
  /** The cluster's IP families, primary first (cluster/cluster.json ipFamilies); absent: IPv4. */
  ipFamilies?: string[];
  /** Every family's ranges and DNS Service address, primary first (serviceCIDR and the
   *  others above are the primary family's). */
  serviceCIDRs?: string[];
  dnsServiceIPs?: string[];
  podCIDRs?: string[];
}

/** What the preflight found out about the cluster, once per run. */
export interface DetectedCluster {
  server: string;
  version: string;
  /** Schedulable, Ready nodes. */
  schedulableNodes: number;
  /** Distinct topology.kubernetes.io/zone labels among the schedulable nodes (0: none). */
  zones?: number;
  /** The nodes the probes run on ("from every node" means these): at most maxProbeNodes. */
  probeNodes?: string[];
  /** The IP families the cluster serves Services in, primary first: those of its Service
   *  ranges, else the cluster DNS Service's (ipFamiliesFrom says which). */
  ipFamilies: string[];
  ipFamiliesFrom?: string;
  /** The families every schedulable node has an InternalIP in. */
  nodeFamilies?: string[];
  /** Whether kube-proxy Pods run in kube-system. */
  kubeProxy: 'present' | 'absent';
  /** kube-proxy's mode as configured (profile or its ConfigMap), or 'unknown'. */
  proxyMode: string;
  /** A Service proxy other than kube-proxy, where the preflight recognises one: Cilium (its
   *  agents in kube-system, k8s-app=cilium) with its version (the agents' image tag) and
   *  whether its kube-proxy replacement is on (cilium-config kube-proxy-replacement). */
  serviceProxy?: { name: 'cilium'; version: string; kubeProxyReplacement: boolean; images: string[] };
  /** Images of the cluster DNS Pods (k8s-app=kube-dns) and of kube-proxy, where readable. */
  dnsImages?: string[];
  kubeProxyImages?: string[];
  /** Images of kube-router's Pods (k8s-app=kube-router) and of NodeLocal DNSCache's
   *  (k8s-app=node-local-dns) in kube-system, where they run. */
  kubeRouterImages?: string[];
  dnsCacheImages?: string[];
  /** How Pods reach the cluster DNS: the Service, its replicas, the Pod's resolver and any
   *  cache in front (helpers/lib/dns-path.ts); absent when it could not be detected. */
  dnsPath?: DnsPath;
  /** Why the DNS path could not be detected (the checks then treat the resolver as the Service). */
  dnsPathError?: string;
  /** Causes the preflight saw that fail many checks at once (e.g. a cluster domain the DNS
   *  does not serve): said once, at the top of the run and above its closing lines. */
  causes?: string[];
  /** The Service ranges the API serves (networking.k8s.io/v1 ServiceCIDR, Kubernetes >= 1.33),
   *  else the bundled cluster's; absent when neither is known (serviceCIDRsFrom says why). */
  serviceCIDRs?: string[];
  serviceCIDRsFrom?: string;
}

/** Causes the preflight saw that fail many checks at once, one line each: printed once,
 *  at the run's start and again above its closing lines. */
export const causeLines = (causes: string[] = []): string[] =>
  causes.map((c) => `svc-conformance: ONE CAUSE FOR MANY CHECKS (seen by the preflight): ${c}`);

export interface Target {
  kubeconfig?: string;
  context?: string;
  profile?: ClusterProfile;
  probeImage: string;
  /** Privileged profile: an image with iptables, nft, curl and sh (undefined until the
   *  preflight knows the server version: then registry.k8s.io/kube-proxy:<version>). */
  nodeToolsImage?: string;
  /** Mirror prefix for the default node-tools image (--image-registry). */
  nodeToolsRegistry?: string;
  /** Run the privileged profile (node-level rule checks). */
  privileged: boolean;
  /** Expected-level failures fail the run too. */
  strict: boolean;
  /** The ids of the checks the run selected (--focus, --skip); absent: every check. Suites
   *  start the fixtures of selected checks ahead of them (prefetch), and no others. */
  selected?: string[];
  /** --retries: a check that fails is run again up to this many times (each attempt recorded). */
  retries?: number;
  /** --quiet: the checks print nothing of their own (the progress lines say it). */
  quiet?: boolean;
  runId: string;
  /** Bound for DNS and EndpointSlices to follow a change, in ms. */
  convergenceBoundMs: number;
  /** Bound for the Service proxy to follow a change: from a Service or endpoint change
   *  until connections through the virtual IP reach exactly the ready backends, in ms.
   *  Default 120 s, upstream e2e's e2eservice.RespondingTimeout (2 min). */
  proxyBoundMs: number;
  /** Multiplies every workload wait's deadline (never the two bounds). */
  timeoutScale: number;
  /** At most this many nodes get their own probe Pod. */
  maxProbeNodes: number;
  /** Instead: this many nodes of each zone (--probe-nodes-per-zone). */
  probeNodesPerZone?: number;
  /** The scale profile's size (--scale SERVICESxENDPOINTS): the Services it makes, and
   *  the endpoints each has. */
  scale: ScaleSize;
  evidenceDir: string;
  /** The cluster domain when it must not be detected (--cluster-domain). */
  clusterDomain?: string;
  keepNamespaces: boolean;
  /** A Docker network the cluster's nodes are on (the kind target's, or --outside-network
   *  for a kind cluster of your own): a host outside the cluster is started there. */
  outsideNetwork?: string;
  /** This machine (the runner) reaches the nodes' InternalIPs from outside the cluster:
   *  true for the bundled cluster and the kind target, else only when told. */
  outsideClient: boolean;
  /** Filled in by the preflight; absent only outside a run (unit tests). */
  cluster?: DetectedCluster;
}

/** Everything a run can be told, before defaults and the profile fill the rest. */
export interface RunInput {
  local?: boolean;
  kubeconfig?: string;
  context?: string;
  profilePath?: string;
  probeImage?: string;
  nodeToolsImage?: string;
  nodeToolsRegistry?: string;
  privileged?: boolean;
  strict?: boolean;
  runId?: string;
  convergenceBoundMs?: number;
  proxyBoundMs?: number;
  timeoutScale?: number;
  maxProbeNodes?: number;
  probeNodesPerZone?: number;
  scale?: string;
  evidenceDir?: string;
  clusterDomain?: string;
  keepNamespaces?: boolean;
  outsideNetwork?: string;
  outsideClient?: boolean;
  /** Where a value came from (a flag or an environment variable) and as what text, so
   *  that validateInput names it: `--proxy-bound` given 'x'. */
  sources?: Partial<Record<Exclude<keyof RunInput, 'sources'>, { name: string; raw: string }>>;
}

export function readProfile(file: string): ClusterProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read the cluster profile ${file}: ${(e as Error).message}. Bring the bundled ` +
        `cluster up with 'npm run cluster -- up', or set KUBECONFIG to use another cluster`,
    );
  }
  const p = parseJson(text, file) as Partial<ClusterProfile>;
  const missing = (['kubeconfig', 'apiServer', 'clusterDomain', 'serviceCIDR', 'dnsServiceIP', 'proxyMode'] as const).filter(
    (k) => typeof p[k] !== 'string',
  );
  if (typeof p.nodes !== 'number') missing.push('nodes' as never);
  if (!p.images || typeof p.images.probe !== 'string' || typeof p.images.pause !== 'string') missing.push('images' as never);
  if (missing.length)
    throw new UsageError(
      `the cluster profile ${file} lacks ${missing.join(', ')}: bring the bundled ` +
        `cluster down and up again ('npm run cluster -- down && npm run cluster -- up')`,
    );
  return p as ClusterProfile;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

export function loadKubeConfig(file?: string, context?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (e) {
    throw new UsageError(`cannot load the kubeconfig ${file ?? '(default: $KUBECONFIG or ~/.kube/config)'}: ${(e as Error).message}`);
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new UsageError(
        `context '${context}' is not in the kubeconfig ${file ?? ''}; it has: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'no contexts'
        }`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster())
    throw new UsageError(`the kubeconfig ${file ?? ''} has no current cluster: set a context with SVC_CONTEXT or --context`);
  return kc;
}

const env = process.env;

/** The run's input as the environment gives it: the run-input variables of
 *  ./variables.ts (docs/configuration.md), each where its declaration says, with the text it
 *  came as; checked by validateInput, with the flags, in one place. */
export function inputFromEnv(): RunInput {
  const input: RunInput = {};
  const sources: NonNullable<RunInput['sources']> = {};
  for (const v of RUN_INPUT_VARIABLES) {
    const raw = readVariable(v.name);
    const value = fromText(v.input.form, raw);
    if (value === undefined) continue;
    (input as Record<string, unknown>)[v.input.key] = value;
    if (typeof value !== 'boolean') sources[v.input.key] = { name: v.name, raw: raw ?? '' };
  }
  input.kubeconfig ??= env.KUBECONFIG || undefined;
  return { ...input, sources };
}

/** A variable's text as its run-input field: unset, empty or (for switches) anything but
 *  the switch's values is undefined. */
function fromText(form: InputForm, raw: string | undefined): string | number | boolean | undefined {
  switch (form) {
    case 'text':
      return raw || undefined;
    case 'number':
      return raw === undefined || raw === '' ? undefined : Number(raw);
    case 'on':
      return raw === '1' || undefined;
    case 'on-off':
      return raw === '1' ? true : raw === '0' ? false : undefined;
  }
}

/** Later inputs override earlier ones, key by key (undefined keys do not), with where
 *  each value came from. */
export function mergeInputs(...inputs: RunInput[]): RunInput {
  const out: RunInput = {};
  const sources: NonNullable<RunInput['sources']> = {};
  for (const { sources: from, ...i } of inputs)
    for (const [k, v] of Object.entries(i)) {
      if (v === undefined) continue;
      (out as Record<string, unknown>)[k] = v;
      const src = from?.[k as keyof typeof from];
      if (src) sources[k as keyof typeof sources] = src;
      else delete sources[k as keyof typeof sources];
    }
  return { ...out, sources };
}

/** The one set of rules for a run's input, whichever flag or variable gave it: throws a
 *  UsageError naming it and what was given. */
export function validateInput(input: RunInput): void {
  const name = (key: keyof NonNullable<RunInput['sources']>, fallback: string): { name: string; raw?: string } =>
    input.sources?.[key] ?? { name: fallback };
  for (const key of ['convergenceBoundMs', 'proxyBoundMs', 'timeoutScale', 'maxProbeNodes', 'probeNodesPerZone'] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v <= 0) {
      const src = name(key, key);
      throw new UsageError(`${src.name} must be a positive number (got '${src.raw ?? String(v)}')`);
    }
  }
  if (input.clusterDomain !== undefined) clusterDomain(input.clusterDomain, name('clusterDomain', 'cluster domain').name);
  if (input.scale !== undefined) scaleSize(input.scale, name('scale', '--scale').name);
  if (input.runId !== undefined && !/^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/.test(input.runId))
    throw new UsageError(`${name('runId', 'run id').name} '${input.runId}' must be lower-case letters, digits and dashes (at most 20)`);
}

/** The rule that chooses the probe nodes (helpers/cluster/probe.ts probeNodes), in words. */
export const sampleRule = (perZone: number | undefined, max: number): string =>
  perZone
    ? `${perZone} node(s) of each zone by name (--probe-nodes-per-zone)`
    : `the first ${max} schedulable node(s) by name (SVC_MAX_PROBE_NODES)`;

export interface ScaleSize {
  services: number;
  endpoints: number;
}
/** The scale profile's default size: what this project's 3-node bundled cluster holds in
 *  a few minutes (scripts/bench-scale.sh measures larger ones). */
export const DEFAULT_SCALE: ScaleSize = { services: 1000, endpoints: 10 };
export const SCALE_LIMITS = { services: 20_000, endpoints: 1000 } as const;

/** The one rule for a scale size: SERVICESxENDPOINTS ('1000x10'), or SERVICES alone (the
 *  default endpoints). Throws UsageError naming what is wrong. */
export function scaleSize(raw: string, what = '--scale'): ScaleSize {
  const m = /^\s*(\d+)(?:\s*x\s*(\d+))?\s*$/i.exec(raw);
  const services = m ? Number(m[1]) : NaN;
  const endpoints = m?.[2] !== undefined ? Number(m[2]) : DEFAULT_SCALE.endpoints;
  if (!m || services < 1 || endpoints < 1 || services > SCALE_LIMITS.services || endpoints > SCALE_LIMITS.endpoints)
    throw new UsageError(
      `${what} must be SERVICESxENDPOINTS, e.g. 1000x10: 1 to ${SCALE_LIMITS.services} Services of 1 to ` +
        `${SCALE_LIMITS.endpoints} endpoints each (got '${raw}')`,
    );
  return { services, endpoints };
}

export const newRunId = (): string =>
  `r${Date.now().toString(36).slice(-5)}${Math.floor(Math.random() * 256)
    .toString(16)
    .padStart(2, '0')}`;

/** The one rule for a cluster domain (flag, environment, run config): a DNS name, without
 *  the trailing dot. Throws UsageError naming what is wrong. */
export function clusterDomain(raw: string, what = 'cluster domain'): string {
  const domain = raw.replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(domain))
    throw new UsageError(`${what} '${raw}' is not a DNS name`);
  return domain;
}

/** Resolves which cluster and what settings, validated. Throws UsageError on bad input. */
export function resolveTarget(input: RunInput): Target {
  validateInput(input);
  let kubeconfig = input.kubeconfig;
  let profile: ClusterProfile | undefined;
  if (input.local) {
    if (!fs.existsSync(DEFAULT_PROFILE_PATH))
      throw new UsageError(`the bundled cluster is not up (${DEFAULT_PROFILE_PATH} is missing): 'npm run cluster -- up' (as root)`);
    profile = readProfile(DEFAULT_PROFILE_PATH);
    kubeconfig = profile.kubeconfig;
  } else if (kubeconfig) {
    if (!fs.existsSync(kubeconfig.split(':')[0]!))
      throw new UsageError(`kubeconfig ${kubeconfig} does not exist (--kubeconfig / $KUBECONFIG / SVC_KUBECONFIG)`);
    // The bundled cluster through its own (or another) kubeconfig: its images are local
    // to it, so take them from its profile.
    const profilePath = input.profilePath ?? DEFAULT_PROFILE_PATH;
    if (fs.existsSync(profilePath)) {
      const p = readProfile(profilePath);
      const server = (() => {
        try {
          return loadKubeConfig(kubeconfig, input.context).getCurrentCluster()?.server;
        } catch {
          return undefined;
        }
      })();
      if (input.profilePath || (server && server === p.apiServer)) profile = p;
    }
  } else {
    const profilePath = input.profilePath ?? DEFAULT_PROFILE_PATH;
    if (fs.existsSync(profilePath)) {
      profile = readProfile(profilePath);
      kubeconfig = profile.kubeconfig;
    } else if (!fs.existsSync(path.join(os.homedir(), '.kube', 'config'))) {
      throw new UsageError(
        `no cluster to test: KUBECONFIG is not set and the bundled cluster is not up (${profilePath} is missing). Pass ` +
          `--kubeconfig (or set KUBECONFIG), or bring the bundled cluster up with 'npm run cluster -- up' (as root)`,
      );
    }
  }
  const runId = input.runId ?? newRunId();
  const domain = input.clusterDomain === undefined ? undefined : clusterDomain(input.clusterDomain);
  return {
    kubeconfig,
    context: input.context,
    profile,
    probeImage: input.probeImage ?? profile?.images.probe ?? DEFAULT_PROBE_IMAGE,
    nodeToolsImage: input.nodeToolsImage ?? profile?.images.nodeTools,
    nodeToolsRegistry: input.nodeToolsRegistry,
    privileged: input.privileged ?? false,
    strict: input.strict ?? false,
    runId,
    convergenceBoundMs: input.convergenceBoundMs ?? 10_000,
    proxyBoundMs: input.proxyBoundMs ?? 120_000,
    // VM nodes (cluster/vm.sh) run under software emulation: the waits for the cluster's own
    // work (Pods ready, probe answers) take three times as long there. The bounds a check
    // holds Services to (convergenceBoundMs, proxyBoundMs) do not change.
    timeoutScale: input.timeoutScale ?? ((profile?.vmNodes ?? 0) > 0 ? 3 : 1),
    maxProbeNodes: input.maxProbeNodes ?? 5,
    ...(input.probeNodesPerZone ? { probeNodesPerZone: Math.floor(input.probeNodesPerZone) } : {}),
    scale: input.scale === undefined ? DEFAULT_SCALE : scaleSize(input.scale),
    evidenceDir: path.resolve(input.evidenceDir ?? 'reports/evidence'),
    clusterDomain: domain,
    keepNamespaces: input.keepNamespaces ?? false,
    outsideNetwork: input.outsideNetwork,
    // The bundled cluster's nodes are on a bridge of this machine, kind's on a Docker
    // network of it: this machine is outside the cluster and reaches their addresses.
    outsideClient: input.outsideClient ?? (profile !== undefined || input.outsideNetwork !== undefined),
  };
}

/** The node-tools image of a privileged run: the one asked for, else kube-proxy of the
 *  server's version (from the mirror, with --image-registry). */
export function nodeToolsImageFor(t: Target, version: string): string {
  return t.nodeToolsImage ?? `${t.nodeToolsRegistry ? t.nodeToolsRegistry.replace(/\/+$/, '') : 'registry.k8s.io'}/kube-proxy:${version}`;
}

// ----------------------------------------------------------------------------- the run config of this process
// Set once per process and frozen: the CLI and npm test's global setup make it with
// useTarget (the preflight runs with it), and publishTarget adds what the preflight
// detected, also once, and writes both where the workers load them from. Nothing changes
// either afterwards.

let config: Readonly<Target> | undefined;
let facts: Readonly<DetectedCluster> | undefined;

function frozen<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) frozen(v);
    Object.freeze(o);
  }
  return o;
}

/** Makes `t` this process's run config, once: a second, different config is a bug. */
export function useTarget(t: Target): Readonly<Target> {
  if (config && config !== t)
    throw new Error(`the run config is set once per process: run ${config.runId} has one, run ${t.runId} was given`);
  if (t.cluster) throw new Error('a run config gets its cluster facts from publishTarget, once');
  config = frozen(t);
  return config;
}

/** Adds what the preflight detected to this process's run config (once) and writes both
 *  where every worker (and child process) loads them from. */
export function publishTarget(t: Target, cluster: DetectedCluster, dir: string): string {
  useTarget(t);
  if (facts) throw new Error(`the cluster facts of run ${t.runId} are set once per process`);
  facts = frozen(cluster);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `run-config-${t.runId}.json`);
  const published: Target = { ...t, cluster, nodeToolsImage: nodeToolsImageFor(t, cluster.version) };
  fs.writeFileSync(file, JSON.stringify(published, null, 2));
  setVariable('SVC_RUN_CONFIG', file);
  return file;
}

export const hasPublishedTarget = (): boolean => Boolean(readVariable('SVC_RUN_CONFIG'));

/** The run config, as every part of the run reads it. A worker loads the published one
 *  on first use; outside a run (unit tests) it is resolved from the environment, without
 *  cluster facts. */
export function currentTarget(): Readonly<Target> {
  if (config) return config;
  const published = readVariable('SVC_RUN_CONFIG');
  if (published) {
    const { cluster, ...t } = loadPublished(published);
    facts = cluster && frozen(cluster);
    config = frozen(t);
    return config;
  }
  return useTarget(resolveTarget(inputFromEnv()));
}

/** What the preflight detected, with what is assumed when nothing was (outside a run):
 *  node count 0 (unknown), IPv4 only, kube-proxy and its mode unknown. */
export function detected(): Omit<DetectedCluster, 'kubeProxy'> & { kubeProxy: DetectedCluster['kubeProxy'] | 'unknown' } {
  currentTarget();
  return facts ?? { server: '', version: '', schedulableNodes: 0, ipFamilies: ['IPv4'], kubeProxy: 'unknown', proxyMode: 'unknown' };
}

/** The node-tools image of this run (privileged profile). */
export const nodeToolsImage = (): string => nodeToolsImageFor(currentTarget(), detected().version);

/** A run config as written by publishTarget, validated (workers, and the matrix reading a
 *  column's); `cluster` is what the preflight detected. */
export function loadPublished(file: string): Target {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the run config ${file} (SVC_RUN_CONFIG): ${(e as Error).message}`);
  }
  const t = parseJson(text, `the run config ${file}`) as Partial<Target>;
  const bad = [
    typeof t.runId !== 'string' && 'runId',
    typeof t.probeImage !== 'string' && 'probeImage',
    typeof t.privileged !== 'boolean' && 'privileged',
    typeof t.strict !== 'boolean' && 'strict',
    !(Number(t.convergenceBoundMs) > 0) && 'convergenceBoundMs',
    !(Number(t.proxyBoundMs) > 0) && 'proxyBoundMs',
    !(Number(t.timeoutScale) > 0) && 'timeoutScale',
    !(Number(t.maxProbeNodes) > 0) && 'maxProbeNodes',
    typeof t.evidenceDir !== 'string' && 'evidenceDir',
    t.outsideNetwork !== undefined && typeof t.outsideNetwork !== 'string' && 'outsideNetwork',
    t.cluster !== undefined && !Array.isArray(t.cluster.ipFamilies) && 'cluster',
  ].filter(Boolean);
  if (bad.length)
    throw new UsageError(
      `the run config ${file} is not valid (${bad.join(', ')}): it is written by the CLI or global setup of the same version`,
    );
  return t as Target;
}

// ----------------------------------------------------------------------------- process facts
/** Inside a Jest worker (signal handlers there clean up what the worker made). */
export const inJestWorker = (): boolean => Boolean(env.JEST_WORKER_ID);
export const isCI = (): boolean => Boolean(env.CI);
/** GitHub Actions' step summary file, when there is one. */
export const stepSummaryFile = (): string | undefined => env.GITHUB_STEP_SUMMARY || undefined;
export const chromiumPath = (): string => readVariable('SVC_CHROMIUM') || '/usr/bin/chromium';
/** Where cluster/build.sh caches builds and images (as cluster/lib.sh reads it). */
export const cacheDir = (): string => readVariable('SVC_CACHE_DIR') || '/var/cache/svc-conformance';
/** testcontainers' reaper (Ryuk): whether the user turned it off, whether this is GitHub
 *  Actions (where Docker Hub is reachable), and SVC_KIND_RYUK=1 (keep it). */
export const ryukSettings = (): { disabledByUser: boolean; githubActions: boolean; wanted: boolean } => ({
  disabledByUser: env.TESTCONTAINERS_RYUK_DISABLED !== undefined,
  githubActions: env.GITHUB_ACTIONS === 'true',
  wanted: readVariable('SVC_KIND_RYUK') === '1',
});
/** testcontainers reads its settings from the environment: the one write this module makes for a library. */
export function disableRyuk(): void {
  env.TESTCONTAINERS_RYUK_DISABLED = 'true';
}
/** The environment overrides that keep this process's run out of a child's: the child
 *  (the CLI, cluster.sh, a kind command started by the tool's own tests) resolves its own. */
export const WITHOUT_THIS_RUN: Record<string, string> = Object.fromEntries(
  [
    'KUBECONFIG',
    'SVC_PROFILE',
    'SVC_KUBECONFIG',
    'SVC_RUN_ID',
    'SVC_PRIVILEGED',
    'SVC_RUN_CONFIG',
    'SVC_EVIDENCE_DIR',
    'SVC_STRICT',
    'SVC_OUTSIDE_NETWORK',
    'SVC_TARGET',
    'JEST_WORKER_ID',
  ].map((k) => [k, '']),
);
/** The environment for a child process (the CLI, cluster.sh, Jest), with overrides;
 *  an override of '' removes the variable. */
export function childEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}
