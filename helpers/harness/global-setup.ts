// Jest's global setup: builds the probe bundle (in the repository) and, for `npm test` (no CLI in front),
// makes the run's one resolution and preflight, the same the CLI makes, and publishes the
// run config that every worker loads. Under the CLI the config is already published.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dnsPathLine, preflight, proxyLine } from '../cluster/preflight.ts';
import { causeLines, hasPublishedTarget, inputFromEnv, publishTarget, resolveTarget, ROOT, useTarget } from '../config/target.ts';

export default async function globalSetup(): Promise<void> {
  // In the repository the bundle follows the probe's source; the package ships it built.
  const build = path.join(ROOT, 'probe', 'build.mjs');
  if (fs.existsSync(build)) execFileSync(process.execPath, [build], { stdio: 'inherit' });
  if (hasPublishedTarget()) return;
  const target = resolveTarget(inputFromEnv());
  useTarget(target);
  const cluster = await preflight(target);
  publishTarget(target, cluster, path.dirname(target.evidenceDir));
  process.stdout.write(
    `\nsvc-conformance: run ${target.runId} against ${cluster.server} (Kubernetes ${cluster.version}, Services in ${cluster.ipFamilies.join(', ')}, ${cluster.schedulableNodes} schedulable ` +
      `node(s), ${proxyLine(cluster)})\nsvc-conformance: ` +
      `${dnsPathLine(cluster)}\n`,
  );
  for (const line of causeLines(cluster.causes)) process.stdout.write(`${line}\n`);
}
