// Running the suite from inside the cluster: the kubeconfig of the Pod's ServiceAccount
// (`run --in-cluster`), the manifests that run it as a Job or a Sonobuoy plugin
// (`manifest`), the reports a finished in-cluster run prints at its end, and reading them
// back (`results <dir|pod>`).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import yaml from 'js-yaml';
import { DEFAULT_PERMISSIONS, PRIVILEGED_PERMISSIONS } from '../cluster/preflight.ts';
import { ClusterError, ROOT, UsageError } from '../config/target.ts';
import {
  causeLines,
  closingLines,
  knownLines,
  NOT_SELECTED,
  parseRunReport,
  readRunReport,
  writeReports,
  type RunReport,
} from '../results/reports.ts';
import { junitErrorSuite } from '../results/render.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A kubeconfig for the Pod's ServiceAccount (the token file is read at each request, so
 *  the kubelet's rotation holds), written outside the package; the path. */
export function inClusterKubeconfig(): string {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !fs.existsSync(path.join(SA_DIR, 'token')))
    throw new UsageError(
      `--in-cluster runs inside a Pod: it needs KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount token in ${SA_DIR} ` +
        '(run it from the Job that `svc-conformance manifest` prints, or use --kubeconfig)',
    );
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'svc-conformance-')), 'in-cluster.kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'in-cluster',
    clusters: [{ name: 'in-cluster', cluster: { server, 'certificate-authority': path.join(SA_DIR, 'ca.crt') } }],
    users: [{ name: 'service-account', user: { 'token-file': path.join(SA_DIR, 'token') } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'service-account' } }],
  };
  fs.writeFileSync(file, yaml.dump(config), { mode: 0o600 });
  return file;
}

// ------------------------------------------------------------------------- RBAC
type Obj = Record<string, unknown>;

/** The least-privilege RBAC, from the permissions the preflight checks (one rule per
 *  resource). manifests/rbac/*.yaml are these objects for the namespace svc-conformance. */
export function rbacObjects(namespace: string, privileged: boolean): Obj[] {
  const name = namespace === 'svc-conformance' ? 'svc-conformance' : `svc-conformance-${namespace}`;
  const rules = new Map<string, { apiGroups: string[]; resources: string[]; verbs: string[] }>();
  for (const p of DEFAULT_PERMISSIONS) {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const key = `${p.group}|${resource}`;
    const r = rules.get(key) ?? { apiGroups: [p.group], resources: [resource], verbs: [] };
    if (!r.verbs.includes(p.verb)) r.verbs.push(p.verb);
    rules.set(key, r);
  }
  const subject = { kind: 'ServiceAccount', name: 'svc-conformance', namespace };
  const out: Obj[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'svc-conformance', namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: mergeRules([...rules.values()]),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [subject],
    },
  ];
  if (privileged) {
    for (const p of PRIVILEGED_PERMISSIONS) {
      const role = `${name}-privileged`;
      out.push(
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: role, namespace: p.namespace },
          rules: [{ apiGroups: [p.group], resources: [p.resource], ...(p.name ? { resourceNames: [p.name] } : {}), verbs: [p.verb] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: role, namespace: p.namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
          subjects: [subject],
        },
      );
    }
  }
  return out;
}

/** One rule per API group and verb set, over the resources that share them. */
function mergeRules(rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[]): typeof rules {
  const out = new Map<string, (typeof rules)[number]>();
  for (const r of rules) {
    const verbs = [...r.verbs].sort();
    const key = `${r.apiGroups.join(',')}|${verbs.join(',')}`;
    const m = out.get(key);
    if (m) m.resources.push(...r.resources);
    else out.set(key, { apiGroups: r.apiGroups, resources: [...r.resources], verbs });
  }
  return [...out.values()];
}

// --------------------------------------------------------------------- manifests
const VERSION = (): string => (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The image scripts/image.sh builds (push it to a registry of yours and pass --image). */
export const defaultImage = (): string => `svc-conformance.local/svc-conformance:${VERSION()}`;
/** Where the image has the package's CLI. */
export const IMAGE_CLI = ['node', '--no-warnings', '/opt/svc-conformance/dist/helpers/cli/cli.js'];
const REPORTS = '/reports';
export const SONOBUOY_RESULTS = '/tmp/sonobuoy/results';

export interface ManifestOptions {
  namespace: string;
  image: string;
  privileged: boolean;
  /** Flags of `run` passed through to the in-cluster run. */
  runFlags: string[];
  sonobuoy: boolean;
  /** Only the Namespace, ServiceAccount and RBAC (a run from outside as that ServiceAccount). */
  rbacOnly?: boolean;
}

const container = (o: ManifestOptions, args: string[], mounts: Obj[]): Obj => ({
  name: 'svc-conformance',
  image: o.image,
  imagePullPolicy: 'IfNotPresent',
  command: IMAGE_CLI,
  args,
  env: [{ name: 'CI', value: 'true' }],
  volumeMounts: mounts,
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    runAsNonRoot: true,
    runAsUser: 1000,
    readOnlyRootFilesystem: true,
    seccompProfile: { type: 'RuntimeDefault' },
  },
});

