// The privileged profile (opt-in, SVC_PRIVILEGED=1): what the Service proxy programs on
// every node. A ClusterIP Service gets its rule leading to exactly its ready endpoints; a
// headless Service gets nothing; a Service without endpoints gets the reject entry.
// kube-proxy's iptables, nftables and ipvs modes are read by a host-network probe (ipvs:
// /proc/net/ip_vs and the addresses on kube-ipvs0, on VM nodes of the bundled cluster);
// Cilium's kube-proxy replacement in its agent on the node (the datapath's service map,
// `cilium-dbg bpf lb list`, and the agent's services, `cilium-dbg service list`). Other
// clusters skip with their reason. Not a conformance test in the Kubernetes sense (it knows
// these implementations and needs host network).
import { familyOf, hostPort, type IpFamily } from '../helpers/lib/net.ts';
import { apply, applyObjects, loadManifest, defaultVars } from '../helpers/cluster/apply.ts';
import { execIn, schedulableNodes, hostnameLabel } from '../helpers/cluster/probe.ts';
import { kube } from '../helpers/cluster/kube.ts';
import {
  iptablesService,
  ipvsService,
  nftService,
  ciliumService,
  parseCiliumBpfLb,
  parseCiliumServiceList,
  parseIpAddrShow,
  parseIptablesSave,
  parseIpvsProc,
  parseNftJson,
  servicePortName,
  svcChainName,
} from '../helpers/lib/proxy-rules.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows } from '../helpers/harness/verdict.ts';
import { detected, nodeToolsImage } from '../helpers/config/target.ts';
import { converge } from '../helpers/cluster/converge.ts';
import { podsReady, rolloutReady, serviceFamilies, type PodState } from '../helpers/cluster/workloads.ts';

/** kube-proxy's mode, or 'cilium' for Cilium's kube-proxy replacement (kube-proxy absent). */
const mode = (): string =>
  detected().kubeProxy === 'absent' && detected().serviceProxy?.name === 'cilium' ? 'cilium' : detected().proxyMode;
// Every check here needs the same: when the run cannot meet it, no namespace is made and
// each check is a structured skip with the reason (helpers/harness/check.ts).
const { ctx, check } = defineSuite('proxy-rules', {
  probes: 1,
  podSecurity: 'privileged',
  requires: ['privileged', 'proxy-rules-readable'],
});

interface Tool {
  pod: string;
  node: string;
  /** Cilium's agent on the node (kube-system), where the datapath is read. */
  agent?: string;
}
interface View {
  rule: boolean;
  chainOk: boolean;
  endpoints: string[];
  reject: boolean;
  mentions: number;
  inClusterIPs?: boolean;
}

