// Declares a check as a Jest test: the title carries the claim and the id,
// an unmet requirement is a structured skip (its reason recorded, not spliced into the
// title), and the level decides the verdict: a failing required check fails; a failing
// expected check is a warning (a failure under --strict); an informational check never
// fails. Verdicts other than Jest's own go to <evidence dir>/verdicts/<run id>.<pid>.jsonl,
// which the reports merge by id (file names start with the run id).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CheckDef, checkTitle, type Requirement } from '../../suites/data/sources.ts';
import { jestApi } from './declare.ts';
import { setCurrentCheck } from './current-check.ts';
import { hasCache } from '../lib/dns-path.ts';
import { currentTarget, detected } from '../config/target.ts';
import { TEST_TIMEOUT_MS } from '../config/jest.ts';

export interface Verdict {
  id: string;
  status: 'skipped' | 'warning' | 'informational';
  reason?: string;
  message?: string;
}

export function recordVerdict(v: Verdict): void {
  const dir = path.join(currentTarget().evidenceDir, 'verdicts');
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, `${currentTarget().runId}.${process.pid}.jsonl`), `${JSON.stringify(v)}\n`);
}

/** --retries: one failed attempt of a check (the reports read them, helpers/results/reports.ts readAttempts). */
function recordAttempt(a: { id: string; attempt: number; failure: string }): void {
  const dir = path.join(currentTarget().evidenceDir, 'attempts');
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, `${currentTarget().runId}.${process.pid}.jsonl`), `${JSON.stringify(a)}\n`);
}

/** Why the cluster or the run does not meet a requirement, or undefined when it does. */
export function unmet(requires: Requirement[] = []): string | undefined {
  const t = currentTarget();
  const c = detected();
  for (const r of requires) {
    if (r === 'multi-node' && c.schedulableNodes === 1) return 'needs two schedulable nodes; the cluster has one';
    if (r === 'dual-stack' && !(c.ipFamilies.includes('IPv4') && c.ipFamilies.includes('IPv6')))
      return `needs a dual-stack cluster; it serves Services in ${c.ipFamilies.join(', ')} only (from ${c.ipFamiliesFrom ?? 'the DNS Service'})`;
    if (r === 'privileged' && !t.privileged) return 'privileged profile not enabled (--profile privileged / SVC_PRIVILEGED=1)';
    if (r === 'kube-proxy' && c.kubeProxy !== 'present') return 'no kube-proxy in this cluster (no k8s-app=kube-proxy Pods in kube-system)';
    if (r === 'outside-host' && !t.outsideNetwork)
      return (
        'needs a host outside the cluster: a Docker network the nodes are on (the kind target ' +
        'sets it; --outside-network NAME / SVC_OUTSIDE_NETWORK for a kind cluster of your own)'
      );
    if (r === 'service-range' && !c.serviceCIDRs?.length)
      return `the Service range is not known: ${c.serviceCIDRsFrom ?? 'not detected (outside a run)'}`;
    if (r === 'zones' && (c.zones ?? 0) < 2)
      return `needs schedulable nodes in two zones or more (topology.kubernetes.io/zone); the cluster has ${c.zones ?? 0}`;
    if (r === 'prefer-same-node') {
      const minor = /^v1\.(\d+)\./.exec(c.version)?.[1];
      if (minor !== undefined && Number(minor) < 34)
        return `trafficDistribution PreferSameNode is served from Kubernetes 1.34 (beta, on by default); the cluster runs ${c.version}`;
    }
    if (r === 'outside-client' && !t.outsideClient)
      return (
        "needs this machine to reach the nodes' InternalIPs from outside the cluster (known for the " +
        'bundled cluster and the kind target): --outside-client / SVC_OUTSIDE_CLIENT=1 when it does'
      );
    if (r === 'dns-cache' && !hasCache(c.dnsPath))
      return `no DNS cache in front of the replicas: ${c.dnsPath ? c.dnsPath.summary : `the DNS path was not detected (${c.dnsPathError ?? 'outside a run'})`}`;
    // kube-proxy, or a proxy that replaces it whole and says so (Cilium's kube-proxy
    // replacement): held to kube-proxy's documented labels.
    if (r === 'kube-proxy-role' && c.kubeProxy !== 'present' && !(c.serviceProxy?.name === 'cilium' && c.serviceProxy.kubeProxyReplacement))
      return 'no kube-proxy in this cluster (no k8s-app=kube-proxy Pods in kube-system), and no kube-proxy replacement (Cilium) detected';
    if (r === 'cilium' && !(c.serviceProxy?.name === 'cilium' && c.serviceProxy.kubeProxyReplacement))
      return c.serviceProxy?.name === 'cilium'
        ? "Cilium runs without its kube-proxy replacement (cilium-config kube-proxy-replacement is not 'true')"
        : 'no Cilium in this cluster (no k8s-app=cilium Pods in kube-system)';
    if (r === 'proxy-rules-readable') {
      // Where the Service proxy's datapath is read: kube-proxy's rules in its mode, or
      // Cilium's service map (its kube-proxy replacement; kube-proxy absent).
      const cilium = c.serviceProxy?.name === 'cilium' && c.serviceProxy.kubeProxyReplacement && c.kubeProxy === 'absent';
      if (!cilium && c.kubeProxy !== 'present')
        return 'no kube-proxy in this cluster (no k8s-app=kube-proxy Pods in kube-system), and no Cilium kube-proxy replacement';
      if (!cilium && !['iptables', 'nftables', 'ipvs'].includes(c.proxyMode))
        return `kube-proxy's mode '${c.proxyMode}' could not be read from kube-system/kube-proxy`;
    }
  }
  return undefined;
}

