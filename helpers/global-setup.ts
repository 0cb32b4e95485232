// Resolves the target cluster once per run: builds the probe bundle, reads the bundled
// cluster's profile (or the user's kubeconfig), checks that the API answers, and
// exports SVC_* variables for the workers. Fails loudly: nothing skips silently.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { DEFAULT_PROFILE_PATH, readProfile } from './target.ts';
import { apiErrorText, loadKubeConfig } from './kube.ts';

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
  } catch (e) {
    throw new Error(`the cluster at ${kc.getCurrentCluster()?.server} does not answer: ${apiErrorText(e)}. Check the kubeconfig and that the cluster is up ('npm run cluster -- status' for the bundled one)`);
  }
}
