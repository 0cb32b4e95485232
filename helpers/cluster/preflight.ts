// Preflight, before any namespace of the run is made: the API answers and its version is
// known; every permission the run needs is granted (SelfSubjectAccessReview, missing
// ones listed); the probe image starts within a bound (an image that cannot be pulled
// becomes a sentence); and, for the privileged profile, Pod Security admission lets a
// host-network probe in. Also: cleanup of what a run left behind.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { ROOT } from './apply.ts';
import type { DnsAnswer } from '../../probe/contract.ts';
import { classify, type DnsPath, pathQuestions, roundQuestions, zoneNotServed } from '../lib/dns-path.ts';
import { clusterDomainOf, dnsReplicas } from './facts.ts';
import { apiErrorText, kube } from './kube.ts';
import { createNamespace, deleteNamespace, deleteRunNamespaces } from './namespace.ts';
import { isSchedulable, uncordonLeftovers } from './nodes.ts';
import { addressType, type IpFamily } from '../lib/net.ts';
import { installProbeBundle, PROBE_BUNDLE, probeNodesOf, startProbes } from './probe.ts';
import { ClusterError, currentTarget, type DetectedCluster, IMAGE_FAILURES, nodeToolsImageFor, type Target } from '../config/target.ts';

export { ClusterError };

interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  why: string;
}

/** What the default profile does, resource by resource (manifests/rbac/default.yaml grants exactly this). */
export const DEFAULT_PERMISSIONS: Permission[] = [
  ...['create', 'delete', 'get', 'list'].map((verb) => ({ verb, group: '', resource: 'namespaces', why: 'one namespace per suite' })),
  ...['create', 'delete', 'get', 'list', 'patch'].map((verb) => ({ verb, group: '', resource: 'pods', why: 'probe and backend Pods' })),
  { verb: 'create', group: '', resource: 'pods', subresource: 'exec', why: 'running probe commands' },
  { verb: 'get', group: '', resource: 'pods', subresource: 'exec', why: 'running probe commands' },
  { verb: 'get', group: '', resource: 'pods', subresource: 'log', why: 'reading probe logs' },
  { verb: 'create', group: '', resource: 'configmaps', why: 'shipping the probe' },
  ...['create', 'get', 'list', 'patch'].map((verb) => ({ verb, group: '', resource: 'services', why: 'the Services under test' })),
  { verb: 'update', group: '', resource: 'services', why: 'changing a live Service (ports, selector, type, session affinity)' },
  { verb: 'delete', group: '', resource: 'services', why: 'deleting a Service and recreating it under the same name' },
  ...['create', 'get', 'patch'].map((verb) => ({ verb, group: '', resource: 'endpoints', why: 'hand-made Endpoints' })),
  ...['create', 'get', 'list', 'patch'].map((verb) => ({
    verb,
    group: 'discovery.k8s.io',
    resource: 'endpointslices',
    why: 'EndpointSlice checks',
  })),
  ...['create', 'get', 'list', 'patch'].flatMap((verb) =>
    ['deployments', 'statefulsets'].map((resource) => ({ verb, group: 'apps', resource, why: 'backends' })),
  ),
  { verb: 'list', group: 'networking.k8s.io', resource: 'servicecidrs', why: 'the Service range (service.clusterip.vip-from-range)' },
  ...['get', 'list', 'patch'].map((verb) => ({
    verb,
    group: '',
    resource: 'nodes',
    why: 'probes per node; cordon for the rescheduling check',
  })),
];

export const PRIVILEGED_PERMISSIONS: Permission[] = [
  { verb: 'get', group: '', resource: 'configmaps', namespace: 'kube-system', name: 'kube-proxy', why: "reading kube-proxy's mode" },
];

