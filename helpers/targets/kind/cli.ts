// The kind target's command line (helpers/targets/kind/provider.ts does the work):
//   node helpers/targets/kind/cli.ts exec [options] -- COMMAND...   start a kind cluster, run COMMAND with
//        KUBECONFIG/SVC_KUBECONFIG (and SVC_PROFILE for our node image) pointing at it, remove
//        the cluster whatever happens (also on SIGINT/SIGTERM), exit with COMMAND's code
//   node helpers/targets/kind/cli.ts down [--name NAME]            remove what a killed run left (by label)
// Options: --image IMAGE (default: ours, built or reused by cluster/kind/node-image.sh),
//   --nodes N (3), --proxy-mode iptables|nftables, --proxy kube-proxy|cilium (kube-proxy; cilium: Cilium
//   as CNI and kube-proxy replacement, kube-proxy absent), --ip-family ipv4|ipv6|dual (ipv4), --name NAME,
//   --timings FILE (JSON).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { cacheDir, childEnv } from '../../config/target.ts';
import { onInterrupt } from '../../config/interrupt.ts';
import { IP_FAMILIES, type IpFamily, leftovers, sweep } from './provider.ts';
import { KIND_PROXIES, type KindProxy, withKind } from './with-kind.ts';

const log = (l: string): void => {
  process.stderr.write(`[kind ${new Date().toISOString().slice(11, 19)}] ${l}\n`);
};

interface Opts {
  image?: string;
  nodes: number;
  proxyMode: 'iptables' | 'nftables';
  proxy: KindProxy;
  ipFamily: IpFamily;
  name: string;
  timings?: string;
  rest: string[];
}

function parse(argv: string[]): Opts {
  const o: Opts = {
    nodes: 3,
    proxyMode: 'iptables',
    proxy: 'kube-proxy',
    ipFamily: 'ipv4',
    name: `svc-${Date.now().toString(36).slice(-5)}`,
    rest: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--') {
      o.rest = argv.slice(i + 1);
      break;
    } else if (a === '--image') o.image = val();
    else if (a === '--nodes') {
      o.nodes = Number(val());
      if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 5) usage(`--nodes must be 1 to 5`);
    } else if (a === '--proxy-mode') {
      const m = val();
      if (m !== 'iptables' && m !== 'nftables') usage(`--proxy-mode must be iptables or nftables (got ${m})`);
      o.proxyMode = m;
    } else if (a === '--proxy') {
      const p = val();
      if (!KIND_PROXIES.includes(p as KindProxy)) usage(`--proxy must be ${KIND_PROXIES.join(' or ')} (got ${p})`);
      o.proxy = p as KindProxy;
    } else if (a === '--ip-family') {
      const f = val();
      if (!IP_FAMILIES.includes(f as IpFamily)) usage(`--ip-family must be ${IP_FAMILIES.join(', ')} (got ${f})`);
      o.ipFamily = f as IpFamily;
    } else if (a === '--name') o.name = val();
    else if (a === '--timings') o.timings = val();
    else usage(`unknown option ${a}`);
  }
  return o;
}

function usage(msg: string): never {
  process.stderr.write(
    `kind: ${msg}\nusage: node helpers/targets/kind/cli.ts exec [--image IMAGE] [--nodes N] [--proxy-mode iptables|nftables] [--proxy kube-proxy|cilium] ` +
      `[--ip-family ipv4|ipv6|dual] [--name NAME] [--timings FILE] -- COMMAND...\n       node helpers/targets/kind/cli.ts down [--name NAME]\n`,
  );
  process.exit(2);
}

async function execCmd(o: Opts): Promise<number> {
  if (!o.rest.length) usage('exec needs a command after --');
  return withKind({ ...o, log }, async (cluster) => {
    // kubectl of the cluster's version first on PATH, where this machine built one.
    const kbin = path.join(cacheDir(), 'bin', `kubernetes-${cluster.kubernetesVersion}`);
    const env = childEnv({
      KUBECONFIG: cluster.kubeconfig,
      SVC_KUBECONFIG: cluster.kubeconfig,
      SVC_KIND_CLUSTER: cluster.name,
      SVC_OUTSIDE_NETWORK: cluster.network,
      ...(cluster.profile ? { SVC_PROFILE: cluster.profile } : {}),
      ...(fs.existsSync(path.join(kbin, 'kubectl')) ? { PATH: `${kbin}:${childEnv().PATH ?? ''}` } : {}),
      SVC_TARGET: '',
    });
    const child = spawn(o.rest[0]!, o.rest.slice(1), { stdio: 'inherit', env });
    // The command is stopped by the same signal (then the cluster goes).
    const stopForwarding = onInterrupt((sig) => child.exitCode === null && child.kill(sig), { then: 'continue' });
    try {
      return await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 130 : 1))));
    } finally {
      stopForwarding();
    }
  });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'exec') process.exit(await execCmd(parse(rest)));
  if (cmd === 'down') {
    const o = parse(rest);
    const name = rest.includes('--name') ? o.name : undefined;
    const before = leftovers(name);
    const left = sweep(name);
    log(`down: removed ${before.length - left.length} object(s)${left.length ? `; could not remove: ${left.join(', ')}` : ''}`);
    process.exit(left.length ? 1 : 0);
  }
  usage(cmd ? `unknown command ${cmd}` : 'a command is needed');
}

await main();
