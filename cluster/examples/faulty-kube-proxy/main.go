// Command kube-proxy here is upstream kube-proxy with faults that can be switched on, for
// scripts/prove-failures.sh: each proxy check must fail on a proxy that breaks its rule.
// build.sh patches a copy of upstream's pkg/proxy sources (a writable copy of the module) so that each
// fault, named in --svc-fault=a,b, changes one decision; without the flag it is upstream.
//   local-everywhere         every endpoint counts as local (traffic policy Local ignored)
//   no-terminating-fallback  never fall back to serving-terminating endpoints
//   terminating-with-ready   serving-terminating endpoints are used with the ready ones
//   ignore-topology          zone hints (trafficDistribution) are ignored: any endpoint
//   no-conntrack-cleanup     stale UDP conntrack entries are never removed
//   no-output-hook           (iptables mode) no nat OUTPUT jump: the node's own traffic,
//                            host-network Pods included, is not proxied
//   affinity-no-timeout      ClientIP affinity lasts 10800 s whatever timeoutSeconds says
//   ignore-service-updates   changes to an existing Service are ignored (ports, type,
//                            affinity); new and deleted Services are not
//   ignore-recreated         a Service created under the name of a deleted one is ignored
//   first-port-only          only the first port of a Service is served (outside kube-system)
//   ignore-ipv6              the IPv6 proxier ignores every Service outside kube-system and
//                            default (the API server's Service, which CoreDNS needs):
//                            a dual-stack or IPv6 cluster's IPv6 ClusterIPs are not served
//   ipvs-no-bind             (ipvs mode) a Service's virtual server is made but its address
//                            is not put on kube-ipvs0 (outside kube-system and default): the
//                            ClusterIP is not local, so IPVS never sees its packets
package main

import (
	"os"
	"strings"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	args := []string{os.Args[0]}
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--svc-fault="); ok {
			os.Setenv("SVC_PROXY_FAULT", v)
			continue
		}
		args = append(args, a)
	}
	os.Args = args
	os.Exit(cli.Run(proxy.NewProxyCommand()))
}
