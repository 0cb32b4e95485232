// Cluster access: one KubeConfig and the API clients the suites use, with errors
// turned into sentences.
import * as k8s from '@kubernetes/client-node';
import { currentTarget, loadKubeConfig } from '../config/target.ts';
import { counted } from './cost.ts';

export interface Kube {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  discovery: k8s.DiscoveryV1Api;
  objects: k8s.KubernetesObjectApi;
}

let cached: Kube | undefined;

export { loadKubeConfig };

export function kube(): Kube {
  if (cached) return cached;
  const target = currentTarget();
  const kc = loadKubeConfig(target.kubeconfig, target.context);
  cached = {
    kc,
    // Each call counted (helpers/cluster/cost.ts): the run reports what it cost the cluster.
    core: counted(kc.makeApiClient(k8s.CoreV1Api)),
    apps: counted(kc.makeApiClient(k8s.AppsV1Api)),
    discovery: counted(kc.makeApiClient(k8s.DiscoveryV1Api)),
    objects: counted(k8s.KubernetesObjectApi.makeApiClient(kc)),
  };
  return cached;
}

/** A readable one-line description of an API error (status code, reason, message). */
export function apiErrorText(e: unknown): string {
  const err = e as { code?: number; body?: unknown; message?: string };
  if (typeof err?.code === 'number') {
    let msg = '';
    try {
      const body =
        typeof err.body === 'string'
          ? (JSON.parse(err.body) as { message?: string; reason?: string })
          : (err.body as { message?: string; reason?: string });
      msg = [body?.reason, body?.message].filter(Boolean).join(': ');
    } catch {
      msg = String(err.body ?? '');
    }
    return `HTTP ${err.code}${msg ? ` ${msg}` : ''}`;
  }
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return `${err?.message ?? String(e)}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
}

export function isNotFound(e: unknown): boolean {
  return (e as { code?: number })?.code === 404;
}