/** A check that could not ask its question (its own fixture failed): it fails whatever its
 *  level, like a suite fixture's failure, since nothing was measured. */
export class CouldNotAsk extends Error {
  override name = 'CouldNotAsk';
}

/** `before` (the suite's fixture) runs first; its failure fails the check whatever its
 *  level (the check could not be asked). Only while Jest runs the suite. */
export function check(def: CheckDef, fn: () => Promise<void>, timeoutMs?: number, before?: () => Promise<void>): void {
  const test = jestApi()?.test;
  if (!test) throw new Error(`check ${def.id}: Jest is not running suite ${def.suite}`);
  const { id } = def;
  const reason = unmet(def.requires);
  if (reason) {
    recordVerdict({ id, status: 'skipped', reason });
    test.skip(checkTitle(def), () => undefined);
    return;
  }
  const retries = currentTarget().retries ?? 0;
  test(
    checkTitle(def),
    async () => {
      await before?.();
      setCurrentCheck(id);
      try {
        // --retries: an attempt that fails is recorded, then the check runs again; the
        // last attempt's outcome is the verdict (a pass after a failure is reported flaky).
        for (let attempt = 1; ; attempt++) {
          try {
            await fn();
            break;
          } catch (e) {
            if (attempt > retries) throw e;
            const failure = (e as Error).message ?? String(e);
            recordAttempt({ id, attempt, failure });
            if (!currentTarget().quiet)
              process.stdout.write(`  [retry] ${id}: attempt ${attempt} of ${retries + 1} failed: ${failure.split('\n')[0]}\n`);
          }
        }
      } catch (e) {
        if (def.level === 'required' || (def.level === 'expected' && currentTarget().strict) || e instanceof CouldNotAsk) throw e;
        const message = (e as Error).message ?? String(e);
        recordVerdict({ id, status: def.level === 'expected' ? 'warning' : 'informational', message });
        if (!currentTarget().quiet)
          process.stdout.write(`  [${def.level === 'expected' ? 'warning' : 'info'}] ${id}: ${message.split('\n')[0]}\n`);
      } finally {
        setCurrentCheck(undefined);
      }
    },
    timeoutMs === undefined ? (retries ? TEST_TIMEOUT_MS * (retries + 1) : undefined) : timeoutMs * (retries + 1),
  );
}
