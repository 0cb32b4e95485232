// Server-side apply of the files in manifests/, with ${VAR} placeholders templated.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { apiErrorText, kube } from './kube.ts';
import { RUN_LABEL, MANAGED_LABEL, MANAGED_BY } from './namespace.ts';
import { countCost } from './cost.ts';

export { ROOT } from '../config/target.ts';
import { currentTarget, detected, ROOT } from '../config/target.ts';
import { externalAddress, type IpFamily } from '../lib/net.ts';
export const FIELD_MANAGER = 'svc-conformance';

export type Vars = Record<string, string | number | boolean>;

/** Replaces ${NAME} with vars.NAME; an unknown placeholder is an error, never left in. */
export function template(text: string, vars: Vars): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`manifest placeholder \${${name}} has no value`);
    return String(vars[name]);
  });
}

export function loadManifest(file: string, vars: Vars): k8s.KubernetesObject[] {
  const full = path.isAbsolute(file) ? file : path.join(ROOT, 'manifests', file);
  const docs = yaml.loadAll(template(fs.readFileSync(full, 'utf8'), vars));
  return docs.filter((d): d is k8s.KubernetesObject => d !== null && d !== undefined && typeof d === 'object');
}

export function defaultVars(): Vars {
  const target = currentTarget();
  // Hand-made EndpointSlices and Endpoints are in the cluster's primary family.
  const primary = (detected().ipFamilies[0] ?? 'IPv4') as IpFamily;
  return {
    PROBE_IMAGE: target.probeImage,
    ADDRESS_TYPE: primary,
    SELECTORLESS_IP: externalAddress(primary),
  };
}

export async function applyObjects(ns: string, objs: k8s.KubernetesObject[]): Promise<k8s.KubernetesObject[]> {
  const { objects } = kube();
  const target = currentTarget();
  const out: k8s.KubernetesObject[] = [];
  for (const obj of objs) {
    obj.metadata = obj.metadata ?? {};
    obj.metadata.namespace = ns;
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), [RUN_LABEL]: target.runId, [MANAGED_LABEL]: MANAGED_BY };
    try {
      out.push(await objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply));
      if (obj.kind === 'Pod') countCost('podsCreated');
      else if (obj.kind === 'Deployment' || obj.kind === 'StatefulSet')
        countCost('podsCreated', Number((obj as { spec?: { replicas?: number } }).spec?.replicas ?? 1));
    } catch (e) {
      throw new Error(`server-side apply of ${obj.kind}/${obj.metadata.name} in ${ns} failed: ${apiErrorText(e)}`);
    }
  }
  return out;
}

/** Applies manifests/<file> into ns; vars override the defaults (images, replicas). */
export async function apply(ns: string, file: string, vars: Vars = {}): Promise<k8s.KubernetesObject[]> {
  return applyObjects(ns, loadManifest(file, { ...defaultVars(), ...vars }));
}
