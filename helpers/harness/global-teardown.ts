// Backstop cleanup: deletes every namespace this run labelled, whatever the suites did.
import * as fs from 'node:fs';
import { fleetFiles } from '../cluster/fleet.ts';
import { deleteRunNamespaces } from '../cluster/namespace.ts';
import { currentTarget } from '../config/target.ts';

export default async function globalTeardown(): Promise<void> {
  const t = currentTarget();
  if (t.keepNamespaces) return;
  for (const f of fleetFiles(t.runId)) fs.rmSync(f, { force: true });
  const left = (await deleteRunNamespaces(t.runId)).filter((ns) => !ns.startsWith('svc-probes-'));
  if (left.length) process.stdout.write(`svc-conformance: deleted leftover namespaces ${left.join(', ')}\n`);
}