export async function reachable(): Promise<{ server: string; version: string }> {
  let k;
  try {
    k = kube();
  } catch (e) {
    throw new ClusterError((e as Error).message);
  }
  const server = k.kc.getCurrentCluster()?.server ?? '(no server)';
  try {
    const v = await k.kc.makeApiClient(k8s.VersionApi).getCode();
    return { server, version: v.gitVersion };
  } catch (e) {
    throw new ClusterError(
      `the cluster at ${server} does not answer: ${apiErrorText(e)}. Check --kubeconfig/--context, and that the cluster is up`,
    );
  }
}

async function missingPermissions(perms: Permission[]): Promise<Permission[]> {
  const authz = kube().kc.makeApiClient(k8s.AuthorizationV1Api);
  const results = await Promise.all(
    perms.map(async (p) => {
      const r = await authz.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              verb: p.verb,
              group: p.group,
              resource: p.resource,
              subresource: p.subresource,
              namespace: p.namespace,
              name: p.name,
            },
          },
        },
      });
      return r.status?.allowed ? undefined : p;
    }),
  );
  return results.filter((p): p is Permission => p !== undefined);
}

async function probeImageStarts(): Promise<void> {
  const { core } = kube();
  const target = currentTarget();
  const image = target.probeImage;
  const ns = await createNamespace('preflight');
  try {
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'image-check' },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'node',
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['node', '-e', 'process.exit(0)'],
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    });
    const deadline = Date.now() + 90_000 * target.timeoutScale;
    let last = 'no status yet';
    for (;;) {
      const p = await core.readNamespacedPod({ name: 'image-check', namespace: ns });
      const st = p.status?.containerStatuses?.[0]?.state;
      if (p.status?.phase === 'Succeeded') return;
      const waiting = st?.waiting;
      if (waiting?.reason && IMAGE_FAILURES.test(waiting.reason)) {
        throw new ClusterError(
          `the probe image ${image} cannot be pulled (${waiting.reason}: ${waiting.message ?? ''}). Make it ` +
            `available to the cluster, or choose another with --probe-image (or --image-registry for a mirror)`,
        );
      }
      if (p.status?.phase === 'Failed') {
        throw new ClusterError(
          `the probe image ${image} started but 'node -e process.exit(0)' failed (${JSON.stringify(st?.terminated ?? {})}): ` +
            `it must be a Node.js >= 20 image with 'node' on its PATH (--probe-image)`,
        );
      }
      last = `${p.status?.phase ?? 'Pending'} ${waiting?.reason ?? ''} ${waiting?.message ?? ''}`.trim();
      if (Date.now() > deadline)
        throw new ClusterError(
          `the probe image ${image} did not start within ${Math.round(90 * target.timeoutScale)} ` +
            `s (last state: ${last}). Check the image (--probe-image), or give slow clusters more time (--timeout-scale)`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await deleteNamespace(ns, true).catch(() => undefined);
  }
}

async function privilegedAdmitted(nodeToolsImage: string): Promise<void> {
  const { core } = kube();
  const ns = await createNamespace('preflight-privileged', 'privileged');
  try {
    await core.createNamespacedPod({
      namespace: ns,
      dryRun: 'All',
      body: {
        metadata: { name: 'host-network-check' },
        spec: {
          hostNetwork: true,
          containers: [
            { name: 'tools', image: nodeToolsImage, securityContext: { runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } },
          ],
        },
      },
    });
  } catch (e) {
    throw new ClusterError(
      `the privileged profile needs host-network Pods with NET_ADMIN in namespaces labelled ` +
        `pod-security.kubernetes.io/enforce=privileged, and admission refused one: ${apiErrorText(e)}. Allow it, or run the default profile`,
    );
  } finally {
    await deleteNamespace(ns, true).catch(() => undefined);
  }
}

/** What the checks need to know before they are defined: node count, IP families, whether
 *  kube-proxy runs and in which mode (the bundled cluster's profile, else kubeadm's
 *  kube-proxy ConfigMap; checked again on every node by the privileged checks). */
