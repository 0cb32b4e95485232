// Resolves the target cluster once per run: builds the probe bundle, reads the bundled
// cluster's profile (or the user's kubeconfig), checks that the API answers, and
// exports SVC_* variables for the workers. Fails loudly: nothing skips silently.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { DEFAULT_PROFILE_PATH, readProfile } from './target.ts';
import { apiErrorText, loadKubeConfig } from './kube.ts';
import { isSchedulable } from './nodes.ts';

export default async function globalSetup(): Promise<void> {
  execFileSync(process.execPath, ['probe/build.mjs'], { stdio: 'inherit' });
  process.env.SVC_RUN_ID ||= `r${Date.now().toString(36).slice(-5)}${crypto.randomBytes(1).toString('hex')}`;
  const explicit = process.env.SVC_KUBECONFIG || process.env.KUBECONFIG;
  if (!explicit) {
    const profilePath = process.env.SVC_PROFILE || DEFAULT_PROFILE_PATH;
    if (!fs.existsSync(profilePath)) {
      throw new Error(`no cluster to test: KUBECONFIG is not set and the bundled cluster is not up (${profilePath} is missing). Run 'npm run cluster -- up' (as root), or set KUBECONFIG to an existing cluster`);
    }
    const profile = readProfile(profilePath);
    process.env.SVC_PROFILE = profilePath;
    process.env.SVC_KUBECONFIG = profile.kubeconfig;
  }
  const kc = loadKubeConfig(process.env.SVC_KUBECONFIG || process.env.KUBECONFIG, process.env.SVC_CONTEXT || undefined);
  try {
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    process.stdout.write(`\nsvc-conformance: run ${process.env.SVC_RUN_ID} against ${kc.getCurrentCluster()?.server} (Kubernetes ${v.gitVersion})\n`);
    // IP families of the cluster DNS Service: decides, before tests are defined, whether
    // the dual-stack checks run or skip with that reason.
    const dns = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' }).catch(() => undefined);
    process.env.SVC_IP_FAMILIES = (dns?.spec?.ipFamilies ?? ['IPv4']).join(',');
    // kube-proxy present? (its Pods, as kubeadm labels them) decides whether the
    // kube-proxy-specific checks run or skip with that reason.
    const proxies = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-proxy' }).catch(() => undefined);
    // Schedulable nodes: checks that need several nodes adapt or skip, with the reason,
    // before tests are defined (kind's default cluster has one node).
    const nodes = await kc.makeApiClient(k8s.CoreV1Api).listNode();
    process.env.SVC_SCHEDULABLE_NODES = String(nodes.items.filter(isSchedulable).length);
    process.env.SVC_KUBE_PROXY = proxies && proxies.items.length > 0 ? 'present' : 'absent';
    // The proxy mode, known before tests are defined: the bundled cluster's profile, else
    // kubeadm's kube-proxy ConfigMap (an empty mode means iptables). Checked again on
    // every node at run time through /proxyMode.
    if (!process.env.SVC_PROXY_MODE_EXPECTED && process.env.SVC_KUBE_PROXY === 'present') {
      let mode = process.env.SVC_PROFILE ? readProfile(process.env.SVC_PROFILE).proxyMode : undefined;
      if (!mode) {
        const cm = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' }).catch(() => undefined);
        const m = /^mode:\s*"?([a-z]*)"?/m.exec(cm?.data?.['config.conf'] ?? '') ?? /"mode":\s*"([a-z]*)"/.exec(cm?.data?.['config.conf'] ?? '');
        mode = m ? (m[1] || 'iptables') : 'unknown';
      }
      process.env.SVC_PROXY_MODE_EXPECTED = mode;
    }
    if (!process.env.SVC_NODE_TOOLS_IMAGE && !process.env.SVC_PROFILE) process.env.SVC_NODE_TOOLS_IMAGE = `registry.k8s.io/kube-proxy:${v.gitVersion}`;
  } catch (e) {
    throw new Error(`the cluster at ${kc.getCurrentCluster()?.server} does not answer: ${apiErrorText(e)}. Check the kubeconfig and that the cluster is up ('npm run cluster -- status' for the bundled one)`);
  }
}
