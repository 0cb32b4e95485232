// Backstop cleanup: deletes every namespace this run labelled, whatever the suites did.
import { deleteRunNamespaces } from '../cluster/namespace.ts';
import { currentTarget } from '../config/target.ts';

export default async function globalTeardown(): Promise<void> {
  const t = currentTarget();
  if (t.keepNamespaces) return;
  const left = await deleteRunNamespaces(t.runId);
  if (left.length) process.stdout.write(`svc-conformance: deleted leftover namespaces ${left.join(', ')}\n`);
}