async function detect(t: Target, server: string, version: string): Promise<DetectedCluster> {
  const core = kube().core;
  const dns = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' }).catch(() => undefined);
  const nodes = await core.listNode();
  const proxies = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-proxy' }).catch(() => undefined);
  const kubeProxy = proxies && proxies.items.length > 0 ? 'present' : 'absent';
  const dnsPods = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' }).catch(() => undefined);
  const images = (pods?: { items: { spec?: { containers: { image?: string }[] } }[] }): string[] =>
    [...new Set((pods?.items ?? []).flatMap((p) => (p.spec?.containers ?? []).map((c) => c.image ?? '')).filter(Boolean))].sort();
  let proxyMode = 'unknown';
  if (kubeProxy === 'present') {
    proxyMode = t.profile?.proxyMode ?? proxyMode;
    if (!t.profile) {
      const cm = await core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' }).catch(() => undefined);
      const conf = cm?.data?.['config.conf'] ?? '';
      const m = /^mode:\s*"?([a-z]*)"?/m.exec(conf) ?? /"mode":\s*"([a-z]*)"/.exec(conf);
      proxyMode = m ? m[1] || 'iptables' : 'unknown';
    }
  }
  const serviceProxy = await detectCilium();
  const podsOf = (app: string) =>
    core.listNamespacedPod({ namespace: 'kube-system', labelSelector: `k8s-app=${app}` }).catch(() => undefined);
  const kubeRouterImages = images(await podsOf('kube-router'));
  const dnsCacheImages = images(await podsOf('node-local-dns'));
  const zones = new Set(
    nodes.items
      .filter(isSchedulable)
      .map((n) => n.metadata?.labels?.['topology.kubernetes.io/zone'])
      .filter(Boolean),
  ).size;
  const ranges = await serviceRanges(t);
  // The families the cluster serves Services in, primary first: those of its Service
  // ranges (the default ServiceCIDR's order), else the DNS Service's.
  const rangeFamilies = familiesOf(ranges.serviceCIDRs ?? []);
  const ipFamilies = rangeFamilies.length ? rangeFamilies : (dns?.spec?.ipFamilies ?? ['IPv4']);
  const ipFamiliesFrom = rangeFamilies.length
    ? `Service ranges ${ranges.serviceCIDRs!.join(', ')}`
    : 'the DNS Service kube-system/kube-dns';
  // The families every schedulable node has an InternalIP in.
  const perNode = nodes.items
    .filter(isSchedulable)
    .map((n) => familiesOf((n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => `${a.address}/0`)));
  const nodeFamilies = ['IPv4', 'IPv6'].filter((f) => perNode.length > 0 && perNode.every((fs) => fs.includes(f)));
  return {
    server,
    version,
    schedulableNodes: nodes.items.filter(isSchedulable).length,
    zones,
    probeNodes: probeNodesOf(nodes.items).map((n) => n.metadata?.name ?? ''),
    ipFamilies,
    ipFamiliesFrom,
    nodeFamilies,
    kubeProxy,
    proxyMode,
    ...(serviceProxy ? { serviceProxy } : {}),
    dnsImages: images(dnsPods),
    kubeProxyImages: images(proxies),
    ...(kubeRouterImages.length ? { kubeRouterImages } : {}),
    ...(dnsCacheImages.length ? { dnsCacheImages } : {}),
    ...ranges,
  };
}

/** Cilium, where its agents run in kube-system: their version (the image's tag, else
 *  'unknown') and whether the kube-proxy replacement is on (cilium-config). */
async function detectCilium(): Promise<DetectedCluster['serviceProxy']> {
  const core = kube().core;
  const agents = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=cilium' }).catch(() => undefined);
  if (!agents?.items.length) return undefined;
  const imgs = [
    ...new Set(agents.items.flatMap((p) => (p.spec?.containers ?? []).filter((c) => c.name === 'cilium-agent').map((c) => c.image ?? ''))),
  ]
    .filter(Boolean)
    .sort();
  const version = /:(v?\d+\.\d+\.\d+[^@]*)/.exec(imgs[0] ?? '')?.[1] ?? 'unknown';
  const cm = await core.readNamespacedConfigMap({ name: 'cilium-config', namespace: 'kube-system' }).catch(() => undefined);
  const kpr = cm?.data?.['kube-proxy-replacement'];
  return { name: 'cilium', version, kubeProxyReplacement: kpr === 'true' || kpr === 'strict', images: imgs };
}

