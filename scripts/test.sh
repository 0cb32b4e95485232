#!/usr/bin/env bash
# The test command (npm test): the unit tests, then `svc-conformance run` (the one run
# pipeline: helpers/cli/cli.ts) against the target cluster. Without KUBECONFIG the
# target is the bundled cluster, brought up first when it is not running (needs root), and
# the run goes as the ServiceAccount that manifests/rbac/ binds (least privilege);
# SVC_TARGET=kind makes it `run --kind` (a kind cluster started by testcontainers and
# removed at the end). SVC_PRIVILEGED=1 adds the privileged profile (kube-proxy rules on the
# nodes). On the bundled cluster, SVC_ALSO_ONE_NODE=1 runs the default profile again on a
# 1-node cluster (kind's default), SVC_ALSO_KIND=1 runs it on a 3-node kind cluster,
# SVC_ALSO_NFTABLES=1 runs the matrix iptables against nftables and NodeLocal DNSCache
# (examples/matrix/ci.yaml, privileged), SVC_ALSO_SCALE=1 the scale profile at 300 Services
# (--conformance-profile scale), SVC_ALSO_VM=1 the matrix of kube-proxy ipvs and
# kube-router on VM nodes (examples/matrix/ci-vm.yaml), SVC_ALSO_PROVE=1 the fast subset of
# the proof that checks can fail (scripts/prove-failures.sh --ci), SVC_ALSO_CILIUM=1 the matrix of
# Cilium's kube-proxy replacement on kind (examples/matrix/ci-cilium.yaml), SVC_ALSO_SHIP=1 makes the 1-node and kind runs from
# the packed npm package (Node 22 and 24) with the shipped forms' proofs (scripts/ship-e2e.sh:
# the image, the Job, the Sonobuoy plugin), and SVC_LIFECYCLE=1 runs the lifecycle suites last:
# bad input to `cluster up`, a second cluster with another domain, `down` leaving nothing,
# the matrix, the kind target (CI sets all of these). Each run's reports go to
# $SVC_REPORT_DIR/<run> (default reports/). The closing line counts every run's checks the
# same way `run` does; warnings (expected-level checks that failed) are listed above it and
# are not counted as passed.
#
# Extra arguments make it a developer's run instead: Jest directly on the unit and
# conformance suites they select (e.g. `npm test -- suites/headless.test.ts`).
set -uo pipefail
cd "$(dirname "$0")/.." || exit
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "test: run scripts/setup.sh (or npm ci) first" >&2; exit 2; }
REPORTS=${SVC_REPORT_DIR:-reports}
mkdir -p "$REPORTS"
jest() { env NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js "$@"; }
svc() { "$NODE" --no-warnings helpers/cli/cli.ts "$@"; }
if [ -n "${SVC_TARGET:-}" ] && [ "$SVC_TARGET" != bundled ] && [ "$SVC_TARGET" != kind ]; then echo "test: SVC_TARGET must be kind or bundled (got '$SVC_TARGET')" >&2; exit 2; fi
# The kind cluster the environment asks for: flags of helpers/targets/kind/cli.ts exec, and
# the same as flags of `svc-conformance run --kind` (--nodes is --kind-nodes, ...).
kind_exec_flags=(--nodes "${SVC_KIND_NODES:-3}" --ip-family "${SVC_KIND_IP_FAMILY:-ipv4}")
if [ "${SVC_KIND_PROXY:-kube-proxy}" = kube-proxy ]; then kind_exec_flags+=(--proxy-mode "${SVC_KIND_PROXY_MODE:-iptables}"); else kind_exec_flags+=(--proxy "$SVC_KIND_PROXY"); fi
[ -n "${SVC_KIND_IMAGE:-}" ] && kind_exec_flags+=(--image "$SVC_KIND_IMAGE")
kind_flags=(--kind "${kind_exec_flags[@]/#--/--kind-}")

