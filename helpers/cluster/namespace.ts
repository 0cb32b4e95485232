// One namespace per suite, named and labelled with the run id. It is deleted after the
// suite (failures included), on SIGINT/SIGTERM, and by global teardown as a backstop.
// Nothing outside it is modified, apart from cordoning for the rescheduling check,
// which is always undone (see nodes.ts).
import * as crypto from 'node:crypto';
import { apiErrorText, isNotFound, kube } from './kube.ts';
import { currentTarget, inJestWorker } from '../config/target.ts';
import { onInterrupt } from '../config/interrupt.ts';

export const RUN_LABEL = 'svc-conformance.io/run-id';
export const SUITE_LABEL = 'svc-conformance.io/suite';
export const MANAGED_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'svc-conformance';

const created = new Set<string>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  // Only in test workers: the runner's CLI handles interrupts itself (cleanup by run id).
  if (handlersInstalled || !inJestWorker()) return;
  handlersInstalled = true;
  onInterrupt(() => Promise.allSettled([...created].map((ns) => deleteNamespace(ns))));
}

export async function createNamespace(suite: string, podSecurity: 'restricted' | 'privileged' = 'restricted'): Promise<string> {
  const { core } = kube();
  const target = currentTarget();
  const slug = suite
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30);
  const name = `svc-${slug}-${target.runId}-${crypto.randomBytes(2).toString('hex')}`.slice(0, 63).replace(/-+$/, '');
  installSignalHandlers();
  try {
    await core.createNamespace({
      body: {
        metadata: {
          name,
          labels: {
            [RUN_LABEL]: target.runId,
            [SUITE_LABEL]: slug,
            [MANAGED_LABEL]: MANAGED_BY,
            // The default profile's Pods must pass Pod Security "restricted"; only the
            // privileged profile's namespaces allow host-network probes.
            'pod-security.kubernetes.io/enforce': podSecurity,
          },
        },
      },
    });
  } catch (e) {
    throw new Error(
      `cannot create namespace ${name}: ${apiErrorText(e)}. The suite needs permission to create namespaces (see manifests/rbac/)`,
    );
  }
  created.add(name);
  return name;
}

/** Deletes a namespace of the run (kept with --keep-namespaces, unless `always`). */
export async function deleteNamespace(name: string, always = false): Promise<void> {
  if (currentTarget().keepNamespaces && !always) return;
  try {
    await kube().core.deleteNamespace({ name, propagationPolicy: 'Background', gracePeriodSeconds: 0 });
  } catch (e) {
    if (!isNotFound(e)) throw new Error(`cannot delete namespace ${name}: ${apiErrorText(e)}`);
  }
  created.delete(name);
}

/** Deletes every namespace labelled with this run id (or any run, with runId undefined). */
export async function deleteRunNamespaces(runId?: string): Promise<string[]> {
  const { core } = kube();
  const selector = runId ? `${RUN_LABEL}=${runId}` : RUN_LABEL;
  const list = await core.listNamespace({ labelSelector: `${selector},${MANAGED_LABEL}=${MANAGED_BY}` });
  const names = list.items
    .filter((n) => n.status?.phase !== 'Terminating')
    .map((n) => n.metadata?.name ?? '')
    .filter(Boolean);
  await Promise.all(names.map((n) => deleteNamespace(n)));
  return names;
}