/** One line for the Service proxy: kube-proxy and its mode, or Cilium's kube-proxy replacement. */
export function proxyLine(c: DetectedCluster): string {
  const cilium =
    c.serviceProxy?.name === 'cilium'
      ? `Cilium ${c.serviceProxy.version}${c.serviceProxy.kubeProxyReplacement ? ' (kube-proxy replacement)' : ''}`
      : '';
  const kp = `kube-proxy ${c.kubeProxy}${c.kubeProxy === 'present' ? ` in ${c.proxyMode} mode` : ''}`;
  return cilium ? `${cilium}, ${kp}` : kp;
}

/** The IP families of address ranges, in their order, each once. */
export const familiesOf = (cidrs: string[]): string[] => [...new Set(cidrs.map((c) => (c.split('/')[0]!.includes(':') ? 'IPv6' : 'IPv4')))];

/** The Service ranges: from the API (ServiceCIDR objects) where it serves them, else from
 *  the bundled cluster's profile; otherwise unknown, with why. */
async function serviceRanges(t: Target): Promise<{ serviceCIDRs?: string[]; serviceCIDRsFrom: string }> {
  try {
    const list = await kube().kc.makeApiClient(k8s.NetworkingV1Api).listServiceCIDR();
    // The default range ('kubernetes', made from the API server's flags) first: its order is the primary family's.
    const items = [...list.items].sort((a, b) => Number(b.metadata?.name === 'kubernetes') - Number(a.metadata?.name === 'kubernetes'));
    const cidrs = [...new Set(items.flatMap((c) => c.spec?.cidrs ?? []))];
    if (cidrs.length)
      return { serviceCIDRs: cidrs, serviceCIDRsFrom: `the API: ServiceCIDR ${list.items.map((c) => c.metadata?.name).join(', ')}` };
  } catch (e) {
    if (t.profile)
      return { serviceCIDRs: t.profile.serviceCIDRs ?? [t.profile.serviceCIDR], serviceCIDRsFrom: "the bundled cluster's profile" };
    return { serviceCIDRsFrom: `the API does not serve networking.k8s.io/v1 ServiceCIDR (Kubernetes >= 1.33): ${apiErrorText(e)}` };
  }
  if (t.profile)
    return { serviceCIDRs: t.profile.serviceCIDRs ?? [t.profile.serviceCIDR], serviceCIDRsFrom: "the bundled cluster's profile" };
  return { serviceCIDRsFrom: 'the API lists no ServiceCIDR' };
}

/** The DNS path (helpers/lib/dns-path.ts), from one probe Pod: the Pod's resolver, the DNS
 *  Service's address and each replica are asked two questions (a record and a name that
 *  does not exist), twice, 1.5 s apart: a cache counts its TTLs down between the rounds
 *  (the pause is the measurement, not a wait for a state). Throws when it cannot ask. */
