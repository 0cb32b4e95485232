// One kind cluster for the length of one piece of work: started (testcontainers, our node
// image unless told), handed to the work, and removed whatever happens: the work failing,
// the start failing half-way, or an interrupt (the work is told through its own
// interrupt handling, then the cluster goes). `run --kind` runs the suite in it, in
// process; `helpers/targets/kind/cli.ts exec` runs a command in it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ROOT } from '../../config/target.ts';
import { interruptedBy, onInterrupt } from '../../config/interrupt.ts';
import { type CiliumInstall, defaultWorkDir, type IpFamily, type KindCluster, startKind } from './provider.ts';

export type KindProxy = 'kube-proxy' | 'cilium';
export const KIND_PROXIES: readonly KindProxy[] = ['kube-proxy', 'cilium'];

export interface WithKindOptions {
  /** Default: ours, built or reused by cluster/kind/node-image.sh. */
  image?: string;
  nodes: number;
  proxyMode: 'iptables' | 'nftables';
  /** The Service proxy: kube-proxy in proxyMode (the default), or Cilium (built or reused by
   *  cluster/cilium/cilium.sh) as the CNI and kube-proxy replacement. */
  proxy?: KindProxy;
  /** kind's networking.ipFamily; default ipv4. */
  ipFamily?: IpFamily;
  name: string;
  /** A JSON file for the start and teardown times. */
  timings?: string;
  log: (line: string) => void;
}

/** Our node image: built (or found cached) by cluster/kind/node-image.sh; its name is the last line. */
export function ourNodeImage(): string {
  const out = execFileSync('bash', ['cluster/kind/node-image.sh'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const name = out.trim().split('\n').pop();
  if (!name) throw new Error('cluster/kind/node-image.sh printed no image name');
  return name;
}

/** Cilium from cluster/cilium/cilium.sh: built (or found cached) there, its chart rendered there. */
export function ourCilium(): CiliumInstall {
  const script = (args: string[], progress: boolean): string =>
    execFileSync('bash', ['cluster/cilium/cilium.sh', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', progress ? 'inherit' : 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  const images = script(['images'], true).trim().split('\n').filter(Boolean);
  if (images.length !== 2) throw new Error(`cluster/cilium/cilium.sh images printed ${images.length} archive(s), not 2`);
  return {
    version: script(['version'], false).trim(),
    images,
    render: (host, port, family, k8sVersion) => script(['render', host, String(port), family, k8sVersion], true),
  };
}

/** Runs `work` against a fresh kind cluster and returns its exit code: 130 when
 *  interrupted, 3 when the cluster did not start, 1 when the work passed but something of
 *  ours was left in Docker. */
export async function withKind(o: WithKindOptions, work: (cluster: KindCluster) => Promise<number>): Promise<number> {
  const stopHandling = onInterrupt(
    (sig) => {
      o.log(`${sig}: stopping and removing the cluster`);
    },
    { then: 'continue' },
  );
  let cluster: KindCluster | undefined;
  let leftBehind = false;
  try {
    const image = o.image ?? ourNodeImage();
    const cilium = o.proxy === 'cilium' ? ourCilium() : undefined;
    const code = await (async (): Promise<number> => {
      try {
        cluster = await startKind({
          image,
          nodes: o.nodes,
          proxyMode: o.proxyMode,
          ipFamily: o.ipFamily,
          cilium,
          name: o.name,
          workDir: defaultWorkDir(o.name),
          log: o.log,
        });
        if (o.timings)
          fs.writeFileSync(
            o.timings,
            JSON.stringify(
              {
                image,
                nodes: o.nodes,
                proxyMode: cilium ? `cilium ${cilium.version}` : o.proxyMode,
                ipFamily: cluster.ipFamily,
                ...cluster.timings,
              },
              null,
              2,
            ),
          );
        // Interrupted while it started: the start finished (or failed and removed what it
        // made); the cluster goes before any work runs.
        if (interruptedBy()) return 130;
        const c = await work(cluster);
        return interruptedBy() ? 130 : c;
      } catch (e) {
        o.log((e as Error).message);
        return interruptedBy() ? 130 : 3;
      }
    })();
    if (cluster) {
      const r = await cluster.teardown();
      leftBehind = r.left.length > 0;
      o.log(`teardown: ${r.seconds} s${r.left.length ? `; LEFT: ${r.left.join(', ')}` : ', nothing left'}`);
      if (o.timings && fs.existsSync(o.timings)) {
        const t = JSON.parse(fs.readFileSync(o.timings, 'utf8')) as Record<string, unknown>;
        fs.writeFileSync(o.timings, JSON.stringify({ ...t, teardown: r.seconds, left: r.left }, null, 2));
      }
    }
    // Something of ours left in Docker fails the work, whatever it returned.
    return leftBehind && code === 0 ? 1 : code;
  } finally {
    stopHandling();
  }
}
