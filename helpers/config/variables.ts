// Every SVC_* environment variable the project reads, in one declaration: its name, what it
// does, its default, the flag of `svc-conformance` it corresponds to, and what reads it (a
// run's input, the bundled cluster, npm test, the scripts, the probe). TypeScript reads them
// only through this module (readVariable; inputFromEnv in target.ts goes through `input`);
// the shell scripts read them where the declaration says (readIn). The bundled cluster's
// config variables are not repeated here: they are cluster/env-keys.json, the list
// cluster/lib.sh load_config reads, with each key's default from cluster/cluster.json.
// docs/configuration.md's table is generated from all of it (helpers/tools/docs-gen.ts), and
// helpers/config/variables.test.ts fails when a name in the code is missing here or a name
// here is read nowhere.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunInput } from './target.ts';

/** What reads a variable. */
export type Part = 'run' | 'cluster' | 'test' | 'scripts' | 'self' | 'probe' | 'parameter';

/** How a run-input variable's text becomes its RunInput field. */
export type InputForm =
  /** the text; empty is unset */
  | 'text'
  /** a number; empty is unset */
  | 'number'
  /** `1` is on; anything else is unset */
  | 'on'
  /** `1` is on, `0` is off; anything else is unset */
  | 'on-off';

export interface Variable {
  readonly name: string;
  readonly part: Part;
  /** What it does, in one line. */
  readonly what: string;
  readonly default: string;
  /** The flag of `svc-conformance run` (or of the command named) it corresponds to. */
  readonly flag?: string;
  /** Files (from the repository root) that read it: shell as `$NAME` or `${NAME…}`;
   *  TypeScript as readVariable('NAME'), the probe as process.env.NAME. A run-input variable
   *  is read by inputFromEnv (helpers/config/target.ts) through `input`, listed or not. */
  readonly readIn: readonly string[];
  /** A run's input: the RunInput field it sets (flags override it), and how its text is read. */
  readonly input?: { readonly key: Exclude<keyof RunInput, 'sources'>; readonly form: InputForm };
  /** The bundled cluster's config key it overrides (cluster/env-keys.json). */
  readonly clusterKey?: string;
  /** Also a parameter cluster/addons-apply.sh sets for these scripts (the bundled cluster's
   *  own value, whatever the environment says). */
  readonly parameterOf?: readonly string[];
}

const ADDONS_APPLY = 'cluster/addons-apply.sh';

/** Every variable but the bundled cluster's config keys (clusterVariables) and the add-on
 *  scripts' parameters (PARAMETERS). */