async function detectDnsPath(primary: IpFamily): Promise<{ path: DnsPath; zone: string }> {
  const core = kube().core;
  if (!fs.existsSync(PROBE_BUNDLE)) execFileSync(process.execPath, ['probe/build.mjs'], { cwd: ROOT, stdio: 'ignore' });
  const svc = await core.readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
  const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP && svc.spec.clusterIP !== 'None' ? [svc.spec.clusterIP] : []);
  const service = { namespace: 'kube-system', name: 'kube-dns', ips };
  const ns = await createNamespace('preflight-dns');
  try {
    await installProbeBundle(ns);
    const [probe] = await startProbes(ns, { nodes: 1 });
    const id = await probe!.whoami();
    const { clusterDomain } = clusterDomainOf(id.resolvConf, ns);
    const resolver = id.resolvConf.nameservers[0];
    if (!resolver) throw new Error(`the probe Pod's resolv.conf has no nameserver: ${JSON.stringify(id.resolvConf)}`);
    const replicas = await dnsReplicas();
    const servers = [
      ...(ips.includes(resolver) ? [] : [{ ip: resolver, role: 'resolver' as const }]),
      ...ips.slice(0, 1).map((ip) => ({ ip, role: 'service' as const })),
      ...replicas.map((r) => ({ ip: r.ip, role: 'replica' as const })),
    ];
    const names = pathQuestions(clusterDomain, currentTarget().runId);
    const rounds: DnsAnswer[][] = [];
    for (const round of [1, 2]) {
      if (round === 2) await new Promise((r) => setTimeout(r, 1500));
      rounds.push(await probe!.dns(roundQuestions(servers, names, addressType(primary))));
    }
    return { path: classify({ service, resolver, node: probe!.node, replicas, servers, rounds }), zone: clusterDomain };
  } finally {
    await deleteNamespace(ns, true).catch(() => undefined);
  }
}

/** The one preflight of every run (the CLI's and npm test's): fails with ClusterError
 *  before any namespace of the run is made; returns what it detected. `t` must be this
 *  process's run config (useTarget). */
export async function preflight(t: Target): Promise<DetectedCluster> {
  const { server, version } = await reachable();
  const perms = t.privileged ? [...DEFAULT_PERMISSIONS, ...PRIVILEGED_PERMISSIONS] : DEFAULT_PERMISSIONS;
  const missing = await missingPermissions(perms).catch((e: unknown) => {
    throw new ClusterError(`cannot check permissions ` + `(SelfSubjectAccessReview): ${apiErrorText(e)}`);
  });
  if (missing.length) {
    const list = missing
      .map(
        (p) =>
          `  - ${p.verb} ${p.group ? `${p.group}/` : ''}${p.resource}${p.subresource ? `/${p.subresource}` : ''}${p.namespace ? ` in ${p.namespace}` : ''} (${p.why})`,
      )
      .join('\n');
    throw new ClusterError(
      `the credentials lack ${missing.length} permission(s) the run needs:\n${list}\nGrant ` +
        `them with manifests/rbac/${t.privileged ? 'privileged' : 'default'}.yaml (see docs/using.md, "Least privilege and air-gapped clusters")`,
    );
  }
  await probeImageStarts();
  if (t.privileged) await privilegedAdmitted(nodeToolsImageFor(t, version));
  const cluster = await detect(t, server, version).catch((e: unknown) => {
    throw new ClusterError(
      `cannot read what the run needs to know about ` + `the cluster (nodes, kube-system/kube-dns, kube-proxy): ${apiErrorText(e)}`,
    );
  });
  // A DNS path that cannot be detected is reported, and the checks treat the resolver as
  // the Service (they then fail where DNS is broken, with the answers to show for it).
  try {
    const { path, zone } = await detectDnsPath((cluster.ipFamilies[0] ?? 'IPv4') as IpFamily);
    cluster.dnsPath = path;
    const cause = zoneNotServed(path, zone);
    if (cause) cluster.causes = [...(cluster.causes ?? []), cause];
  } catch (e) {
    cluster.dnsPathError = apiErrorText(e);
  }
  return cluster;
}

/** One line on how Pods reach the cluster DNS, for the run's identity. */
export const dnsPathLine = (c: DetectedCluster): string =>
  c.dnsPath ? `DNS: ${c.dnsPath.summary}` : `DNS path not detected: ${c.dnsPathError ?? 'unknown'}`;

/** Removes the namespaces of one run (or every run) and undoes their cordons. */
export async function cleanup(runId?: string): Promise<string[]> {
  const namespaces = await deleteRunNamespaces(runId);
  const nodes = await uncordonLeftovers(runId);
  return [...namespaces.map((n) => `namespace/${n}`), ...nodes.map((n) => `cordon on node/${n}`)];
}
