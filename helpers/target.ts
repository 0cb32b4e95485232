// Which cluster the suites run against, and with which images. Resolved once by
// global-setup.ts into SVC_* environment variables that reach every Jest worker.
import * as fs from 'node:fs';

export const DEFAULT_PROFILE_PATH = '/var/lib/svc-conformance/cluster/profile.json';

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
}

export interface Target {
  kubeconfig?: string;
  context?: string;
  profile?: ClusterProfile;
  probeImage: string;
  pauseImage: string;
  /** Privileged profile: an image with iptables, nft, curl and sh (undefined: the
   *  cluster's registry.k8s.io/kube-proxy image of the server version). */
  nodeToolsImage?: string;
  /** Run the privileged profile (node-level rule checks). */
  privileged: boolean;
  runId: string;
  /** Bound for DNS (and EndpointSlices) to follow a change (rescheduling, scaling), in ms. */
  convergenceBoundMs: number;
  /** Bound for the Service proxy to follow a change: from a Service or endpoint change
   *  until connections through the virtual IP reach exactly the ready backends, in ms.
   *  Default 120 s, upstream e2e's e2eservice.RespondingTimeout (2 min). */
  proxyBoundMs: number;
  /** Schedulable, Ready nodes seen by global setup (0: not known). */
  schedulableNodes: number;
  /** Multiplies every wait's deadline (slow clusters). */
  timeoutScale: number;
  /** At most this many nodes get their own probe Pod. */
  maxProbeNodes: number;
  evidenceDir: string;
}

export function readProfile(path: string): ClusterProfile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the cluster profile ${path}: ${(e as Error).message}. Bring the bundled cluster up with 'npm run cluster -- up', or set KUBECONFIG to use another cluster`);
  }
  return JSON.parse(text) as ClusterProfile;
}

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}=${raw} is not a positive number`);
  return v;
}

/** The target as the workers see it (after global-setup exported SVC_* variables). */
export function currentTarget(): Target {
  const profilePath = process.env.SVC_PROFILE;
  const profile = profilePath ? readProfile(profilePath) : undefined;
  return {
    kubeconfig: process.env.SVC_KUBECONFIG || profile?.kubeconfig || process.env.KUBECONFIG || undefined,
    context: process.env.SVC_CONTEXT || undefined,
    profile,
    probeImage: process.env.SVC_PROBE_IMAGE || profile?.images.probe || 'docker.io/library/node:24-slim',
    pauseImage: process.env.SVC_PAUSE_IMAGE || profile?.images.pause || 'registry.k8s.io/pause:3.10.1',
    nodeToolsImage: process.env.SVC_NODE_TOOLS_IMAGE || profile?.images.nodeTools || undefined,
    privileged: process.env.SVC_PRIVILEGED === '1',
    runId: process.env.SVC_RUN_ID || 'adhoc',
    convergenceBoundMs: num('SVC_CONVERGENCE_BOUND_MS', 10_000),
    proxyBoundMs: num('SVC_PROXY_BOUND_MS', 120_000),
    schedulableNodes: Number(process.env.SVC_SCHEDULABLE_NODES) || 0,
    timeoutScale: num('SVC_TIMEOUT_SCALE', 1),
    maxProbeNodes: num('SVC_MAX_PROBE_NODES', 5),
    evidenceDir: process.env.SVC_EVIDENCE_DIR || 'reports/evidence',
  };
}