const DECLARED = [
  // ------------------------------------------------------------------ a run's input (inputFromEnv)
  {
    name: 'SVC_KUBECONFIG',
    part: 'run',
    what: 'kubeconfig of the cluster under test (wins over `KUBECONFIG`); with either, `npm test` does not bring the bundled cluster up',
    default: '`$KUBECONFIG`, else the bundled cluster, else `~/.kube/config`',
    flag: '--kubeconfig',
    readIn: ['scripts/busy.sh', 'scripts/flake-record.sh', 'scripts/test.sh'],
    input: { key: 'kubeconfig', form: 'text' },
  },
  {
    name: 'SVC_CONTEXT',
    part: 'run',
    what: 'context in that kubeconfig',
    default: 'its current context',
    flag: '--context',
    readIn: [],
    input: { key: 'context', form: 'text' },
  },
  {
    name: 'SVC_PROFILE',
    part: 'run',
    what: "profile of the cluster under test (its images, ranges): the bundled cluster's, or the kind target's node image's",
    default: '`/var/lib/svc-conformance/cluster/profile.json` when it exists',
    readIn: ['scripts/ship-e2e.sh'],
    input: { key: 'profilePath', form: 'text' },
  },
  {
    name: 'SVC_PROBE_IMAGE',
    part: 'run',
    what: 'Node ≥ 20 image for probes and backends',
    default: "the cluster profile's, else Docker Hub's `node:24-slim` (`--help` names it)",
    flag: '--probe-image',
    readIn: [],
    input: { key: 'probeImage', form: 'text' },
  },
  {
    name: 'SVC_NODE_TOOLS_IMAGE',
    part: 'run',
    what: 'privileged profile: image with iptables, nft, curl and sh for the host-network probes',
    default: "the cluster profile's node-tools, else upstream's `kube-proxy:<server version>` image",
    flag: '--node-tools-image',
    readIn: [],
    input: { key: 'nodeToolsImage', form: 'text' },
  },
  {
    name: 'SVC_PRIVILEGED',
    part: 'run',
    what: '`1`: the privileged profile, which adds the kube-proxy rule checks (host-network probes)',
    default: 'off (default profile)',
    flag: '--profile privileged',
    readIn: ['scripts/test.sh'],
    input: { key: 'privileged', form: 'on' },
  },
  {
    name: 'SVC_STRICT',
    part: 'run',
    what: '`1`: expected-level checks fail the run too',
    default: 'off (they are warnings)',
    flag: '--strict',
    readIn: [],
    input: { key: 'strict', form: 'on' },
  },
  {
    name: 'SVC_RUN_ID',
    part: 'run',
    what: "labels the run's namespaces",
    default: 'generated',
    flag: '--run-id',
    readIn: [],
    input: { key: 'runId', form: 'text' },
  },
  {
    name: 'SVC_CONVERGENCE_BOUND_MS',
    part: 'run',
    what: "how long DNS and EndpointSlices may take to follow a change, in ms (the flag: seconds); at a DNS cache, plus the replicas' TTL",
    default: '10000',
    flag: '--convergence-bound',
    readIn: ['scripts/prove-failures.sh'],
    input: { key: 'convergenceBoundMs', form: 'number' },
  },
  {
    name: 'SVC_PROXY_BOUND_MS',
    part: 'run',
    what: "how long the Service proxy may take to follow a change, in ms (the flag: seconds); upstream e2e's `RespondingTimeout`",
    default: '120000',
    flag: '--proxy-bound',
    readIn: ['scripts/prove-failures.sh'],
    input: { key: 'proxyBoundMs', form: 'number' },
  },
  {
    name: 'SVC_TIMEOUT_SCALE',
    part: 'run',
    what: 'multiplies every workload wait (Pods Ready, images), never the two bounds',
    default: "1; 3 on the bundled cluster's VM nodes",
    flag: '--timeout-scale',
    readIn: [],
    input: { key: 'timeoutScale', form: 'number' },
  },
  {
    name: 'SVC_MAX_PROBE_NODES',
    part: 'run',
    what: 'at most this many nodes get a probe Pod',
    default: '5',
    readIn: [],
    input: { key: 'maxProbeNodes', form: 'number' },
  },
  {
    name: 'SVC_PROBE_NODES_PER_ZONE',
    part: 'run',
    what: 'probe Pods on this many nodes of each zone (`topology.kubernetes.io/zone`) instead of the first `SVC_MAX_PROBE_NODES`: the report names them',
    default: 'unset',
    flag: '--probe-nodes-per-zone',
    readIn: [],
    input: { key: 'probeNodesPerZone', form: 'number' },
  },
  {
    name: 'SVC_SCALE',
    part: 'run',
    what: 'the scale profile (`--conformance-profile scale`): how many Services it makes, and how many endpoints each has',
    default: '`1000x10`',
    flag: '--scale',
    readIn: [],
    input: { key: 'scale', form: 'text' },
  },
  {
    name: 'SVC_EVIDENCE_DIR',
    part: 'run',
    what: 'where DNS transcripts and measurements go when Jest runs the suites directly; `run` puts them in `<--report-dir>/evidence`',
    default: '`reports/evidence`',
    readIn: [],
    input: { key: 'evidenceDir', form: 'text' },
  },
  {
    name: 'SVC_CLUSTER_DOMAIN',
    part: 'run',
    what: "the cluster domain to assume instead of detecting it (the bundled cluster's own is `SVC_BUNDLED_CLUSTER_DOMAIN`)",
    default: "detected from a probe Pod's resolv.conf",
    flag: '--cluster-domain',
    readIn: [],
    input: { key: 'clusterDomain', form: 'text' },
  },
  {
    name: 'SVC_KEEP_NAMESPACES',
    part: 'run',
    what: "`1`: keep the run's namespaces for debugging",
    default: 'off',
    flag: '--keep-namespaces',
    readIn: [],
    input: { key: 'keepNamespaces', form: 'on' },
  },
  {
    name: 'SVC_OUTSIDE_NETWORK',
    part: 'run',
    what: 'a Docker network the nodes are on (e.g. `kind`): the outside-host check starts a server there',
    default: "the kind target's network; else unset (the check skips)",
    flag: '--outside-network',
    readIn: ['scripts/ship-e2e.sh'],
    input: { key: 'outsideNetwork', form: 'text' },
  },
  {
    name: 'SVC_OUTSIDE_CLIENT',
    part: 'run',
    what: "`1`: this machine reaches the nodes' InternalIPs, so the node port checks from outside the cluster dial them from here; `0`: it does not",
    default: 'on for the bundled cluster and the kind target; else off (those checks skip)',
    flag: '--outside-client',
    readIn: [],
    input: { key: 'outsideClient', form: 'on-off' },
  },
  // ------------------------------------------------------------------ the run's process
  {
    name: 'SVC_RUN_CONFIG',
    part: 'run',
    what: "the run config file every Jest worker loads (`<report dir>/run-config-<run id>.json`); set by the CLI and npm test's global setup, not by hand",
    default: 'set by the run',
    readIn: ['helpers/config/target.ts'],
  },
  {
    name: 'SVC_KIND_RYUK',
    part: 'run',
    what: "`1`: keep testcontainers' reaper (Ryuk) for the kind target where it is disabled by default (outside GitHub Actions)",
    default: 'off',
    readIn: ['helpers/config/target.ts'],
  },
  // ------------------------------------------------------------------ the bundled cluster (besides env-keys.json)
  {
    name: 'SVC_CLUSTER_CONFIG',
    part: 'cluster',
    what: 'a JSON file of `cluster/cluster.json` keys merged over its defaults (unknown keys are refused); the single-key variables override it',
    default: '`cluster/cluster.json` alone',
    readIn: ['cluster/lib.sh'],
  },
  {
    name: 'SVC_CACHE_DIR',
    part: 'cluster',
    what: 'where the components built from source, images and logs of a failed `up` are cached; `${SVC_CACHE_DIR}` in a matrix file',
    default: '`/var/cache/svc-conformance`',
    readIn: ['cluster/lib.sh', 'helpers/config/target.ts', 'scripts/matrix-example.sh', 'scripts/ship-e2e.sh'],
  },
  {
    name: 'SVC_KEEP_ON_FAILURE',
    part: 'cluster',
    what: '`1`: a failed `cluster up` leaves the half-made cluster for inspection (else it is removed, its logs kept in the cache)',
    default: 'off',
    readIn: ['cluster/cluster.sh'],
  },
  {
    name: 'SVC_NODE_BINARY',
    part: 'cluster',
    what: 'the Node.js (≥ 22.19) binary put in the probe image',
    default: '`node_modules/node`, else `node` on the PATH',
    readIn: ['cluster/images.sh'],
  },
  {
    name: 'SVC_DEBIAN_MIRROR',
    part: 'cluster',
    what: "the Debian mirror debootstrap reads for the kind node image, the VM nodes' root filesystem and Cilium's image",
    default: "this machine's apt sources' mirror",
    readIn: ['cluster/cilium/cilium.sh', 'cluster/kind/node-image.sh', 'cluster/vm.sh'],
  },
  // ------------------------------------------------------------------ npm test (scripts/test.sh)
  {
    name: 'SVC_TARGET',
    part: 'test',
    what: '`kind`: `npm test` runs on a kind cluster that testcontainers starts and removes; `bundled`: the bundled cluster',
    default: '`$KUBECONFIG`, else the bundled cluster',
    flag: '--kind',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_KIND_IMAGE',
    part: 'test',
    what: 'the kind node image (`SVC_TARGET=kind`, `SVC_ALSO_KIND=1`)',
    default: 'ours (`cluster/kind/node-image.sh`)',
    flag: '--kind-image',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_KIND_NODES',
    part: 'test',
    what: "the kind cluster's node count",
    default: '3',
    flag: '--kind-nodes',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_KIND_PROXY_MODE',
    part: 'test',
    what: "the kind cluster's kube-proxy mode: `iptables` or `nftables`",
    default: 'iptables',
    flag: '--kind-proxy-mode',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_KIND_PROXY',
    part: 'test',
    what: "the kind cluster's Service proxy: `kube-proxy` (in SVC_KIND_PROXY_MODE) or `cilium` (Cilium as CNI and kube-proxy replacement, `cluster/cilium/cilium.sh`)",
    default: 'kube-proxy',
    flag: '--kind-proxy',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_KIND_IP_FAMILY',
    part: 'test',
    what: "the kind cluster's IP family: `ipv4`, `ipv6` or `dual`",
    default: 'ipv4',
    flag: '--kind-ip-family',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_REPORT_DIR',
    part: 'test',
    what: "where each run's reports go (`<dir>/<run>`), and those of the proofs that run from it",
    default: '`reports`',
    readIn: ['scripts/prove-failures.sh', 'scripts/ship-e2e.sh', 'scripts/test.sh'],
  },
  {
    name: 'SVC_RUNNER_TESTS',
    part: 'test',
    what: "`0`: skip the runner's own tests (helpers/e2e/) on the bundled cluster",
    default: '1',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_ONE_NODE',
    part: 'test',
    what: "`1` (CI): the default profile again on a 1-node bundled cluster (kind's default)",
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_KIND',
    part: 'test',
    what: "`1` (CI): the default profile on a kind cluster too, between the bundled cluster's runs",
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_NFTABLES',
    part: 'test',
    what: '`1` (CI): the matrix `examples/matrix/ci.yaml` (kube-proxy iptables against nftables, NodeLocal DNSCache, IPv6, dual-stack)',
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_VM',
    part: 'test',
    what: "`1` (CI): the matrix `examples/matrix/ci-vm.yaml` (kube-proxy's ipvs mode and kube-router on VM nodes)",
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_CILIUM',
    part: 'test',
    what: "`1` (CI): the matrix `examples/matrix/ci-cilium.yaml` (Cilium's kube-proxy replacement on kind, privileged), Cilium built first (`cluster/cilium/cilium.sh`)",
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_CILIUM_VERSION',
    part: 'cluster',
    what: 'the Cilium release built from the Go module proxy for the kind target',
    default: 'v1.20.2',
    readIn: ['cluster/cilium/cilium.sh'],
  },
  {
    name: 'SVC_CILIUM_HELM_SET',
    part: 'cluster',
    what: "more `--set` values for Cilium's chart, comma-separated (e.g. a broken setting for scripts/prove-failures.sh)",
    default: 'none',
    readIn: ['cluster/cilium/cilium.sh'],
  },
  {
    name: 'SVC_ALSO_PROVE',
    part: 'test',
    what: '`1` (CI): the fast subset of the proof that checks can fail (`scripts/prove-failures.sh --ci`)',
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_SCALE',
    part: 'test',
    what: '`1` (CI): the scale profile at a small size (`--scale 300x5`) on the bundled 3-node cluster, after the main run',
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_ALSO_SHIP',
    part: 'test',
    what: "`1` (CI): the 1-node and kind runs from the packed npm package, with the shipped forms' proofs (`scripts/ship-e2e.sh`)",
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  {
    name: 'SVC_LIFECYCLE',
    part: 'test',
    what: '`1` (CI): the lifecycle suites last (`cluster up` on bad input, a second domain, `down`, the matrix, the kind target)',
    default: 'off',
    readIn: ['scripts/test.sh'],
  },
  // ------------------------------------------------------------------ scripts
  {
    name: 'SVC_SHIP_INSTALLS',
    part: 'scripts',
    what: 'a folder where the packed tarball and its installs are kept for the next phase (set by scripts/test.sh)',
    default: 'a temporary folder',
    readIn: ['scripts/ship-e2e.sh'],
  },
  {
    name: 'SVC_IMAGE_PACKAGE',
    part: 'scripts',
    what: 'the npm pack tarball scripts/image.sh builds the image from, instead of packing this checkout (set by scripts/ship-e2e.sh, whose phases may run at once: packing rebuilds dist/)',
    default: 'npm pack of this checkout',
    readIn: ['scripts/image.sh'],
  },
  {
    name: 'SVC_KIND_CLUSTER',
    part: 'scripts',
    what: "the kind cluster's name, for the command `helpers/targets/kind/cli.ts exec` runs",
    default: 'set by `helpers/targets/kind/cli.ts exec`',
    readIn: ['scripts/bench-kind.sh', 'scripts/ship-e2e.sh'],
  },
  {
    name: 'SVC_SONOBUOY_VERSION',
    part: 'scripts',
    what: 'the Sonobuoy release built',
    default: 'v0.57.5',
    readIn: ['scripts/sonobuoy.sh'],
  },
  {
    name: 'SVC_SONOBUOY_NAMESPACE',
    part: 'scripts',
    what: "Sonobuoy's namespace",
    default: 'sonobuoy',
    readIn: ['scripts/sonobuoy.sh'],
  },
  {
    name: 'SVC_SONOBUOY_TIMEOUT',
    part: 'scripts',
    what: 'seconds the aggregator waits for plugins (the CLI waits 2 minutes more)',
    default: '600',
    readIn: ['scripts/sonobuoy.sh'],
  },
  {
    name: 'SVC_SONOBUOY_RUN_FLAGS',
    part: 'scripts',
    what: 'more flags for `sonobuoy run` (e.g. `--skip-preflight=dnscheck`)',
    default: 'none',
    readIn: ['scripts/sonobuoy.sh'],
  },
  {
    name: 'SVC_SONOBUOY_KEEP',
    part: 'scripts',
    what: 'a folder to keep the retrieved results tarball in',
    default: 'not kept',
    readIn: ['scripts/sonobuoy.sh'],
  },
  {
    name: 'SVC_NO_KIND',
    part: 'scripts',
    what: '`1`: set up without the kind target (Docker, debootstrap, the kind tools and node image)',
    default: 'off',
    readIn: ['scripts/setup.sh'],
  },
  // ------------------------------------------------------------------ the tool's own tests
  {
    name: 'SVC_CHROMIUM',
    part: 'self',
    what: 'the Chromium the report tests open the HTML reports in (helpers/tools/chromium.ts)',
    default: '`/usr/bin/chromium`',
    readIn: ['helpers/config/target.ts'],
  },
  // ------------------------------------------------------------------ the probe (its own bundle, in a Pod)
  {
    name: 'SVC_DRAIN',
    part: 'probe',
    what: '`1`: a backend keeps serving after SIGTERM (set by manifests/pinned-backend.yaml). Read by probe/probe.ts itself: it runs in a Pod as its own bundle (dist/probe.cjs) and imports nothing of helpers/',
    default: 'off',
    readIn: ['probe/probe.ts'],
  },
] as const satisfies readonly Variable[];

/** The name of a variable TypeScript may read (readVariable). */
export type VariableName = (typeof DECLARED)[number]['name'];

/** The parameters cluster/addons-apply.sh gives the add-on manifest scripts: the bundled
 *  cluster's own values, set on their command line, not settings. A name that is also a
 *  setting (SVC_IP_FAMILIES, ...) is described there. */
export const PARAMETERS: readonly { name: string; what?: string; readIn: readonly string[] }[] = [
  { name: 'SVC_COREFILE_JSON', what: "CoreDNS's Corefile, as a JSON string", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_PROXYCFG_JSON', what: "kube-proxy's KubeProxyConfiguration, as a JSON string", readIn: ['cluster/addons.sh'] },
  {
    name: 'SVC_API',
    what: 'the API server (https://host:port) the Service proxy Pods reach directly',
    readIn: ['cluster/kube-router.sh', 'cluster/token-kubeconfig.sh'],
  },
  { name: 'SVC_API_HOST', what: "the API server's address for CoreDNS when no Service proxy runs", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_API_PORT', what: "the API server's port for CoreDNS when no Service proxy runs", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_DNS_IP', what: "the kube-dns Service's ClusterIP", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_DNS_IPS', what: "the kube-dns Service's ClusterIPs, one per family", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_IP_FAMILIES', readIn: ['cluster/addons.sh'] },
  { name: 'SVC_COREDNS_IMAGE', what: 'the CoreDNS image', readIn: ['cluster/addons.sh'] },
  { name: 'SVC_COREDNS_REPLICAS', readIn: ['cluster/addons.sh'] },
  { name: 'SVC_NODE_TOOLS_IMAGE', readIn: ['cluster/addons.sh'] },
  {
    name: 'SVC_PROXY_ENABLED',
    what: '`0` when no Service proxy runs (proxyMode none): CoreDNS reaches the API server directly',
    readIn: ['cluster/addons.sh'],
  },
  { name: 'SVC_NODE_LOCAL_DNS', readIn: ['cluster/addons.sh'] },
  { name: 'SVC_KUBE_PROXY', what: '`1` when kube-proxy is the Service proxy, `0` for kube-router', readIn: ['cluster/addons.sh'] },
  { name: 'SVC_PROXY_EXTRA_FLAGS', what: "kube-proxy's extraFlags, pre-quoted", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_KUBE_ROUTER_IMAGE', what: 'the kube-router image', readIn: ['cluster/kube-router.sh'] },
  { name: 'SVC_KUBE_ROUTER_EXTRA_FLAGS', what: "kube-router's extraFlags, pre-quoted", readIn: ['cluster/kube-router.sh'] },
  { name: 'SVC_NODE_LOCAL_COREFILE_JSON', what: "the node cache's Corefile, as a JSON string", readIn: ['cluster/addons.sh'] },
  { name: 'SVC_NODE_LOCAL_DNS_IMAGE', what: "the node cache's image", readIn: ['cluster/addons.sh'] },
  {
    name: 'SVC_NODE_LOCAL_CONFIG_KEY',
    what: "the node cache's config file name (Corefile, dnsmasq.conf, unbound.conf)",
    readIn: ['cluster/addons.sh'],
  },
  { name: 'SVC_NODE_LOCAL_ARGS_JSON', what: "the node cache's arguments, as a YAML flow list", readIn: ['cluster/addons.sh'] },
  {
    name: 'SVC_NODE_LOCAL_PROBE',
    what: "the node cache's liveness and readiness probe handler (YAML flow)",
    readIn: ['cluster/addons.sh'],
  },
];

/** Each config key of the bundled cluster that cluster/env-keys.json gives a variable: what it
 *  does, and its default where cluster/cluster.json's (null) does not say it. */
export const CLUSTER_KEYS: Readonly<Record<string, { what: string; default?: string }>> = {
  kubernetesVersion: { what: 'the Kubernetes release the nodes run (built from source, cached by version)' },
  coreDNSVersion: { what: 'the CoreDNS release' },
  etcdVersion: { what: 'the etcd release' },
  containerdVersion: { what: 'the containerd release (v2.x)' },
  nodes: { what: 'how many nodes (1–5)' },
  proxyMode: { what: "kube-proxy's mode: `iptables`, `nftables`, `ipvs` (every node a VM node) or `none`" },
  serviceProxy: { what: 'the Service proxy: `kube-proxy` (in proxyMode), or `kube-router` (its IPVS proxy alone, on VM nodes)' },
  kubeRouterVersion: { what: 'the kube-router release (serviceProxy kube-router)' },
  clusterDomain: { what: "the bundled cluster's domain (what a run assumes is `SVC_CLUSTER_DOMAIN`)" },
  coreDNSReplicas: { what: 'how many CoreDNS replicas' },
  controllers: { what: "kube-controller-manager's `--controllers` (e.g. `*,-endpointslice-mirroring-controller`)" },
  kubeProxyBinary: { what: 'your own kube-proxy binary, put in the node-tools image', default: 'built' },
  dnsImage: { what: 'an OCI archive of your DNS server, imported in place of CoreDNS', default: 'CoreDNS, built' },
  corefile: {
    what: "CoreDNS's Corefile, text or a file (`${CLUSTER_DOMAIN}` is replaced)",
    default: "kubeadm's, without `forward` and `loop`",
  },
  nodeLocalDNS: { what: 'NodeLocal DNSCache: `off`, `link-local` or `service-ip`' },
  nodeLocalDNSCorefile: { what: "the node cache's Corefile, text or a file", default: "upstream's, without the `.` forward" },
  nodeLocalDNSServer: {
    what: "the node cache's server: `coredns` (NodeLocal DNSCache), `dnsmasq` or `unbound` (Debian's packages, same addresses and upstream)",
    default: '`coredns`',
  },
  ipFamilies: { what: 'the IP families, primary first: `IPv4`, `IPv6`, `IPv4,IPv6` or `IPv6,IPv4`' },
  vmNodes: { what: 'how many nodes (the last ones) are QEMU VM nodes', default: 'every node under ipvs and kube-router, else none' },
};

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

/** The bundled cluster's config variables: cluster/env-keys.json (what cluster/lib.sh
 *  load_config reads), each with its key's default from cluster/cluster.json; none where
 *  the cluster builds are absent (the npm package). */
export function clusterVariables(root: string): Variable[] {
  const keysFile = path.join(root, 'cluster', 'env-keys.json');
  if (!fs.existsSync(keysFile)) return [];
  const defaults = readJson(path.join(root, 'cluster', 'cluster.json'));
  return Object.entries(readJson(keysFile)).map(([name, key]) => {
    const about = CLUSTER_KEYS[String(key)];
    const d = defaults[String(key)];
    return {
      name,
      part: 'cluster',
      what: about?.what ?? `(not described: add ${String(key)} to CLUSTER_KEYS in helpers/config/variables.ts)`,
      default: about?.default ?? (d === null || d === undefined ? 'unset' : `\`${Array.isArray(d) ? d.join(',') : String(d)}\``),
      readIn: ['cluster/lib.sh'],
      clusterKey: String(key),
    };
  });
}

/** Every variable the bundled cluster takes its config from: the file and the single keys. */
export const clusterConfigNames = (root: string): string[] => ['SVC_CLUSTER_CONFIG', ...clusterVariables(root).map((v) => v.name)];

/** Every variable, each once: the declared ones, the bundled cluster's config keys, and the
 *  add-on scripts' parameters (a parameter that is also a setting is noted on the setting). */
export function allVariables(root: string): Variable[] {
  const out: Variable[] = [...DECLARED, ...clusterVariables(root)];
  for (const p of PARAMETERS) {
    const i = out.findIndex((v) => v.name === p.name);
    if (i >= 0) out[i] = { ...out[i]!, parameterOf: p.readIn };
    else out.push({ name: p.name, part: 'parameter', what: p.what ?? '', default: `set by \`${ADDONS_APPLY}\``, readIn: p.readIn });
  }
  return out;
}

/** The variables of a run's input, in the order inputFromEnv reads them. */
export const RUN_INPUT_VARIABLES = DECLARED.filter((v): v is Extract<(typeof DECLARED)[number], { input: object }> => 'input' in v);

/** Reads a declared variable: the one way TypeScript outside the probe reads SVC_*. */
export const readVariable = (name: VariableName): string | undefined => process.env[name];

/** Sets a declared variable for this process and its children (the run config's file). */
export function setVariable(name: VariableName, value: string): void {
  process.env[name] = value;
}

/** A run-input variable and its flag, as failures name where a value is set:
 *  `SVC_PROXY_BOUND_MS / --proxy-bound`. */
export function variableAndFlag(name: VariableName): string {
  const v: Variable = DECLARED.find((d) => d.name === name)!;
  return v.flag ? `${v.name} / ${v.flag}` : v.name;
}