describe(
  () =>
    mode() === 'cilium' ? "Cilium's service map on every node (kube-proxy replacement)" : `kube-proxy rules on every node (${mode()} mode)`,
  () => {
    let tools: Tool[] = [];
    let web: PodState[] = [];
    /** web-api's virtual IPs: one per family (both on a dual-stack cluster). */
    let vips: string[] = [];

    const sh = async (tool: Tool, cmd: string): Promise<string> => {
      const r = await execIn(ctx.ns, tool.pod, 'tools', ['/bin/sh', '-c', cmd]);
      if (r.exitCode !== 0) throw new Error(`'${cmd}' on ${tool.node} exited ${r.exitCode}: ${r.stderr}`);
      return r.stdout;
    };
    /** A cilium-dbg command in the node's agent. */
    const agent = async (tool: Tool, args: string[]): Promise<string> => {
      if (!tool.agent) throw new Error(`no Cilium agent Pod on ${tool.node} (k8s-app=cilium in kube-system)`);
      const r = await execIn('kube-system', tool.agent, 'cilium-agent', ['cilium-dbg', ...args]);
      if (r.exitCode !== 0)
        throw new Error(`'cilium-dbg ${args.join(' ')}' in ${tool.agent} on ${tool.node} exited ${r.exitCode}: ${r.stderr}`);
      return r.stdout;
    };
    // Rules are read in the family of the address they are for: IPv6 rules are in ip6tables
    // and nftables' ip6 table, and kube-proxy syncs each family on its own. Cilium has no
    // sync to wait for: its service map is read as the datapath has it.
    const syncedSince = async (tool: Tool, since: number, family: IpFamily): Promise<boolean> => {
      if (mode() === 'cilium') return true;
      const metrics = await sh(tool, 'curl -sf http://127.0.0.1:10249/metrics');
      // Labelled by family where kube-proxy runs both (and in later versions always).
      const line = metrics
        .split('\n')
        .filter((l) => l.startsWith('kubeproxy_sync_proxy_rules_last_timestamp_seconds'))
        .find((l) => !l.includes('ip_family=') || l.includes(`ip_family="${family}"`));
      const m = line ? /\s(\S+)$/.exec(line) : null;
      return m ? Number(m[1]) * 1000 > since : false;
    };
    /** What the node programs for a Service port, in the family of `ip` (or `family`, for a
     *  headless Service's 'None'). `podIPs`: the Service's endpoints, by which IPVS (whose
     *  virtual servers carry no Service name) finds a headless Service's mentions. */
    const view = async (
      tool: Tool,
      ns: string,
      name: string,
      portName: string,
      ip: string,
      port: number,
      podIPs: string[] = [],
      family: IpFamily = familyOf(ip),
    ): Promise<View> => {
      const spn = servicePortName(ns, name, portName);
      ctx.evidence.family('rules', family);
      if (mode() === 'cilium') {
        const [lb, svcs] = await Promise.all([
          agent(tool, ['bpf', 'lb', 'list', '-o', 'json']),
          agent(tool, ['service', 'list', '-o', 'json']),
        ]);
        const s = ciliumService(parseCiliumBpfLb(lb), parseCiliumServiceList(svcs), ns, name, ip, 'tcp', port, podIPs);
        return {
          rule: Boolean(s.frontend) && s.frontend!.flags.includes('ClusterIP'),
          // The frontend is the agent's service for this Service (its reverse-NAT id).
          chainOk: s.service?.namespace === ns && s.service.name === name,
          endpoints: s.endpoints,
          // No backend: Cilium answers a connection with ICMP unreachable (its default
          // service-no-backend-response, reject), as kube-proxy's reject rule does.
          reject: Boolean(s.frontend) && s.endpoints.length === 0,
          mentions: s.mentions,
        };
      }
      if (mode() === 'ipvs') {
        const [proc = '', addrs = ''] = (await sh(tool, 'cat /proc/net/ip_vs; echo ---; ip -o addr show dev kube-ipvs0')).split('\n---\n');
        const virtuals = parseIpvsProc(proc);
        const s = ipvsService(virtuals, parseIpAddrShow(addrs), ip, 'tcp', port);
        return {
          rule: Boolean(s.virtual),
          // The VIP must be local (on kube-ipvs0) for IPVS to see the packets.
          chainOk: s.onDummy,
          endpoints: s.endpoints,
          // No real server: the kernel answers a connection with ICMP port unreachable (when the
          // VIP is local, so that IPVS sees the packet at all).
          reject: Boolean(s.virtual) && s.virtual!.reals.length === 0 && s.onDummy,
          mentions: virtuals.filter((v) => v.reals.some((r) => podIPs.includes(r.address))).length,
        };
      }
      if (mode() === 'iptables') {
        const save = family === 'IPv6' ? 'ip6tables-save' : 'iptables-save';
        const s = iptablesService(parseIptablesSave(await sh(tool, `${save} -t nat; ${save} -t filter`)), spn, ip, port);
        return {
          rule: Boolean(s.clusterIPRule),
          chainOk: s.clusterIPRule?.target === svcChainName(spn, 'tcp'),
          endpoints: s.endpoints,
          reject: Boolean(s.rejectRule),
          mentions: s.mentions.length,
        };
      }
      const s = nftService(
        parseNftJson(await sh(tool, `nft -j list table ${family === 'IPv6' ? 'ip6' : 'ip'} kube-proxy`)),
        ns,
        name,
        ip,
        'tcp',
        port,
      );
      return {
        rule: Boolean(s.serviceIPsElement),
        chainOk: Boolean(s.serviceIPsElement?.value.includes(`-${ns}/${name}/tcp/${portName}`)),
        endpoints: s.endpoints,
        reject: Boolean(s.noEndpointElement),
        mentions: s.chains.length + (s.serviceIPsElement ? 1 : 0) + (s.noEndpointElement ? 1 : 0),
        inClusterIPs: s.inClusterIPs,
      };
    };
    /** Converges (within the proxy bound, from `since`) until every node's kube-proxy has
     *  synced the family after `since` and its rules satisfy ok. Returns the ms taken. */
    const onEveryNode = async (
      what: string,
      since: number,
      family: IpFamily,
      read: (tool: Tool) => Promise<View>,
      ok: (v: View) => boolean,
    ): Promise<number> => {
      type NodeView = { node: string; synced: boolean; view?: View; error?: string };
      // A node is right when its kube-proxy synced after the change and its rules satisfy ok.
      const right = (v: NodeView): boolean => v.synced && v.view !== undefined && ok(v.view);
      const done = await converge<NodeView[]>(
        `${what} on every node`,
        async () => {
          // A node whose kube-proxy cannot be read is a wrong state of that node (its error
          // shown), not a failed look at every node.
          const views = await Promise.all(
            tools.map(async (tool): Promise<NodeView> => {
              try {
                return { node: tool.node, synced: await syncedSince(tool, since, family), view: await read(tool) };
              } catch (e) {
                return { node: tool.node, synced: false, error: (e as Error).message };
              }
            }),
          );
          return { ok: views.every(right), state: views };
        },
        // Right on some node: the change has arrived (at that node's proxy), and a node
        // still wrong at the bound is wrong, not slow.
        {
          kind: 'Service proxy',
          since,
          intervalMs: 200,
          arrived: (views) => views.some(right),
        },
      );
      return done.ms;
    };

    // The node-tools Pods, once, before the first check reads the nodes.
    const toolsReady = once(async () => {
      const nodes = await schedulableNodes();
      // Cilium's agents, by node.
      const agents =
        mode() === 'cilium'
          ? new Map(
              (await kube().core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=cilium' })).items.map((p) => [
                p.spec?.nodeName ?? '',
                p.metadata?.name ?? '',
              ]),
            )
          : new Map<string, string>();
      tools = nodes.map((n, i) => ({ pod: `node-tools-${i}`, node: n.metadata!.name!, agent: agents.get(n.metadata!.name!) }));
      await Promise.all(
        nodes.map((n, i) =>
          apply(ctx.ns, 'probe/node-tools.yaml', {
            NAME: `node-tools-${i}`,
            NODE: hostnameLabel(n),
            NODE_TOOLS_IMAGE: nodeToolsImage(),
          }),
        ),
      );
      await podsReady(
        ctx.ns,
        tools.map((x) => x.pod),
        120_000,
      );
    });

    check({
      id: 'rules.kube-proxy.mode',
      level: 'required',
      claim: 'kube-proxy reports the expected mode at /proxyMode on every node',
      source: src.vipDoc('proxy modes', '#proxy-modes'),
      requires: ['privileged', 'kube-proxy', 'proxy-rules-readable'],
      run: async () => {
        await toolsReady();
        const modes = await Promise.all(
          tools.map(async (tool) => ({ node: tool.node, mode: (await sh(tool, 'curl -sf http://127.0.0.1:10249/proxyMode')).trim() })),
        );
        expectRows(
          {
            what: `kube-proxy runs in the mode read from kube-system/kube-proxy (${mode()}) on every node`,
            target: 'http://127.0.0.1:10249/proxyMode',
            protocol: 'http (host network)',
          },
          modes.map((m, i) => ({ client: tools[i]!.pod, node: m.node, expected: mode(), observed: m.mode })),
        );
      },
    });

    check({
      id: 'rules.cilium.kube-proxy-replacement',
      level: 'required',
      claim: "Cilium's agent on every node reports its kube-proxy replacement on, socket load balancing included",
      source: src.ciliumKpr(),
      requires: ['privileged', 'cilium', 'proxy-rules-readable'],
      run: async () => {
        await toolsReady();
        type Kpr = { mode?: string; features?: { socketLB?: { enabled?: boolean } } };
        const states = await Promise.all(
          tools.map(async (tool) => {
            const st = JSON.parse(await agent(tool, ['status', '-o', 'json'])) as { 'kube-proxy-replacement'?: Kpr };
            const k = st['kube-proxy-replacement'];
            return `kube-proxy-replacement ${k?.mode ?? 'absent'}, socket LB ${k?.features?.socketLB?.enabled ? 'on' : 'off'}`;
          }),
        );
        expectRows(
          {
            what: "Cilium's kube-proxy replacement is on in every node's agent (cilium-dbg status: mode True, socket LB enabled)",
            target: 'cilium-dbg status -o json',
            protocol: 'exec (the agent Pod)',
          },
          states.map((observed, i) => ({
            client: tools[i]!.agent ?? '(no agent)',
            node: tools[i]!.node,
            expected: 'kube-proxy-replacement True, socket LB on',
            observed,
          })),
        );
      },
    });

    const objs = (): ReturnType<typeof loadManifest> => loadManifest('web-api.yaml', { ...defaultVars(), REPLICAS: 3 });
    const backends = once(async () => {
      await applyObjects(
        ctx.ns,
        objs().filter((o) => o.kind === 'Deployment'),
      );
      web = await rolloutReady(ctx.ns, 'Deployment', 'web-api', 3);
    });
    const service = async (): Promise<void> => {
      await applyObjects(
        ctx.ns,
        objs().filter((o) => o.kind === 'Service'),
      );
      vips = await ctx.virtualIPs('rules', 'web-api');
    };

    check({
      id: 'rules.clusterip.rule',
      level: 'required',
      claim: 'a ClusterIP Service gets its rule, leading to exactly its ready endpoints, on every node (time to the rule measured)',
      source: src.vipDoc('proxy modes', '#proxy-modes'),
      requires: ['privileged', 'proxy-rules-readable'],
      run: async () => {
        await Promise.all([toolsReady(), backends()]);
        const changed = Date.now();
        await service();
        await ctx.slicesSettled(
          'rule-clusterip',
          'web-api',
          web.flatMap((p) => p.ips),
          changed,
        );
        // Each family's rule, leading to the endpoints of that family.
        for (const vip of vips) {
          const fam = familyOf(vip);
          const want = web
            .flatMap((p) => p.ips)
            .filter((ip) => familyOf(ip) === fam)
            .map((ip) => hostPort(ip, 8080))
            .sort();
          const ms = await onEveryNode(
            `the rule for ${ctx.ns}/web-api:http at ${vip}`,
            changed,
            fam,
            (tool) => view(tool, ctx.ns, 'web-api', 'http', vip, 80),
            (v) => v.rule && v.chainOk && v.endpoints.join() === want.join() && v.inClusterIPs !== false,
          );
          ctx.evidence.measure(
            'rule-clusterip',
            `proxy rules: from the Service change to its rule on every node (${fam})`,
            ms,
            'ms',
            true,
            {
              kind: 'proxy rules',
              converged: true,
            },
          );
          const v0 = await view(tools[0]!, ctx.ns, 'web-api', 'http', vip, 80);
          ctx.evidence.info('rule-clusterip', `${mode()} ${fam}: ${JSON.stringify(v0)}`);
        }
      },
    });

    check({
      id: 'rules.headless.none',
      level: 'required',
      claim: 'a headless Service gets no rule, chain or element at all',
      source: src.serviceDoc('headless Services', '#headless-services'),
      requires: ['privileged', 'proxy-rules-readable'],
      run: async () => {
        await Promise.all([toolsReady(), backends()]);
        await apply(ctx.ns, 'grpc-backend.yaml', { REPLICAS: 2 });
        const pods = await rolloutReady(ctx.ns, 'Deployment', 'grpc-backend', 2);
        await ctx.slicesSettled(
          'rule-headless',
          'grpc-backend',
          pods.flatMap((p) => p.ips),
        );
        // kube-proxy never sees a headless Service, so nothing syncs for it: a ClusterIP
        // marker Service created afterwards shows that every node has caught up.
        const marker = Date.now();
        await applyObjects(ctx.ns, [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'marker' },
            spec: {
              ipFamilyPolicy: 'PreferDualStack',
              selector: { app: 'web-api' },
              ports: [{ name: 'http', port: 80, targetPort: 8080 }],
            },
          } as never,
        ]);
        // In every family the headless Service has (its slices are in those families).
        for (const mvip of await ctx.virtualIPs('rules', 'marker'))
          await onEveryNode(
            `the marker Service's rule at ${mvip}`,
            marker,
            familyOf(mvip),
            (tool) => view(tool, ctx.ns, 'marker', 'http', mvip, 80),
            (v) => v.rule && v.endpoints.length > 0,
          );
        const listed = (await serviceFamilies(ctx.ns, 'grpc-backend')) as IpFamily[];
        const families = listed.length ? listed : ctx.families();
        const views = await Promise.all(
          tools.flatMap((tool) =>
            families.map(async (fam) => ({
              node: `${tool.node} (${fam})`,
              mentions: (
                await view(
                  tool,
                  ctx.ns,
                  'grpc-backend',
                  'grpc',
                  'None',
                  50051,
                  pods.flatMap((p) => p.ips),
                  fam,
                )
              ).mentions,
            })),
          ),
        );
        expectRows(
          {
            what:
              mode() === 'cilium'
                ? `Cilium programs nothing for a headless Service (no frontend of the agent's service ${ctx.ns}/grpc-backend, none with a backend at its Pods)`
                : `kube-proxy programs nothing for a headless Service (${mode()} rules and chains naming ${ctx.ns}/grpc-backend, or virtual servers to its Pods)`,
            target: `the ${mode()} rules of the node`,
            protocol: 'exec (host network)',
          },
          views.map((v, i) => ({ client: tools[Math.floor(i / families.length)]!.pod, node: v.node, expected: 0, observed: v.mentions })),
        );
      },
    });

    check({
      id: 'rules.clusterip.reject',
      level: 'required',
      claim: 'a ClusterIP Service with 0 endpoints gets the reject entry on every node',
      source: src.vipDoc('proxy modes', '#proxy-modes'),
      requires: ['privileged', 'proxy-rules-readable'],
      run: async () => {
        await Promise.all([toolsReady(), backends()]);
        await service();
        const changed = Date.now();
        await apply(ctx.ns, 'web-api.yaml', { REPLICAS: 0 });
        await rolloutReady(ctx.ns, 'Deployment', 'web-api', 0);
        await ctx.slicesSettled('rule-reject', 'web-api', [], changed);
        for (const vip of vips) {
          const ms = await onEveryNode(
            `the reject entry for ${ctx.ns}/web-api:http at ${vip}`,
            changed,
            familyOf(vip),
            (tool) => view(tool, ctx.ns, 'web-api', 'http', vip, 80),
            (v) => v.reject && v.endpoints.length === 0,
          );
          ctx.evidence.measure('rule-reject', `proxy rules: the reject entry on every node (${familyOf(vip)})`, ms, 'ms', true, {
            kind: 'proxy rules',
            converged: true,
          });
        }
      },
    });
  },
);
