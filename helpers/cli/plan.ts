// What a run will do, known before it starts: the checks it selects (--focus/--skip on id
// and claim), the images it makes the cluster pull (--list-images) and the objects it
// creates (--dry-run). Nothing here talks to a cluster.
import * as fs from 'node:fs';
import * as path from 'node:path';
import yaml from 'js-yaml';
import { type CheckDef } from '../../suites/registry.ts';
export { selectChecks, selectionPattern } from '../../suites/registry.ts';
import { CODE, CODE_EXT, ROOT, type Target } from '../config/target.ts';

/** The suites the selection runs, in registry order. */
export const suitesOf = (selected: CheckDef[]): string[] => [...new Set(selected.map((c) => c.suite))];

export interface ImageUse {
  image: string;
  where: 'cluster' | 'docker';
  use: string;
}

/** Every image a run makes the cluster (or, for --kind, Docker) pull, for mirroring. The
 *  node-tools default names the API server's version, when it is known. */
export function imagesOfRun(
  t: Target,
  selected: CheckDef[],
  opts: { serverVersion?: string; kind?: boolean; kindImage?: string },
): ImageUse[] {
  const uses: ImageUse[] = [];
  if (opts.kind && !opts.kindImage)
    // Our node image holds its own images (built here, never pulled): nothing to mirror.
    return [
      {
        image: 'svc-conformance.local/kind-node:<version>',
        where: 'docker',
        use: 'built here by cluster/kind/node-image.sh with every image it runs: nothing is pulled',
      },
    ];
  if (opts.kindImage) uses.push({ image: opts.kindImage, where: 'docker', use: 'the kind node containers' });
  uses.push({ image: t.probeImage, where: 'cluster', use: 'probe Pods and backends' });
  if (t.privileged && selected.some((c) => c.requires?.includes('privileged')))
    uses.push({
      image:
        t.nodeToolsImage ??
        `${t.nodeToolsRegistry ? t.nodeToolsRegistry.replace(/\/+$/, '') : 'registry.k8s.io'}/kube-proxy:${opts.serverVersion ?? '<server version>'}`,
      where: 'cluster',
      use: 'privileged profile: reading kube-proxy rules on the nodes',
    });
  if ((opts.kind || t.outsideNetwork) && selected.some((c) => c.requires?.includes('outside-host')))
    uses.push({ image: t.probeImage, where: 'docker', use: 'the outside host (a container on the nodes’ Docker network)' });
  return uses;
}

interface SuiteManifest {
  file: string;
  text: string;
}

/** The manifests a suite applies, read from its code (the `'name.yaml'` it names). */
function manifestsOf(suites: string[]): SuiteManifest[] {
  const out = new Map<string, SuiteManifest>();
  for (const suite of suites) {
    const code = path.join(CODE, 'suites', `${suite}.test${CODE_EXT}`);
    if (!fs.existsSync(code)) continue;
    for (const m of fs.readFileSync(code, 'utf8').matchAll(/['`]([a-z0-9/-]+\.yaml)['`]/g)) {
      const file = path.join(ROOT, 'manifests', m[1]!);
      if (fs.existsSync(file) && !out.has(file)) out.set(file, { file, text: fs.readFileSync(file, 'utf8') });
    }
  }
  return [...out.values()];
}

/** --dry-run: what the run would create, cluster-scoped objects first, then each suite's
 *  namespace and what it applies there (names as in the manifests; some are templated). */
export function dryRun(t: Target, selected: CheckDef[]): string {
  const suites = suitesOf(selected);
  const lines = [
    `svc-conformance: dry run (run id ${t.runId}): ${selected.length} check(s) in ${suites.length} suite(s); nothing is created`,
    '',
    'Cluster-scoped:',
    ...suites.map(
      (s) =>
        `  Namespace svc-${s.slice(0, 30)}-${t.runId}-XXXX  (labels svc-conformance.io/run-id=${t.runId}, app.kubernetes.io/managed-by=svc-conformance)`,
    ),
    '  Namespace svc-preflight-dns-' + `${t.runId}-XXXX  (the preflight's, removed before the checks start)`,
  ];
  if (selected.some((c) => c.suite === 'statefulset' || /cordon|drain|reschedul/.test(c.claim)))
    lines.push('  Node (patch): spec.unschedulable for a rescheduling check, always undone');
  lines.push('', 'Namespaced (in each suite’s namespace):');
  for (const s of suites) {
    lines.push(`  ${s}: ConfigMap svc-probe, probe Pod(s)${t.privileged ? ' (host-network ones in the privileged profile)' : ''}`);
    for (const m of manifestsOf([s])) {
      const objs = yaml
        .loadAll(m.text.replace(/\$\{[A-Z_]+\}/g, 'x'))
        .filter((o): o is { kind: string; metadata?: { name?: string } } => !!o && typeof o === 'object' && 'kind' in o);
      const names = objs.map((o) => `${o.kind} ${o.metadata?.name ?? '?'}`).join(', ');
      lines.push(`      ${path.relative(path.join(ROOT, 'manifests'), m.file)}: ${names}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