bundled=0
if [ "${SVC_TARGET:-}" != kind ] && [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  bundled=1
  bash cluster/cluster.sh up || { echo "test: the bundled cluster did not come up (see above)" >&2; exit 3; }
fi

if [ $# -gt 0 ]; then
  # A developer's run: Jest on what the arguments select (on kind: inside `kind exec`).
  if [ "${SVC_TARGET:-}" = kind ]; then
    exec "$NODE" --no-warnings helpers/targets/kind/cli.ts exec "${kind_exec_flags[@]}" -- env -u SVC_TARGET bash scripts/test.sh "$@"
  fi
  jest --selectProjects unit cluster "$@"
  exit $?
fi

rc=0; units=(); runs=(); matrices=()
# run NAME [flags]: one `svc-conformance run`, its reports in $REPORTS/NAME.
run() { local dir="$REPORTS/$1"; shift; svc run --report-dir "$dir" "$@" || rc=$?; runs+=("$dir/results.json"); }
# The least-privilege kubeconfig of the bundled cluster (manifests/rbac/).
# Its token stays out of the reports (a temporary dir, removed at the end).
sa_dir=$(mktemp -d)
# The package's preparation runs in the background (below): stopped if this script ends first.
trap '[ -n "${prepare_pid:-}" ] && kill -TERM "$prepare_pid" 2>/dev/null; [ -n "${cilium_pid:-}" ] && kill -TERM "$cilium_pid" 2>/dev/null; rm -rf "$sa_dir"' EXIT
sa() { KUBECONFIG=/var/lib/svc-conformance/cluster/admin.conf bash scripts/sa-kubeconfig.sh "$@"; }
profile=default; [ "${SVC_PRIVILEGED:-0}" = 1 ] && profile=privileged

jest --selectProjects unit --json --outputFile="$REPORTS/jest-unit.json" || rc=$?
units+=("$REPORTS/jest-unit.json")

ship=${SVC_ALSO_SHIP:-0}
if [ "$ship" = 1 ] && [ $bundled = 1 ]; then
  # The packed package installed on Node 22 and 24, and its image: made once, in the
  # background while the main run goes (mostly downloads), for both shipped phases below.
  mkdir -p "$sa_dir/ship"
  SVC_SHIP_INSTALLS="$sa_dir/ship" bash scripts/ship-e2e.sh prepare >"$REPORTS/ship-prepare.log" 2>&1 &
  prepare_pid=$!
fi
if [ "${SVC_ALSO_CILIUM:-0}" = 1 ] && [ $bundled = 1 ]; then
  # Cilium for its kind column (below), built in the background at the lowest CPU priority
  # while the runs before it go (a cold build is Go compiles and downloads; warm, nothing).
  nice -n 19 bash cluster/cilium/cilium.sh build >"$REPORTS/cilium-build.log" 2>&1 &
  cilium_pid=$!
fi
# prepared: waits for the background preparation (once); fails when it failed.
prepared() {
  [ -n "${prepare_pid:-}" ] || return 0
  wait "$prepare_pid"; prepare_rc=$?; prepare_pid=
  cat "$REPORTS/ship-prepare.log"
  [ "$prepare_rc" = 0 ] || { echo "test: preparing the shipped package failed (above; $REPORTS/ship-prepare.log)" >&2; rc=1; }
  return "$prepare_rc"
}

if [ "${SVC_TARGET:-}" = kind ]; then
  run main "${kind_flags[@]}"
elif [ $bundled = 1 ]; then
  echo "test: the $profile profile as the ServiceAccount manifests/rbac/ binds"
  if kc=$(sa up "$sa_dir/main" "$profile"); then run main --kubeconfig "$kc" --profile "$profile"; else rc=3; echo "test: could not make the ServiceAccount's kubeconfig (see above)" >&2; fi
  sa down >/dev/null 2>&1
else
  run main
fi

if [ $bundled = 1 ] && [ "${SVC_RUNNER_TESTS:-1}" = 1 ]; then
  # The runner (CLI, preflight, reports, RBAC, cleanup) against the bundled cluster.
  jest --selectProjects runner --runInBand --json --outputFile="$REPORTS/jest-runner.json" || rc=$?
  units+=("$REPORTS/jest-runner.json")
fi
if [ "${SVC_ALSO_SCALE:-0}" = 1 ] && [ $bundled = 1 ]; then
  # The scale profile at a small size on the same 3-node cluster (suites/scale.test.ts; its
  # measures are informational: they fail the run only when they could not measure).
  # As the ServiceAccount manifests/rbac/ binds: the RBAC a Job in the cluster gets covers it.
  echo "test: the scale profile, 300 Services of 5 endpoints, as the ServiceAccount: svc-conformance run --conformance-profile scale --scale 300x5"
  if kc=$(sa up "$sa_dir/scale" "$profile"); then run scale --kubeconfig "$kc" --profile "$profile" --conformance-profile scale --scale 300x5 --quiet; else rc=3; echo "test: could not make the ServiceAccount's kubeconfig (see above)" >&2; fi
  sa down >/dev/null 2>&1
fi
# ship NAME MODE [kind exec options]: scripts/ship-e2e.sh, whose first run of the packed
# package (installed in an empty folder by the preparation above) is the whole default
# profile, reports in $REPORTS/NAME.
ship() {
  local name=$1 mode=$2; shift 2
  prepared || return
  if [ "$mode" = kind ]; then
    SHIP_FULL_RUN=$name SVC_REPORT_DIR=$REPORTS SVC_SHIP_INSTALLS="$sa_dir/ship" "$NODE" --no-warnings helpers/targets/kind/cli.ts exec "$@" -- bash scripts/ship-e2e.sh kind || rc=1
  else
    SHIP_FULL_RUN=$name SVC_REPORT_DIR=$REPORTS SVC_SHIP_INSTALLS="$sa_dir/ship" bash scripts/ship-e2e.sh bundled || rc=1
  fi
  runs+=("$REPORTS/$name/results.json")
}
if [ "${SVC_ALSO_ONE_NODE:-0}" = 1 ] && [ $bundled = 1 ]; then
  # kind's default: one node. The whole default profile again, on a 1-node cluster.
  # shellcheck disable=SC2015 # exit 3 if either down or up fails
  bash cluster/cluster.sh down && SVC_NODES=1 bash cluster/cluster.sh up || { echo "test: the 1-node cluster did not come up" >&2; exit 3; }
  if [ "$ship" = 1 ]; then
    # ... from the npm package on Node 22, with the shipped forms' proofs (scripts/ship-e2e.sh).
    echo "test: the default profile on a 1-node bundled cluster, from the packed package on Node 22, and the shipped forms"
    ship one-node bundled
  else
    echo "test: the default profile again, on a 1-node bundled cluster, as the ServiceAccount"
    if kc=$(sa up "$sa_dir/one-node" default); then run one-node --kubeconfig "$kc" --profile default; else rc=3; fi
    sa down >/dev/null 2>&1
  fi
fi
if [ "${SVC_ALSO_KIND:-0}" = 1 ] && [ $bundled = 1 ]; then
  # The default profile on a 3-node kind cluster (testcontainers), between bundled-cluster
  # runs (it needs nothing of the bundled cluster; beside its runs it only shared the two
  # cores: measured, the time it saved went to the slower runs beside it).
  if [ "$ship" = 1 ]; then
    # ... from the npm package on Node 24, with the shipped forms' proofs on kind.
    echo "test: the default profile on a kind cluster, from the packed package on Node 24, and the shipped forms"
    ship kind kind "${kind_exec_flags[@]}"
  else
    echo "test: the default profile on a kind cluster: svc-conformance run --kind"
    run kind "${kind_flags[@]}" --profile default
  fi
fi
prepared >/dev/null
if [ "$ship" = 1 ]; then
  # The shipped forms' focused runs, the Jobs' reports read back and the matrix count too.
  for f in "$REPORTS"/ship-*/results.json; do [ -f "$f" ] && runs+=("$f"); done
  [ -f "$REPORTS/ship-matrix/matrix.json" ] && matrices+=("$REPORTS/ship-matrix/matrix.json")
fi
if [ "${SVC_ALSO_CILIUM:-0}" = 1 ] && [ $bundled = 1 ]; then
  # Cilium's kube-proxy replacement (eBPF) as CNI and Service proxy on a 3-node kind cluster,
  # the privileged profile (examples/matrix/ci-cilium.yaml); its known differences are data
  # (suites/data/known-differences.ts, column cilium). It leaves no cluster up.
  echo "test: Cilium's kube-proxy replacement on kind: svc-conformance matrix examples/matrix/ci-cilium.yaml"
  wait "$cilium_pid"; cilium_rc=$?; cilium_pid=
  cat "$REPORTS/cilium-build.log"
  if [ "$cilium_rc" != 0 ]; then
    echo "test: building Cilium failed (above; $REPORTS/cilium-build.log)" >&2; rc=1
  else
    bash cluster/kind/docker.sh start
    # A proxy bound of 30 s, not the default 120 s (kept for kube-proxy's minSyncPeriod on
    # any cluster): Cilium programs a change on every node within about a second here (the
    # column's own convergence measurements), and each known difference waits the bound out.
    SVC_PROXY_BOUND_MS=30000 svc matrix examples/matrix/ci-cilium.yaml --report-dir "$REPORTS/matrix-cilium" || rc=$?
    matrices+=("$REPORTS/matrix-cilium/matrix.json")
  fi
fi
if [ "${SVC_ALSO_NFTABLES:-0}" = 1 ] && [ $bundled = 1 ]; then
  # iptables against nftables and against NodeLocal DNSCache, privileged profile, as a
  # matrix (examples/matrix/ci.yaml): any difference between the columns heads its report.
  # It leaves no cluster up.
  echo "test: kube-proxy iptables against nftables and NodeLocal DNSCache: svc-conformance matrix examples/matrix/ci.yaml"
  # The iptables column is the main run above (the same cluster and profile): not run twice.
  earlier=(); [ "$profile" = privileged ] && earlier=(--column-results iptables="$REPORTS/main")
  svc matrix examples/matrix/ci.yaml --report-dir "$REPORTS/matrix-ci" "${earlier[@]}" || rc=$?
  matrices+=("$REPORTS/matrix-ci/matrix.json")
fi
if [ "${SVC_ALSO_VM:-0}" = 1 ] && [ $bundled = 1 ]; then
  # The Service proxies that need a kernel of their own, on VM nodes: kube-proxy's ipvs mode
  # and kube-router (examples/matrix/ci-vm.yaml: the proxy and rules checks). No cluster is left up.
  echo "test: kube-proxy ipvs and kube-router on VM nodes: svc-conformance matrix examples/matrix/ci-vm.yaml"
  svc matrix examples/matrix/ci-vm.yaml --report-dir "$REPORTS/matrix-vm" || rc=$?
  matrices+=("$REPORTS/matrix-vm/matrix.json")
fi
proved=()
if [ "${SVC_ALSO_PROVE:-0}" = 1 ] && [ $bundled = 1 ]; then
  # The proof that the checks can fail, its fast subset (scripts/prove-failures.sh --ci): one
  # broken cluster per kind of fault, whose suite must fail. It leaves no cluster up.
  echo "test: the checks can fail: scripts/prove-failures.sh --ci (one broken cluster per kind of fault)"
  if bash scripts/prove-failures.sh --ci; then proved=("test: prove-failures --ci: every broken cluster failed its suite")
  else rc=1; proved=("test: prove-failures --ci: FAILED: a broken cluster's suite did not fail (see above; reports in $REPORTS/prove-failures-ci)"); fi
fi
if [ "${SVC_LIFECYCLE:-0}" = 1 ] && [ $bundled = 1 ]; then
  jest --selectProjects lifecycle --runInBand --json --outputFile="$REPORTS/jest-lifecycle.json" || rc=$?
  units+=("$REPORTS/jest-lifecycle.json")
fi
# One closing line over the tool's own tests (Jest), every run and every matrix column,
# counted as `run` counts (helpers/cli/tally.ts).
[ ${#proved[@]} = 0 ] || printf '%s\n' "${proved[@]}"
"$NODE" --no-warnings helpers/cli/tally.ts --jest "${units[@]}" --runs "${runs[@]}" --matrices "${matrices[@]}" || { [ $rc = 0 ] && rc=1; }
exit $rc
