// Waits on workloads and EndpointSlices: each polls against a deadline and reports
// the last state it saw; a Pod stuck on its image becomes a sentence, not a timeout.
import type * as k8s from '@kubernetes/client-node';
import { kube } from './kube.ts';
import { IMAGE_FAILURES } from '../config/target.ts';
import { converge } from './converge.ts';
import { waitFor } from './wait.ts';
import { familyOf } from '../lib/net.ts';

export interface PodState {
  name: string;
  phase?: string;
  ready: boolean;
  /** status.podIP: the address of the cluster's primary family. */
  ip?: string;
  /** status.podIPs: one address per family the cluster gives Pods, primary first. */
  ips: string[];
  node?: string;
  waiting?: string;
}

export function podState(p: k8s.V1Pod): PodState {
  const cs = p.status?.containerStatuses ?? [];
  const waiting = cs.map((c) => c.state?.waiting).find((w) => w?.reason);
  return {
    name: p.metadata?.name ?? '',
    phase: p.status?.phase,
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ip: p.status?.podIP,
    ips: (p.status?.podIPs ?? []).map((a) => a.ip).filter((ip): ip is string => Boolean(ip)),
    node: p.spec?.nodeName,
    waiting: waiting ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` : undefined,
  };
}

export class ImageUnavailable extends Error {
  readonly fatal = true;
  override name = 'ImageUnavailable';
}

function imageProblem(pods: k8s.V1Pod[]): string | undefined {
  for (const p of pods) {
    for (const c of p.status?.containerStatuses ?? []) {
      const w = c.state?.waiting;
      if (w?.reason && IMAGE_FAILURES.test(w.reason)) {
        return (
          `Pod ${p.metadata?.name} cannot get image ${c.image} (${w.reason}: ${w.message ?? ''}). Make the image available ` +
          `to the cluster, or choose another with SVC_PROBE_IMAGE / --probe-image (or --image-registry for a mirror)`
        );
      }
    }
  }
  return undefined;
}

export async function listPods(ns: string, labelSelector?: string): Promise<k8s.V1Pod[]> {
  return (await kube().core.listNamespacedPod({ namespace: ns, labelSelector })).items;
}

/** Waits until the named Pods are Running and Ready. */
export async function podsReady(ns: string, names: string[], timeoutMs: number): Promise<PodState[]> {
  return waitFor(
    `Pods ${names.join(', ')} in ${ns} to be Ready`,
    async () => {
      const pods = (await listPods(ns)).filter((p) => names.includes(p.metadata?.name ?? ''));
      const problem = imageProblem(pods);
      if (problem) throw new ImageUnavailable(problem);
      const states = pods.map(podState);
      return { ok: states.length === names.length && states.every((s) => s.ready), state: states };
    },
    { timeoutMs },
  );
}

/** Waits until a Deployment or StatefulSet has exactly `replicas` ready, updated Pods. */
export async function rolloutReady(
  ns: string,
  kind: 'Deployment' | 'StatefulSet',
  name: string,
  replicas: number,
  timeoutMs = 120_000,
): Promise<PodState[]> {
  const { apps } = kube();
  return waitFor(
    `${kind} ${ns}/${name} to have ${replicas} ready replicas`,
    async () => {
      const obj =
        kind === 'Deployment'
          ? await apps.readNamespacedDeployment({ name, namespace: ns })
          : await apps.readNamespacedStatefulSet({ name, namespace: ns });
      const sel = Object.entries(obj.spec?.selector?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const pods = (await listPods(ns, sel)).filter((p) => !p.metadata?.deletionTimestamp);
      const problem = imageProblem(pods);
      if (problem) throw new ImageUnavailable(problem);
      const st = obj.status;
      const states = pods.map(podState);
      const ok =
        (st?.observedGeneration ?? 0) >= (obj.metadata?.generation ?? 0) &&
        (st?.readyReplicas ?? 0) === replicas &&
        (st?.replicas ?? 0) === replicas &&
        (st?.updatedReplicas ?? 0) === replicas &&
        states.length === replicas &&
        states.every((s) => s.ready);
      return { ok, state: { status: { replicas: st?.replicas, ready: st?.readyReplicas, updated: st?.updatedReplicas }, pods: states } };
    },
    { timeoutMs, intervalMs: 300 },
  ).then((s) => s.pods);
}

export interface SliceEndpoint {
  addresses: string[];
  ready: boolean;
  serving?: boolean;
  terminating?: boolean;
  hostname?: string;
  targetRef?: string;
  slice: string;
}

/** A Service's IP families (spec.ipFamilies, primary first; empty when the API gives none):
 *  its EndpointSlices are of these families, each Pod listed once per family. */
export async function serviceFamilies(ns: string, service: string): Promise<string[]> {
  return (await kube().core.readNamespacedService({ name: service, namespace: ns })).spec?.ipFamilies ?? [];
}

export async function serviceSlices(ns: string, service: string): Promise<k8s.V1EndpointSlice[]> {
  return (await kube().discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${service}` }))
    .items;
}

export function sliceEndpoints(slices: k8s.V1EndpointSlice[]): SliceEndpoint[] {
  return slices.flatMap((s) =>
    (s.endpoints ?? []).map((e) => ({
      addresses: e.addresses,
      // An absent ready condition counts as ready (EndpointSlice API).
      ready: e.conditions?.ready !== false,
      serving: e.conditions?.serving,
      terminating: e.conditions?.terminating,
      hostname: e.hostname,
      targetRef: e.targetRef?.name,
      slice: s.metadata?.name ?? '',
    })),
  );
}

/** Converges (within the convergence bound, measured from `since`) until the Service's
 *  slices list exactly `ips` as ready addresses, and nothing else but terminating ones.
 *  `ips` may hold every family of the Pods (PodState.ips): only the families of the
 *  Service (spec.ipFamilies) are expected, as the EndpointSlice controller publishes them. */
export async function slicesSettled(
  ns: string,
  service: string,
  ips: string[],
  opts: { since?: number; boundMs?: number } = {},
): Promise<{ endpoints: SliceEndpoint[]; ms: number; polls: number }> {
  const families = await serviceFamilies(ns, service);
  const want = [...ips]
    .filter((ip) => !families.length || families.includes(familyOf(ip)))
    .sort()
    .join(',');
  const r = await converge(
    `the EndpointSlices of ${ns}/${service} to list exactly [${want}] as ready`,
    async () => {
      const eps = sliceEndpoints(await serviceSlices(ns, service));
      const ready = eps
        .filter((e) => e.ready)
        .flatMap((e) => e.addresses)
        .sort()
        .join(',');
      // Besides the ready ones, only endpoints of Pods that are shutting down may still be
      // listed (terminating, not ready, as the EndpointSlice API publishes them until the
      // Pod is gone): how long a Pod takes to stop is its grace period, not convergence.
      const others = eps
        .filter((e) => !e.terminating)
        .flatMap((e) => e.addresses)
        .sort()
        .join(',');
      return { ok: ready === want && others === want, state: eps };
    },
    { kind: 'EndpointSlices', boundMs: opts.boundMs, since: opts.since },
  );
  return { endpoints: r.state, ms: r.ms, polls: r.polls };
}
