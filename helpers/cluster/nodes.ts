// Nodes: which are schedulable, their addresses, and cordoning for the rescheduling
// check. Cordoning is the one change the suite makes outside its
// namespaces. Every cordon is recorded and undone by withCordon's finally, by the
// signal handler, and (for a crashed run) by `svc-conformance cleanup`, which finds
// nodes by the annotation set here.
import * as k8s from '@kubernetes/client-node';
import { apiErrorText, kube } from './kube.ts';
import { currentTarget, inJestWorker } from '../config/target.ts';
import { onInterrupt } from '../config/interrupt.ts';
import { isIP } from 'node:net';
import { familyOf, type IpFamily } from '../lib/net.ts';

/** Ready, not cordoned, no NoSchedule/NoExecute taint. */
export function isSchedulable(n: k8s.V1Node): boolean {
  return (
    !n.spec?.unschedulable &&
    !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute') &&
    Boolean(n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
  );
}

export const CORDON_ANNOTATION = 'svc-conformance.io/cordoned-by-run';

/** A node probes run on: schedulable, or cordoned by this run only for a while (the
 *  rescheduling check): probe Pods tolerate that cordon (manifests/probe/pod.yaml), so a
 *  fleet made meanwhile still has a probe on every node (seen on kind: a fleet made during
 *  the cordon had one probe on a 2-worker cluster, and a two-node check ran on one node). */
export function isProbeNode(n: k8s.V1Node, runId: string): boolean {
  if (n.metadata?.annotations?.[CORDON_ANNOTATION] !== runId) return isSchedulable(n);
  const uncordoned: k8s.V1Node = {
    ...n,
    spec: {
      ...n.spec,
      unschedulable: false,
      taints: (n.spec?.taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/unschedulable'),
    },
  };
  return isSchedulable(uncordoned);
}

async function setUnschedulable(node: string, on: boolean, runId: string): Promise<void> {
  const body = { spec: { unschedulable: on ? true : null }, metadata: { annotations: { [CORDON_ANNOTATION]: on ? runId : null } } };
  try {
    await kube().core.patchNode({ name: node, body }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  } catch (e) {
    throw new Error(
      `cannot ${on ? 'cordon' : 'uncordon'} node ${node}: ${apiErrorText(e)}. ` +
        `The rescheduling check needs 'patch' on nodes (see manifests/rbac/)`,
    );
  }
}

const cordoned = new Set<string>();
let handlers = false;

/** Runs fn with `node` cordoned, and uncordons it afterwards whatever happens. */
export async function withCordon<T>(node: string, fn: () => Promise<T>): Promise<T> {
  const runId = currentTarget().runId;
  if (!handlers && inJestWorker()) {
    handlers = true;
    onInterrupt(() => Promise.allSettled([...cordoned].map((n) => setUnschedulable(n, false, runId))));
  }
  await setUnschedulable(node, true, runId);
  cordoned.add(node);
  try {
    return await fn();
  } finally {
    await setUnschedulable(node, false, runId);
    cordoned.delete(node);
  }
}

/** Uncordons nodes a crashed run left cordoned (any run, or the given one). */
export async function uncordonLeftovers(runId?: string): Promise<string[]> {
  const nodes = (await kube().core.listNode()).items.filter((n) => {
    const by = n.metadata?.annotations?.[CORDON_ANNOTATION];
    return by !== undefined && (runId === undefined || by === runId);
  });
  await Promise.all(nodes.map((n) => setUnschedulable(n.metadata!.name!, false, n.metadata!.annotations![CORDON_ANNOTATION]!)));
  return nodes.map((n) => n.metadata!.name!);
}

/** Every node's InternalIP addresses of the given families (a Service's spec.ipFamilies:
 *  a proxy serves a Service's node ports on the node addresses of its families only), with
 *  the node's name: what node ports and external clients dial. */
export async function nodeAddresses(families: readonly string[]): Promise<{ node: string; ip: string; family: IpFamily }[]> {
  return (await kube().core.listNode()).items.flatMap((n) =>
    (n.status?.addresses ?? [])
      .filter((a) => a.type === 'InternalIP' && isIP(a.address) && families.includes(familyOf(a.address)))
      .map((a) => ({ node: n.metadata?.name ?? '', ip: a.address, family: familyOf(a.address) })),
  );
}
