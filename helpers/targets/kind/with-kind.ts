// One kind cluster for the length of one piece of work: started (testcontainers, our node
// image unless told), handed to the work, and removed whatever happens: the work failing,
// the start failing half-way, or an interrupt (the work is told through its own
// interrupt handling, then the cluster goes). `run --kind` runs the suite in it, in
// process; `helpers/targets/kind/cli.ts exec` runs a command in it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ROOT } from '../../config/target.ts';
import { interruptedBy, onInterrupt } from '../../config/interrupt.ts';
import { defaultWorkDir, type IpFamily, type KindCluster, startKind } from './provider.ts';

export interface WithKindOptions {
  /** Default: ours, built or reused by cluster/kind/node-image.sh. */
  image?: string;
  nodes: number;
  proxyMode: 'iptables' | 'nftables';
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
    const code = await (async (): Promise<number> => {
      try {
        cluster = await startKind({
          image,
          nodes: o.nodes,
          proxyMode: o.proxyMode,
          ipFamily: o.ipFamily,
          name: o.name,
          workDir: defaultWorkDir(o.name),
          log: o.log,
        });
        if (o.timings)
          fs.writeFileSync(
            o.timings,
            JSON.stringify({ image, nodes: o.nodes, proxyMode: o.proxyMode, ipFamily: cluster.ipFamily, ...cluster.timings }, null, 2),
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
