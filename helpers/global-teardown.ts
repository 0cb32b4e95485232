// Backstop cleanup: deletes every namespace this run labelled, whatever the suites did.
import { deleteRunNamespaces } from './namespace.ts';

export default async function globalTeardown(): Promise<void> {
  if (process.env.SVC_KEEP_NAMESPACES === '1') return;
  const left = await deleteRunNamespaces(process.env.SVC_RUN_ID);
  if (left.length) process.stdout.write(`svc-conformance: deleted leftover namespaces ${left.join(', ')}\n`);
}
