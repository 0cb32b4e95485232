#!/usr/bin/env bash
# The cross-check of the kind node image: the real kind CLI (v0.33.0, built by
# cluster/build.sh --kind) creates a cluster from our node image, and the default profile
# runs against its kubeconfig. It proves the image is a kind node image, not a look-alike.
# Usage: scripts/kind-cli-check.sh [--nodes N] [--report-dir DIR]   (Docker must answer)
# Host-specific settings, only where this host needs them: failCgroupV1: false on a cgroup v1
# host; restrict_oom_score_adj where Docker's containers lack CAP_SYS_RESOURCE. Both go in
# through kind's own config (kubeadmConfigPatches, containerdConfigPatches).
set -euo pipefail
cd "$(dirname "$0")/.."
source cluster/lib.sh
load_config
nodes=3 report=reports/kind-cli
while [ $# -gt 0 ]; do case $1 in --nodes) nodes=$2; shift 2 ;; --report-dir) report=$2; shift 2 ;; *) echo "usage: $0 [--nodes N] [--report-dir DIR]" >&2; exit 2 ;; esac; done
KIND="$CACHE_DIR/bin/kind-$KIND_VERSION/kind"
[ -x "$KIND" ] || bash cluster/build.sh --kind
image=$(bash cluster/kind/node-image.sh | tail -n 1)
name=svc-kind-cli-$$   # its own name: a cleanup never deletes another run's cluster
created=0
work=$(mktemp -d)
net_existed=0; docker network inspect kind >/dev/null 2>&1 && net_existed=1
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  [ "$created" = 0 ] || "$KIND" delete cluster --name "$name" >/dev/null 2>&1 || true
  # kind leaves its network behind; remove it when this run made it and nothing else uses it.
  if [ "$net_existed" = 0 ] && [ -z "$(docker network inspect kind -f '{{range .Containers}}x{{end}}' 2>/dev/null)" ]; then docker network rm kind >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
svc=$(docker run --rm --entrypoint cat "$image" /kind/svc-images.json)
jv() { jq -r ".$1" <<<"$svc"; }
cgroup_v1=0; [ -e /sys/fs/cgroup/cgroup.controllers ] || cgroup_v1=1
no_sys_resource=0; bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status))); (( (bnd >> 24) & 1 )) || no_sys_resource=1
{
  echo "kind: Cluster"
  echo "apiVersion: kind.x-k8s.io/v1alpha4"
  echo "nodes:"; echo "- role: control-plane"
  for ((i = 1; i < nodes; i++)); do echo "- role: worker"; done
  echo "kubeadmConfigPatches:"
  printf -- '- |\n  kind: ClusterConfiguration\n  imageRepository: %s\n  etcd: {local: {imageTag: "%s"}}\n  dns: {imageTag: "%s"}\n' "$(jv imageRepository)" "$(jv etcdImageTag)" "$(jv dnsImageTag)"
  [ $cgroup_v1 = 1 ] && printf -- '- |\n  kind: KubeletConfiguration\n  failCgroupV1: false\n'
  if [ $no_sys_resource = 1 ]; then
    printf 'containerdConfigPatches:\n- |\n  [plugins."io.containerd.grpc.v1.cri"]\n    restrict_oom_score_adj = true\n'
  fi
} > "$work/kind.yaml"
echo "kind-cli-check: kind $KIND_VERSION, image $image, $nodes node(s); config:"; sed 's/^/  /' "$work/kind.yaml"
t0=$(date +%s.%N)
created=1   # from here on, what exists of the cluster is ours to delete (kind removes a failed create itself)
"$KIND" create cluster --name "$name" --image "$image" --config "$work/kind.yaml" --kubeconfig "$work/kubeconfig" --wait 0s
K="$CACHE_DIR/bin/kubernetes-$K8S_VERSION/kubectl --kubeconfig $work/kubeconfig"
# No upstream here: the Corefile without its forward block (as the testcontainers provider does).
$K -n kube-system get configmap coredns -o json | jq '.data.Corefile |= (split("\n") | . as $l
  | reduce range(0; length) as $i ({out: [], skip: false}; if ($l[$i] | test("^\\s*forward \\. ")) then .skip = ($l[$i] | test("\\{\\s*$")) elif .skip then .skip = ($l[$i] | test("^\\s*}\\s*$") | not) else .out += [$l[$i]] end) | .out | join("\n"))' \
  | $K replace -f - >/dev/null
$K -n kube-system rollout restart deployment/coredns >/dev/null
$K wait --for=condition=Ready nodes --all --timeout=180s >/dev/null
$K -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null
echo "kind-cli-check: cluster ready in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
$K get nodes -o wide
rc=0
SVC_PROBE_IMAGE=$(jv probe) node_modules/.bin/node --no-warnings helpers/cli/cli.ts run \
  --kubeconfig "$work/kubeconfig" --profile default --outside-network kind --report-dir "$report" || rc=$?
echo "kind-cli-check: svc-conformance exit $rc; report $report/report.md"
exit $rc
