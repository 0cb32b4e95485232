// A kind cluster started by testcontainers: node containers run the way kind v0.33.0's
// docker provider runs them (docs/kind.md, "Node containers": privileged, private cgroup
// namespace, tmpfs on /run and /tmp, an anonymous volume on /var, /lib/modules read-only),
// then kubeadm init/join with a kind-equivalent config ("kubeadm config and bootstrap"), the
// node image's default CNI ("The node image"), the admin kubeconfig with the server rewritten
// to the mapped port ("Readiness and the kubeconfig"). Everything
// it creates carries the label io.svc-conformance.kind=<cluster name>, and teardown()
// removes every container, volume and network, also after a failed start. IPv4 unless told:
// ipFamily ipv6 or dual makes it as kind's networking.ipFamily does (familyNetworking).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import dnsPacket from 'dns-packet';
import * as yaml from 'js-yaml';
import { GenericContainer, StartedNetwork, Wait, getContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import { getReaperImage } from 'testcontainers/build/reaper/reaper.js';
import { disableRyuk, ryukSettings } from '../../config/target.ts';

export const KIND_LABEL = 'io.svc-conformance.kind';

export interface KindOptions {
  /** Node image: ours (cluster/kind/node-image.sh) or an official kindest/node. */
  image: string;
  /** Nodes in all: 1 control plane and nodes-1 workers. */
  nodes: number;
  proxyMode: 'iptables' | 'nftables';
  /** kind's networking.ipFamily: ipv4 (the default), ipv6, or dual (IPv4 first, then IPv6). */
  ipFamily?: IpFamily;
  /** Cluster name (lower-case, digits, dashes); also the container name prefix. */
  name: string;
  /** Where the kubeconfig and profile go. */
  workDir: string;
  /** Cilium as the CNI and the Service proxy instead of kube-proxy (absent) and the node
   *  image's CNI; proxyMode is then not used. */
  cilium?: CiliumInstall;
  log?: (line: string) => void;
}

/** What the kind target needs to run Cilium (cluster/cilium/cilium.sh makes both). */
export interface CiliumInstall {
  version: string;
  /** OCI archives imported into every node before kubeadm init: the agent's and the operator's images. */
  images: string[];
  /** Cilium's chart rendered for this cluster: the API server's address and port (no proxy
   *  serves the kubernetes Service before Cilium does), its IP families, its version. */
  render(apiHost: string, apiPort: number, family: IpFamily, k8sVersion: string): string;
}

export interface KindCluster {
  name: string;
  kubernetesVersion: string;
  kubeconfig: string;
  /** A cluster profile (helpers/config/target.ts ClusterProfile) when the image is ours. */
  profile?: string;
  apiServer: string;
  network: string;
  ipFamily: IpFamily;
  /** ip: the node's address of the first family (its InternalIP); ipv6 on IPv6 and dual clusters. */
  nodes: { name: string; role: 'control-plane' | 'worker'; ip: string; ipv6?: string }[];
  /** Seconds: containers up, kubeadm init, joins, add-ons ready, total. */
  timings: Record<string, number>;
  /** The images and tags the node image carries (/kind/svc-images.json), if ours. */
  svcImages?: SvcImages;
  teardown(): Promise<TeardownReport>;
  /** Runs a command on a node (docker exec). */
  exec(node: string, cmd: string[]): Promise<{ exitCode: number; output: string }>;
}

export interface TeardownReport {
  seconds: number;
  left: string[];
}

interface SvcImages {
  imageRepository: string;
  etcdImageTag: string;
  dnsImageTag: string;
  sandboxImage: string;
  probe: string;
  nodeTools: string;
  coredns: string;
}

export type IpFamily = 'ipv4' | 'ipv6' | 'dual';
export const IP_FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6', 'dual'];

/** A family's ranges as kind defaults them (pkg/internal/apis/config/default.go): pod and
 *  Service subnets, comma-separated pairs for dual (IPv4 first), and the cluster DNS
 *  Service address kubeadm picks, the 10th of the first Service range. */
export interface FamilyNetworking {
  podSubnet: string;
  serviceSubnet: string;
  dnsIP: string;
}
const V4 = { pod: '10.244.0.0/16', service: '10.96.0.0/16', dns: '10.96.0.10' };
// The pod range is a /56: the node mask is a /64 for IPv6, as kind explains.
const V6 = { pod: 'fd00:10:244::/56', service: 'fd00:10:96::/112', dns: 'fd00:10:96::a' };
export function familyNetworking(f: IpFamily): FamilyNetworking {
  if (f === 'ipv6') return { podSubnet: V6.pod, serviceSubnet: V6.service, dnsIP: V6.dns };
  if (f === 'dual') return { podSubnet: `${V4.pod},${V6.pod}`, serviceSubnet: `${V4.service},${V6.service}`, dnsIP: V4.dns };
  return { podSubnet: V4.pod, serviceSubnet: V4.service, dnsIP: V4.dns };
}

/** The Docker network's IPv6 subnet: a ULA /64 from the cluster name, as kind derives its
 *  network's (generateULASubnetFromName: fc00::/8, bytes 2-7 of the SHA-1 of the name and
 *  the attempt), so that two clusters' networks do not collide. */
export function ulaSubnet(name: string, attempt = 0): string {
  const a = Buffer.alloc(4);
  a.writeInt32LE(attempt);
  const h = createHash('sha1').update(name).update(a).digest();
  const b = Buffer.from([0xfc, 0x00, ...h.subarray(2, 8)]);
  const groups = Array.from({ length: 4 }, (_, i) => b.readUInt16BE(2 * i).toString(16));
  return `${groups.join(':')}::/64`;
}

/** host:port, the host bracketed when it is an IPv6 address. */
const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

const DOMAIN = 'cluster.local';
const TOKEN = 'abcdef.0123456789abcdef';
const CAP_SYS_RESOURCE = 24;

/** Ryuk, testcontainers' reaper, is an image from Docker Hub. Where it is not on the host
 *  and cannot be pulled (this machine has no registry), it is disabled; the explicit
 *  teardown and `down` (a sweep by label) do its work. */
export function decideRyuk(log: (l: string) => void): void {
  const r = ryukSettings();
  if (r.disabledByUser) return;
  const image = getReaperImage();
  const local = dockerOk(['image', 'inspect', image]);
  if (local || r.githubActions || r.wanted) return;
  disableRyuk();
  log(
    `testcontainers' reaper image ${image} is not on this host and no registry is reachable ` +
      `here: Ryuk disabled (SVC_KIND_RYUK=1 keeps it); the cluster is removed by its own teardown`,
  );
}

function dockerOk(args: string[]): boolean {
  try {
    execFileSync('docker', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function docker(args: string[], input?: string): string {
  return execFileSync('docker', args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}

/** Everything of ours Docker still has for a cluster name (or for every kind cluster of ours). */
export function leftovers(name?: string): string[] {
  const filter = `label=${KIND_LABEL}${name ? `=${name}` : ''}`;
  const lines = (args: string[]): string[] => {
    try {
      return docker(args).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  return [
    ...lines(['ps', '-a', '--filter', filter, '--format', 'container {{.Names}}']),
    ...lines(['network', 'ls', '--filter', filter, '--format', 'network {{.Name}}']),
    ...lines(['volume', 'ls', '--filter', filter, '--format', 'volume {{.Name}}']),
  ];
}

/** Removes what leftovers() lists: containers with their anonymous volumes, then networks. */
export function sweep(name?: string): string[] {
  const filter = `label=${KIND_LABEL}${name ? `=${name}` : ''}`;
  const ids = (args: string[]): string[] => {
    try {
      return docker(args).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const ctrs = ids(['ps', '-aq', '--filter', filter]);
  if (ctrs.length)
    try {
      docker(['rm', '-f', '-v', ...ctrs]);
    } catch {
      /* listed below */
    }
  const nets = ids(['network', 'ls', '-q', '--filter', filter]);
  if (nets.length)
    try {
      docker(['network', 'rm', ...nets]);
    } catch {
      /* listed below */
    }
  const vols = ids(['volume', 'ls', '-q', '--filter', filter]);
  if (vols.length)
    try {
      docker(['volume', 'rm', '-f', ...vols]);
    } catch {
      /* listed below */
    }
  return leftovers(name);
}

/** A kind node container: the docker provider's run arguments that testcontainers has no
 *  builder for (private cgroup namespace, anonymous /var volume, no init, a TTY). */
class KindNode extends GenericContainer {
  constructor(image: string, name: string, role: 'control-plane' | 'worker', cluster: string, network: StartedNetwork, ipv6: boolean) {
    super(image);
    this.withName(name)
      .withHostname(name)
      // The network alone, as kind's nodes: with a network alias testcontainers would create
      // the container on Docker's default bridge and connect it to the network after, and
      // the node would have two interfaces (the default bridge's first), which a proxy
      // that picks its devices itself (Cilium) takes for the node's. Docker's DNS on the
      // network resolves the container name without an alias.
      .withNetwork(network)
      .withLabels({ [KIND_LABEL]: cluster, 'io.x-k8s.kind.cluster': cluster, 'io.x-k8s.kind.role': role })
      .withPrivilegedMode()
      .withSecurityOpt('seccomp=unconfined', 'apparmor=unconfined')
      .withTmpFs({ '/tmp': '', '/run': '' })
      .withPullPolicy({ shouldPull: () => false })
      .withStartupTimeout(60_000)
      .withWaitStrategy(Wait.forSuccessfulCommand('test -S /run/containerd/containerd.sock'));
    if (fs.existsSync('/lib/modules')) this.withBindMounts([{ source: '/lib/modules', target: '/lib/modules', mode: 'ro' }]);
    if (role === 'control-plane') this.withExposedPorts(6443).withEnvironment({ KUBECONFIG: '/etc/kubernetes/admin.conf' });
    (this.hostConfig as typeof this.hostConfig & { CgroupnsMode?: string }).CgroupnsMode = 'private';
    this.hostConfig.Init = false;
    // As kind's docker provider does for clusters with IPv6.
    if (ipv6) this.hostConfig.Sysctls = { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.all.forwarding': '1' };
    this.hostConfig.RestartPolicy = { Name: 'on-failure', MaximumRetryCount: 1 };
    this.createOpts.Tty = true;
    this.createOpts.StopSignal = 'SIGRTMIN+3';
    this.createOpts.Volumes = { '/var': {} };
  }
}

export function v1beta4(o: {
  cluster: string;
  /** The control plane's endpoint host: its name, or for ipv6 its IPv6 address. */
  cp: string;
  /** The node's addresses, comma-separated, first family first (kubelet's node-ip). */
  ip: string;
  node: string;
  ipFamily?: IpFamily;
  init: boolean;
  /** kube-proxy's mode, or 'none': no kube-proxy (kubeadm skips its add-on). */
  proxyMode: string;
  cgroupV1: boolean;
  images?: SvcImages;
  k8sVersion: string;
  zone?: string;
}): string {
  const family = o.ipFamily ?? 'ipv4';
  const net = familyNetworking(family);
  const v6 = family === 'ipv6';
  // kind: the advertise address is the first of the node's addresses.
  const advertise = o.ip.split(',')[0]!;
  const endpoint = hostPort(o.cp, 6443);
  const reg = [
    { name: 'node-ip', value: o.ip },
    { name: 'provider-id', value: `kind://docker/${o.cluster}/${o.node}` },
    // Each node its own zone, as the bundled cluster's: topology (trafficDistribution) has zones to prefer.
    { name: 'node-labels', value: o.zone ? `topology.kubernetes.io/zone=${o.zone}` : '' },
  ];
  const nodeRegistration = { criSocket: 'unix:///run/containerd/containerd.sock', kubeletExtraArgs: reg };
  const docs: Record<string, unknown>[] = [];
  if (o.init) {
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'ClusterConfiguration',
      kubernetesVersion: o.k8sVersion,
      clusterName: o.cluster,
      controlPlaneEndpoint: endpoint,
      ...(o.images
        ? {
            imageRepository: o.images.imageRepository,
            etcd: { local: { imageTag: o.images.etcdImageTag } },
            dns: { imageTag: o.images.dnsImageTag },
          }
        : {}),
      apiServer: { certSANs: ['localhost', '127.0.0.1'] },
      controllerManager: {
        extraArgs: [
          { name: 'enable-hostpath-provisioner', value: 'true' },
          // kind's IPv6 defaults for the components' own listeners.
          ...(v6 ? [{ name: 'bind-address', value: '::' }] : []),
        ],
      },
      ...(v6 ? { scheduler: { extraArgs: [{ name: 'bind-address', value: '::1' }] } } : {}),
      networking: { podSubnet: net.podSubnet, serviceSubnet: net.serviceSubnet, dnsDomain: DOMAIN },
    });
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'InitConfiguration',
      bootstrapTokens: [{ token: TOKEN }],
      localAPIEndpoint: { advertiseAddress: advertise, bindPort: 6443 },
      nodeRegistration,
      // As kind for kubeProxyMode none: kubeadm does not install kube-proxy.
      skipPhases: o.proxyMode === 'none' ? ['preflight', 'addon/kube-proxy'] : ['preflight'],
    });
  } else {
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'JoinConfiguration',
      nodeRegistration,
      discovery: { bootstrapToken: { apiServerEndpoint: endpoint, token: TOKEN, unsafeSkipCAVerification: true } },
      skipPhases: ['preflight'],
    });
  }
  docs.push({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'systemd',
    cgroupRoot: '/kubelet',
    failSwapOn: false,
    ...(v6 ? { address: '::', healthzBindAddress: '::' } : {}),
    imageGCHighThresholdPercent: 100,
    evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
    // kind never sets this; kubelet >= 1.35 refuses cgroup v1 without it (docs/kind.md, "kubeadm config and bootstrap").
    ...(o.cgroupV1 ? { failCgroupV1: false } : {}),
  });
  if (o.proxyMode !== 'none')
    docs.push({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: o.proxyMode,
      iptables: { minSyncPeriod: '1s' },
      conntrack: { maxPerCore: 0, ...(o.proxyMode === 'nftables' ? { tcpBeLiberal: true } : {}) },
    });
  return docs.map((d) => yaml.dump(d)).join('---\n');
}

/** kubeadm's default Corefile forwards everything outside the cluster domain to the node's
 *  resolver; here there is no outside, and cluster DNS must never forward upstream. */
export function withoutForward(corefile: string): string {
  return corefile.replace(/^\s*forward\s+\.\s+\S+(\s*\{[^}]*\})?\s*\n/m, '');
}

/** A DNS question asked from a node with bash's /dev/udp (the node image has no dig). */
async function nodeDns(
  exec: KindCluster['exec'],
  node: string,
  server: string,
  name: string,
  type: 'A' | 'AAAA',
): Promise<{ rcode: string; answers: string[] } | string> {
  const q = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
  const hex = [...q].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  // One write, one datagram: printf would write the query in pieces.
  const r = await exec(node, [
    'bash',
    '-c',
    `q=$(mktemp) && printf '${hex}' > "$q" && exec 3<>/dev/udp/${server}/53 && cat "$q" ` +
      `>&3 && rm -f "$q" && timeout 2 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1`,
  ]);
  const bytes = r.output
    .trim()
    .split(/\s+/)
    .filter((h) => /^[0-9a-f]{2}$/.test(h));
  if (r.exitCode !== 0 || bytes.length < 12) return `no answer from ${server} (exit ${r.exitCode}: ${r.output.trim().slice(0, 200)})`;
  const p = dnsPacket.decode(Buffer.from(bytes.map((h) => parseInt(h, 16)))) as { rcode?: string; answers?: { data?: unknown }[] };
  return { rcode: p.rcode ?? '?', answers: (p.answers ?? []).map((a) => String(a.data)) };
}

async function poll<T>(what: string, deadlineMs: number, fn: () => Promise<T | undefined>, last: () => string): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`kind: timed out after ${deadlineMs / 1000} s waiting for ${what}; last seen: ${last()}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function startKind(o: KindOptions): Promise<KindCluster> {
  const log = o.log ?? ((l: string) => process.stderr.write(`[kind] ${l}\n`));
  if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(o.name))
    throw new Error(`kind: cluster name '${o.name}' must be lower-case letters, digits and dashes`);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 5) throw new Error(`kind: nodes must be 1 to 5 (got ${o.nodes})`);
  const family = o.ipFamily ?? 'ipv4';
  if (!IP_FAMILIES.includes(family)) throw new Error(`kind: ipFamily must be ${IP_FAMILIES.join(', ')} (got ${String(family)})`);
  const net = familyNetworking(family);
  const withV6 = family !== 'ipv4';
  if (!dockerOk(['version']))
    throw new Error('kind: no Docker engine answers: start Docker (on this machine: cluster/kind/docker.sh start)');
  if (!dockerOk(['image', 'inspect', o.image]))
    throw new Error(
      `kind: node image ${o.image} is not on this Docker host: build ours with ` +
        `cluster/kind/node-image.sh, or 'docker pull' an official kindest/node image first`,
    );
  decideRyuk(log);
  fs.mkdirSync(o.workDir, { recursive: true });
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string, since: number): void => {
    timings[k] = Math.round((Date.now() - since) / 100) / 10;
  };
  let network: StartedNetwork | undefined;
  const started: StartedTestContainer[] = [];
  const names = Array.from({ length: o.nodes }, (_, i) => (i === 0 ? `${o.name}-control-plane` : `${o.name}-worker${i === 1 ? '' : i}`));

  const teardown = async (): Promise<TeardownReport> => {
    const s = Date.now();
    await Promise.allSettled(started.map((c) => c.stop({ timeout: 1, removeVolumes: true })));
    if (network) await network.stop().catch(() => undefined);
    const left = sweep(o.name);
    fs.rmSync(o.workDir, { recursive: true, force: true });
    return { seconds: Math.round((Date.now() - s) / 100) / 10, left };
  };
  const byName = new Map<string, StartedTestContainer>();
  const exec: KindCluster['exec'] = async (node, cmd) => {
    const c = byName.get(node);
    if (!c) throw new Error(`kind: no node ${node}`);
    const r = await c.exec(cmd);
    return { exitCode: r.exitCode, output: r.output };
  };
  const must = async (node: string, cmd: string[], what: string): Promise<string> => {
    const r = await exec(node, cmd);
    if (r.exitCode !== 0)
      throw new Error(`kind: ${what} failed on ${node} (exit ${r.exitCode}):\n${r.output.trim().split('\n').slice(-25).join('\n')}`);
    return r.output;
  };

  try {
    let s = Date.now();
    // The network, made through testcontainers' client so that it carries our label (the
    // sweep finds it) as kind's network does its own; a bridge with masquerade, as kind's.
    // With IPv6 (ipv6, dual) it also has a ULA /64 from the cluster name, as kind's; Docker
    // gives it an IPv4 subnet from its pool as well, as for any network. A user network with
    // IPv6 needs no daemon setting (Docker 20.10 and later); without --ip6tables Docker
    // writes no IPv6 NAT or isolation rules for it, which the nodes (one bridge) do not need.
    const client = await getContainerRuntimeClient();
    const netName = `svc-kind-${o.name}`;
    const create = (attempt: number): ReturnType<typeof client.network.create> =>
      client.network.create({
        Name: netName,
        Driver: 'bridge',
        CheckDuplicate: true,
        Options: { 'com.docker.network.bridge.enable_ip_masquerade': 'true' },
        Labels: { [KIND_LABEL]: o.name },
        ...(withV6 ? { EnableIPv6: true, IPAM: { Driver: 'default', Config: [{ Subnet: ulaSubnet(o.name, attempt) }] } } : {}),
      });
    let dnet: Awaited<ReturnType<typeof create>> | undefined;
    // As kind: another subnet when the name's first one overlaps a network already there.
    for (let attempt = 0; !dnet; attempt++)
      try {
        dnet = await create(attempt);
      } catch (e) {
        if (!withV6 || attempt >= 4 || !/overlap/i.test((e as Error).message)) throw e;
      }
    network = new StartedNetwork(client, netName, dnet);
    log(`network ${network.getName()}${withV6 ? ` (${family})` : ''}; starting ${o.nodes} node container(s) from ${o.image}`);
    const cs = await Promise.all(
      names.map((n, i) => new KindNode(o.image, n, i === 0 ? 'control-plane' : 'worker', o.name, network!, withV6).start()),
    );
    cs.forEach((c, i) => {
      started.push(c);
      byName.set(names[i]!, c);
    });
    mark('containers', s);
    const cp = names[0]!;
    const ips = cs.map((c) => c.getIpAddress(network!.getName()));
    // The IPv6 address is not in what testcontainers keeps of the container: inspected.
    const ip6s = withV6
      ? await Promise.all(
          cs.map(async (c, i) => {
            const info = await client.container.inspect(client.container.getById(c.getId()));
            const a = info.NetworkSettings.Networks[netName]?.GlobalIPv6Address;
            if (!a) throw new Error(`kind: node ${names[i]} has no IPv6 address on ${netName}; does this Docker host have IPv6?`);
            return a;
          }),
        )
      : [];
    // kubelet's node-ip: as kind, the first family's address first.
    const nodeIps = ips.map((v4, i) => (family === 'ipv6' ? ip6s[i]! : family === 'dual' ? `${v4},${ip6s[i]!}` : v4));
    // The control plane's endpoint: its name, or its IPv6 address on IPv6 clusters.
    const cpHost = family === 'ipv6' ? ip6s[0]! : cp;
    const k8sVersion = (await must(cp, ['cat', '/kind/version'], 'reading /kind/version')).trim();
    const imagesFile = await exec(cp, ['cat', '/kind/svc-images.json']);
    const svcImages = imagesFile.exitCode === 0 ? (JSON.parse(imagesFile.output) as SvcImages) : undefined;
    const cgroupV1 = (await exec(cp, ['test', '-e', '/sys/fs/cgroup/cgroup.controllers'])).exitCode !== 0;
    const bnd = /CapBnd:\s*([0-9a-f]+)/.exec(await must(cp, ['cat', '/proc/1/status'], 'reading capabilities'))?.[1] ?? 'ffffffffff';
    const lacksSysResource = ((BigInt(`0x${bnd}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) === 0n;
    await Promise.all(
      names.map(async (n, i) => {
        if (lacksSysResource) {
          // As kind does for rootless: containerd clamps oom_score_adj instead of asking runc
          // for a negative one, which needs CAP_SYS_RESOURCE (docs/kind.md, "The entrypoint on a
          // cgroup v1 host, and CAP_SYS_RESOURCE"). Host-specific.
          await must(
            n,
            [
              'bash',
              '-c',
              'sed -i "s/restrict_oom_score_adj = false/restrict_oom_score_adj = true/" /etc/containerd/config.toml && systemctl restart containerd',
            ],
            'patching containerd (restrict_oom_score_adj)',
          );
        }
        await cs[i]!.copyContentToContainer([
          {
            content: v1beta4({
              cluster: o.name,
              cp: cpHost,
              ip: nodeIps[i]!,
              node: n,
              ipFamily: family,
              init: i === 0,
              proxyMode: o.cilium ? 'none' : o.proxyMode,
              cgroupV1,
              images: svcImages,
              k8sVersion,
              zone: `zone-${i + 1}`,
            }),
            target: '/kind/kubeadm.conf',
          },
        ]);
      }),
    );
    if (lacksSysResource)
      log('the node containers lack CAP_SYS_RESOURCE (this host): containerd restricts oom_score_adj, as kind does for rootless');

    if (o.cilium) {
      s = Date.now();
      await Promise.all(names.map((n) => Promise.all(o.cilium!.images.map((t) => importArchive(n, t)))));
      mark('ciliumImages', s);
      log(`Cilium ${o.cilium.version}: images imported into every node in ${timings.ciliumImages} s`);
    }
    s = Date.now();
    log(
      `kubeadm init on ${cp} (${nodeIps[0]}), Kubernetes ${k8sVersion}${cgroupV1 ? ', cgroup v1 (failCgroupV1: false)' : ''}` +
        `${o.cilium ? ', no kube-proxy' : ''}`,
    );
    await must(cp, ['kubeadm', 'init', '--config=/kind/kubeadm.conf', '--skip-token-print', '--v=6'], 'kubeadm init');
    mark('kubeadmInit', s);
    const kubectl = (args: string[], what: string): Promise<string> =>
      must(cp, ['kubectl', '--kubeconfig=/etc/kubernetes/admin.conf', ...args], what);

    // installcni: the node image's manifest, templated and patched as kind does (§2); or
    // Cilium's chart, rendered for the control plane's first address (as Cilium's
    // kube-proxy-free install says: nothing serves the kubernetes Service before it).
    let cni = o.cilium
      ? o.cilium.render(nodeIps[0]!.split(',')[0]!, 6443, family, k8sVersion)
      : await must(cp, ['cat', '/kind/manifests/default-cni.yaml'], 'reading the default CNI manifest');
    // kind renders {{ .PodSubnet }} with its networking.podSubnet: a comma-separated pair for dual.
    if (cni.includes('would you kindly template this file')) cni = cni.replaceAll('{{ .PodSubnet }}', net.podSubnet);
    if (cni.includes('would you kindly patch this file')) {
      type Ds = { kind?: string; spec: { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } } };
      const docs = yaml.loadAll(cni) as (Ds | null)[];
      for (const d of docs)
        if (d?.kind === 'DaemonSet')
          (d.spec.template.spec.containers[0]!.env ??= []).push({ name: 'CONTROL_PLANE_ENDPOINT', value: hostPort(cpHost, 6443) });
      cni = docs
        .filter(Boolean)
        .map((d) => yaml.dump(d))
        .join('---\n');
    }
    await cs[0]!.copyContentToContainer([{ content: cni, target: '/kind/cni-rendered.yaml' }]);
    await kubectl(['create', '-f', '/kind/cni-rendered.yaml'], o.cilium ? 'installing Cilium' : 'installing the CNI');
    // installstorage: no default-storage.yaml in our image: kind's fallback, a host-path StorageClass.
    const storage = await exec(cp, ['test', '-f', '/kind/manifests/default-storage.yaml']);
    if (storage.exitCode === 0) await kubectl(['apply', '-f', '/kind/manifests/default-storage.yaml'], 'installing storage');

    s = Date.now();
    await Promise.all(names.slice(1).map((n) => must(n, ['kubeadm', 'join', '--config', '/kind/kubeadm.conf', '--v=6'], 'kubeadm join')));
    mark('kubeadmJoin', s);
    if (o.nodes === 1) {
      await kubectl(['taint', 'nodes', '--all', 'node-role.kubernetes.io/control-plane-'], 'untainting the control plane');
      await kubectl(
        ['label', 'nodes', '--all', 'node.kubernetes.io/exclude-from-external-load-balancers-'],
        'unlabelling the control plane',
      );
    }

    // No upstream: with our node image, the Corefile without its forward (withoutForward), then CoreDNS restarted.
    const cm = JSON.parse(
      await kubectl(['-n', 'kube-system', 'get', 'configmap', 'coredns', '-o', 'json'], 'reading the CoreDNS ConfigMap'),
    ) as { data: { Corefile: string } };
    // Our node image is for machines without an outside (like this one); an official image
    // keeps kubeadm's Corefile as kind users have it.
    const corefile = svcImages ? withoutForward(cm.data.Corefile) : cm.data.Corefile;
    if (corefile !== cm.data.Corefile) {
      await cs[0]!.copyContentToContainer([
        { content: JSON.stringify({ data: { Corefile: corefile } }), target: '/kind/coredns-patch.json' },
      ]);
      await kubectl(
        ['-n', 'kube-system', 'patch', 'configmap', 'coredns', '--type', 'merge', '--patch-file', '/kind/coredns-patch.json'],
        'removing forward from the Corefile',
      );
      await kubectl(['-n', 'kube-system', 'rollout', 'restart', 'deployment/coredns'], 'restarting CoreDNS');
    }

    s = Date.now();
    if (o.cilium) {
      // Each agent compiles its datapath (clang) before the node's network is ready.
      let lastCilium = '';
      await poll(
        'the Cilium agents and operator ready',
        300_000,
        async () => {
          const r = await exec(cp, [
            'bash',
            '-c',
            'kubectl -n kube-system rollout status daemonset/cilium --timeout=5s && ' +
              'kubectl -n kube-system rollout status deployment/cilium-operator --timeout=5s',
          ]);
          if (r.exitCode === 0) return true;
          const pods = await exec(cp, [
            'kubectl',
            '-n',
            'kube-system',
            'get',
            'pods',
            '-o',
            'wide',
            '--no-headers',
            '-l',
            'app.kubernetes.io/part-of=cilium',
          ]);
          lastCilium = `${r.output.trim().split('\n').slice(-1)[0] ?? ''}; pods:\n${pods.output.trim()}`;
          return undefined;
        },
        () => lastCilium,
      );
      mark('ciliumReady', s);
      log(`Cilium ready on every node in ${timings.ciliumReady} s`);
    }
    let lastNodes = '';
    await poll(
      `${o.nodes} node(s) Ready`,
      180_000,
      async () => {
        lastNodes = (await exec(cp, ['kubectl', 'get', 'nodes', '--no-headers'])).output.trim();
        const ready = lastNodes.split('\n').filter((l) => / Ready /.test(l)).length;
        return ready === o.nodes ? true : undefined;
      },
      () => lastNodes,
    );
    let lastRollout = '';
    await poll(
      'CoreDNS rolled out',
      180_000,
      async () => {
        const r = await exec(cp, ['kubectl', '-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=5s']);
        lastRollout = r.output.trim();
        return r.exitCode === 0 ? true : undefined;
      },
      () => lastRollout,
    );
    let lastDns = '';
    const fqdn = `kubernetes.default.svc.${DOMAIN}`;
    // The kubernetes Service is of the first family: AAAA on IPv6 clusters.
    const qtype = family === 'ipv6' ? 'AAAA' : 'A';
    await poll(
      `CoreDNS answering ${fqdn} (${qtype}) at ${net.dnsIP} from every node`,
      120_000,
      async () => {
        const rs = await Promise.all(names.map((n) => nodeDns(exec, n, net.dnsIP, fqdn, qtype)));
        lastDns = rs.map((r, i) => `${names[i]}: ${typeof r === 'string' ? r : `${r.rcode} [${r.answers.join(', ')}]`}`).join('; ');
        return rs.every((r) => typeof r !== 'string' && r.rcode === 'NOERROR' && r.answers.length === 1) ? true : undefined;
      },
      () => lastDns,
    );
    mark('ready', s);

    // Kubeconfig export (§5): the admin.conf, named kind-<name>, server on the mapped port.
    const port = cs[0]!.getMappedPort(6443);
    const apiServer = `https://127.0.0.1:${port}`;
    type Kubeconfig = {
      clusters: { name: string; cluster: { server: string } }[];
      users: { name: string }[];
      contexts: unknown[];
      'current-context': string;
    };
    const admin = yaml.load(await must(cp, ['cat', '/etc/kubernetes/admin.conf'], 'reading admin.conf')) as Kubeconfig;
    const ctx = `kind-${o.name}`;
    admin.clusters[0]!.name = ctx;
    admin.clusters[0]!.cluster.server = apiServer;
    admin.users[0]!.name = ctx;
    admin.contexts = [{ name: ctx, context: { cluster: ctx, user: ctx } }];
    admin['current-context'] = ctx;
    const kubeconfig = path.join(o.workDir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, yaml.dump(admin), { mode: 0o600 });
    let profile: string | undefined;
    if (svcImages) {
      profile = path.join(o.workDir, 'profile.json');
      fs.writeFileSync(
        profile,
        JSON.stringify(
          {
            name: ctx,
            kubeconfig,
            apiServer,
            kubernetesVersion: k8sVersion,
            nodes: o.nodes,
            proxyMode: o.cilium ? 'none' : o.proxyMode,
            ...(o.cilium ? { serviceProxy: 'cilium', serviceProxyVersion: o.cilium.version } : {}),
            clusterDomain: DOMAIN,
            // One range each (the profile's shape): the first family's.
            serviceCIDR: net.serviceSubnet.split(',')[0],
            dnsServiceIP: net.dnsIP,
            podCIDR: net.podSubnet.split(',')[0],
            coreDNSReplicas: 2,
            images: { probe: svcImages.probe, nodeTools: svcImages.nodeTools, pause: svcImages.sandboxImage, coredns: svcImages.coredns },
            ...(o.cilium ? {} : { kubeProxyVersion: k8sVersion }),
          },
          null,
          2,
        ),
      );
    }
    mark('total', t0);
    log(`up in ${timings.total} s: ${names.join(', ')}; KUBECONFIG=${kubeconfig}`);
    return {
      name: o.name,
      kubernetesVersion: k8sVersion,
      kubeconfig,
      profile,
      apiServer,
      network: network.getName(),
      ipFamily: family,
      svcImages,
      nodes: names.map((n, i) => ({
        name: n,
        role: i === 0 ? ('control-plane' as const) : ('worker' as const),
        ip: family === 'ipv6' ? ip6s[i]! : ips[i]!,
        ...(withV6 ? { ipv6: ip6s[i]! } : {}),
      })),
      timings,
      teardown,
      exec,
    };
  } catch (e) {
    const diag = started.length
      ? await exec(names[0]!, [
          'bash',
          '-c',
          o.cilium
            ? // Cilium's Pods say why they are not ready (an init step, the agent's start).
              'kubectl --kubeconfig=/etc/kubernetes/admin.conf -n kube-system logs -l app.kubernetes.io/part-of=cilium ' +
              '--all-containers --prefix --tail=15 --max-log-requests=20 2>&1 | tail -n 60'
            : 'systemctl --no-pager status kubelet containerd 2>&1 | tail -n 30',
        ])
          .then((r) => r.output)
          .catch(() => '')
      : '';
    const r = await teardown();
    throw new Error(
      `${(e as Error).message}${diag ? `\n--- ${names[0]}: ${o.cilium ? "Cilium's logs" : 'kubelet/containerd'} ---\n${diag.trim()}` : ''}\n(everything ` +
        `started was removed in ${r.seconds} s${r.left.length ? `; left: ${r.left.join(', ')}` : ''})`,
      { cause: e },
    );
  }
}

/** Imports one of make_image's OCI archives into a node's containerd (as kind_import_oci in
 *  cluster/oci.sh, and `kind load image-archive`). */
function importArchive(node: string, archive: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', ['exec', '-i', node, 'ctr', '-n', 'k8s.io', 'images', 'import', '--all-platforms', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`kind: importing ${archive} into ${node} failed (exit ${code}): ${err.trim().slice(-400)}`)),
    );
    fs.createReadStream(archive).on('error', reject).pipe(p.stdin);
  });
}

export const defaultWorkDir = (name: string): string => path.join(os.tmpdir(), `svc-conformance-kind-${name}`);