/** `svc-conformance manifest`: the Namespace, ServiceAccount and RBAC, and a Job that runs
 *  the suite as that ServiceAccount and prints its reports at the end; with sonobuoy, a
 *  Sonobuoy plugin (Job driver, JUnit results, the done file written whatever the outcome). */
export function manifest(o: ManifestOptions): string {
  const runArgs = ['run', '--in-cluster', '--quiet', ...o.runFlags, ...(o.privileged ? ['--profile', 'privileged'] : [])];
  if (o.sonobuoy) {
    // Sonobuoy runs the plugin's Pod in its own namespace as its own ServiceAccount and
    // mounts its results volume at SONOBUOY_RESULTS; the run's reports go into a folder there,
    // which the done file names (the worker sends it whole; the JUnit in it is parsed).
    const dir = `${SONOBUOY_RESULTS}/svc-conformance`;
    const plugin = {
      'sonobuoy-config': {
        driver: 'Job',
        'plugin-name': 'svc-conformance',
        'result-format': 'junit',
        description: 'svc-conformance: Kubernetes Service discovery (DNS and Service proxies), checked exactly',
      },
      spec: {
        ...container(
          o,
          [...runArgs, '--report-dir', dir, '--done-file', `${SONOBUOY_RESULTS}/done`],
          [{ name: 'tmp', mountPath: '/tmp/svc-conformance' }],
        ),
        env: [
          { name: 'CI', value: 'true' },
          { name: 'TMPDIR', value: '/tmp/svc-conformance' },
        ],
      },
      'extra-volumes': [{ name: 'tmp', emptyDir: {} }],
    };
    return yaml.dump(plugin, { lineWidth: -1, noRefs: true });
  }
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'svc-conformance', namespace: o.namespace, labels: { 'app.kubernetes.io/name': 'svc-conformance' } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: 4 * 3600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'svc-conformance' } },
        spec: {
          serviceAccountName: 'svc-conformance',
          restartPolicy: 'Never',
          containers: [
            container(
              o,
              [...runArgs, '--report-dir', REPORTS],
              [
                { name: 'reports', mountPath: REPORTS },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            ),
          ],
          volumes: [
            { name: 'reports', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
  const objects: Obj[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: o.namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    ...rbacObjects(o.namespace, o.privileged),
    ...(o.rbacOnly ? [] : [job]),
  ];
  const head = o.rbacOnly
    ? `# svc-conformance ${VERSION()}: least privilege for a run as ServiceAccount ${o.namespace}/svc-conformance\n`
    : `# svc-conformance ${VERSION()}: kubectl apply -f this, then\n` +
      `#   kubectl -n ${o.namespace} wait --for=condition=complete --timeout=2h job/svc-conformance   (or condition=failed)\n` +
      `#   svc-conformance results ${o.namespace}/job/svc-conformance --report-dir out\n`;
  return head + objects.map((x) => `---\n${yaml.dump(x, { lineWidth: -1, noRefs: true })}`).join('');
}

// ------------------------------------------------------------- reports in the log
const BEGIN = '----- svc-conformance reports (gzip, base64) -----';
const END = '----- end of svc-conformance reports -----';

/** The run's results.json, gzipped and in base64 between two marker lines, for a run whose
 *  report dir goes away with its Pod: `results <pod>` reads it back from the log. */
export function reportsBlock(reportDir: string): string {
  const gz = zlib.gzipSync(fs.readFileSync(path.join(reportDir, 'results.json'))).toString('base64');
  return `${BEGIN}\n${(gz.match(/.{1,1000}/g) ?? []).join('\n')}\n${END}\n`;
}

export function reportFromLog(log: string, where: string): RunReport {
  const lines = log.split('\n');
  const b = lines.lastIndexOf(BEGIN);
  const e = lines.lastIndexOf(END);
  if (b < 0 || e < b)
    throw new UsageError(`${where}: its log has no svc-conformance reports (the run is not finished, or it did not get that far)`);
  const json = zlib.gunzipSync(Buffer.from(lines.slice(b + 1, e).join(''), 'base64')).toString('utf8');
  return parseRunReport(json, `in the log of ${where}`);
}

/** The terminal summary of a finished run: its identity, what did not pass, the counts. */
export function summaryLines(r: RunReport): string[] {
  const id = r.identity;
  const lines = [
    `svc-conformance run ${r.runId} (${r.startedAt}, ${(r.durationMs / 1000).toFixed(0)} s) against ${r.cluster}`,
    ...(id
      ? [
          `  Kubernetes ${id['kubernetes-version']}, kube-proxy ${id['proxy-mode']}, DNS ${id['dns-image']}, Services in ${id['ip-families']}`,
        ]
      : []),
    ...(r.counts.failed || r.counts.warnings ? causeLines(r.causes).map((l) => `  ${l}`) : []),
  ];
  for (const c of r.checks.filter((x) => x.status === 'failed'))
    lines.push(`  FAIL ${c.id ?? c.name}: ${(c.failure ?? '').split('\n').find((l) => l.trim()) ?? ''}`);
  for (const e of r.suiteErrors) lines.push(`  FAIL suite ${e.suite}: ${e.message.split('\n')[0]}`);
  for (const c of r.checks.filter((x) => x.status === 'warning')) lines.push(`  warning ${c.id}: ${(c.failure ?? '').split('\n')[0]}`);
  const skipped = r.checks.filter((x) => x.status === 'skipped');
  const unselected = skipped.filter((c) => c.skipReason === NOT_SELECTED);
  for (const c of skipped.filter((x) => x.skipReason !== NOT_SELECTED)) lines.push(`  skip ${c.id ?? c.name}: ${c.skipReason ?? ''}`);
  if (unselected.length) lines.push(`  (${unselected.length} check(s) not selected by --focus/--skip)`);
  return [
    ...lines,
    ...knownLines(r.knownDifferences),
    ...closingLines(
      r.counts,
      r.checks.filter((c) => c.status === 'warning').map((c) => c.id ?? c.name),
    ),
  ];
}

/** `results <dir|[namespace/]pod|[namespace/]job/NAME>`: the summary of a finished run's
 *  reports; from a Pod (or a Job's Pod), its reports are written to reportDir first. */
export async function resultsCommand(what: string, o: { namespace?: string; reportDir?: string }): Promise<number> {
  let report: RunReport;
  if (fs.existsSync(what) && fs.statSync(what).isDirectory()) {
    report = readRunReport(path.join(what, 'results.json'));
  } else {
    const m = /^(?:([a-z0-9-]+)\/)?(?:(job|pod)\/)?([a-z0-9.-]+)$/.exec(what);
    if (!m)
      throw new UsageError(`results takes a report directory, or a Pod or Job: [NAMESPACE/]POD, [NAMESPACE/]job/NAME (got '${what}')`);
    const namespace = m[1] ?? o.namespace ?? 'svc-conformance';
    const { kube, apiErrorText } = await import('../cluster/kube.ts');
    const core = kube().core;
    let pod = m[3]!;
    try {
      if (m[2] === 'job') {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${pod}` });
        const newest = pods.items.sort((a, b) =>
          String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')),
        )[0];
        if (!newest) throw new UsageError(`job ${namespace}/${pod} has no Pod (is it applied? kubectl -n ${namespace} get job,pod)`);
        pod = newest.metadata!.name!;
      }
      const log = await core.readNamespacedPodLog({ name: pod, namespace, container: 'svc-conformance' });
      report = reportFromLog(log, `pod ${namespace}/${pod}`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new ClusterError(`cannot read the log of pod ${namespace}/${pod}: ${apiErrorText(e)}`);
    }
    const dir = path.resolve(o.reportDir ?? 'svc-conformance-report');
    const files = writeReports(dir, report);
    process.stdout.write(
      `svc-conformance: reports of pod ${namespace}/${pod} in ${dir}: ${files.map((f) => path.basename(f)).join(', ')}\n`,
    );
  }
  process.stdout.write(`${summaryLines(report).join('\n')}\n`);
  return report.counts.failed > 0 ? 1 : 0;
}

/** Sonobuoy's done file: the path of the run's report directory (JUnit inside), written
 *  whatever the outcome; when the run wrote no JUnit (it stopped before its checks), one
 *  with a single error that says why. */
export function writeDoneFile(doneFile: string, reportDir: string, why: string, failed = false): void {
  if (fs.existsSync(doneFile)) return;
  const file = path.join(reportDir, 'junit.xml');
  if (failed || !fs.existsSync(file)) {
    fs.mkdirSync(reportDir, { recursive: true });
    const message = `the run wrote no reports: ${why} (its log says more)`;
    fs.writeFileSync(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="svc-conformance" tests="1" failures="0" errors="1">\n` +
        `${junitErrorSuite('svc-conformance.run', 'the run', message, message)}\n</testsuites>\n`,
    );
  }
  fs.mkdirSync(path.dirname(doneFile), { recursive: true });
  fs.writeFileSync(doneFile, reportDir);
}
