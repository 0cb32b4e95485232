#!/usr/bin/env bash
# The test command (npm test): unit tests, then every conformance suite against the
# target cluster. Without KUBECONFIG the target is the bundled cluster, brought up
# first when it is not running (needs root); SVC_TARGET=kind makes it a kind cluster
# started by testcontainers and removed at the end. SVC_PRIVILEGED=1 adds the privileged
# profile (kube-proxy rules on the nodes). On the bundled cluster, SVC_ALSO_ONE_NODE=1
# runs the default profile again on a 1-node cluster (kind's default), SVC_ALSO_NFTABLES=1
# runs the matrix iptables against nftables and NodeLocal DNSCache (examples/matrix/ci.yaml, privileged),
# SVC_ALSO_KIND=1 runs the default profile on a 3-node kind cluster, and SVC_LIFECYCLE=1 runs
# the lifecycle suites last: bad input to `cluster up`, a second cluster with another
# domain, `down` leaving nothing, the matrix, the kind target (CI sets all of these). Extra arguments go to Jest
# (and then only the unit and conformance suites run).
set -uo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "test: run scripts/setup.sh (or npm ci) first" >&2; exit 2; }
REPORTS=${SVC_REPORT_DIR:-reports}
mkdir -p "$REPORTS"
jest() { env NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js "$@"; }

if [ "${SVC_TARGET:-}" = kind ]; then
  # A kind cluster started by testcontainers (helpers/kind/), removed at the end whatever
  # happens; this script then runs again against it as against any kubeconfig cluster.
  # SVC_KIND_IMAGE (default: ours, cluster/kind/node-image.sh), SVC_KIND_NODES (3),
  # SVC_KIND_PROXY_MODE (iptables). Needs a Docker engine (here: cluster/kind/docker.sh start).
  kind_args=(--nodes "${SVC_KIND_NODES:-3}" --proxy-mode "${SVC_KIND_PROXY_MODE:-iptables}")
  [ -n "${SVC_KIND_IMAGE:-}" ] && kind_args+=(--image "$SVC_KIND_IMAGE")
  [ -n "${SVC_KIND_TIMINGS:-}" ] && kind_args+=(--timings "$SVC_KIND_TIMINGS")
  exec "$NODE" --no-warnings helpers/kind/cli.ts exec "${kind_args[@]}" -- bash scripts/test.sh "$@"
fi
if [ -n "${SVC_TARGET:-}" ] && [ "$SVC_TARGET" != bundled ]; then echo "test: SVC_TARGET must be kind or bundled (got '$SVC_TARGET')" >&2; exit 2; fi

if [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  bash cluster/cluster.sh up || { echo "test: the bundled cluster did not come up (see above)" >&2; exit 3; }
fi

rc=0
# Verdicts beyond Jest's (warnings of expected-level checks, skip reasons), per run.
rm -rf "${SVC_EVIDENCE_DIR:-reports/evidence}/verdicts"
results=("$REPORTS/jest-main.json")
jest --selectProjects unit cluster --json --outputFile="$REPORTS/jest-main.json" "$@" || rc=$?
bundled=0; [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ] && bundled=1
if [ $bundled = 1 ] && [ "${SVC_RUNNER_TESTS:-1}" = 1 ] && [ $# = 0 ]; then
  # The runner (CLI, preflight, reports, RBAC, cleanup) against the bundled cluster.
  jest --selectProjects runner --runInBand --json --outputFile="$REPORTS/jest-runner.json" || rc=$?
  results+=("$REPORTS/jest-runner.json")
fi
if [ "${SVC_ALSO_ONE_NODE:-0}" = 1 ] && [ $bundled = 1 ]; then
  # kind's default: one node. The whole default profile again, on a 1-node cluster.
  echo "test: the default profile again, on a 1-node bundled cluster"
  bash cluster/cluster.sh down && SVC_NODES=1 bash cluster/cluster.sh up || { echo "test: the 1-node cluster did not come up" >&2; exit 3; }
  env -u SVC_PRIVILEGED NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js --selectProjects cluster --json --outputFile="$REPORTS/jest-one-node.json" || rc=$?
  results+=("$REPORTS/jest-one-node.json")
fi
if [ "${SVC_ALSO_KIND:-0}" = 1 ] && [ $bundled = 1 ]; then
  # The default profile on a 3-node kind cluster started by testcontainers (SVC_TARGET=kind),
  # between bundled-cluster runs: the matrix and lifecycle below run after it.
  echo "test: the default profile on a kind cluster (testcontainers)"
  env -u SVC_PRIVILEGED -u SVC_ALSO_ONE_NODE -u SVC_ALSO_NFTABLES -u SVC_LIFECYCLE -u SVC_ALSO_KIND SVC_TARGET=kind \
    SVC_REPORT_DIR="$REPORTS/kind" SVC_EVIDENCE_DIR="$REPORTS/kind/evidence" bash scripts/test.sh || rc=$?
  results+=("$REPORTS/kind/jest-main.json")
fi
matrices=()
if [ "${SVC_ALSO_NFTABLES:-0}" = 1 ] && [ $bundled = 1 ]; then
  # iptables against nftables and against NodeLocal DNSCache, privileged profile, as a
  # matrix (examples/matrix/ci.yaml): any difference between the columns heads its report.
  # It leaves no cluster up.
  echo "test: kube-proxy iptables against nftables and NodeLocal DNSCache: svc-conformance matrix examples/matrix/ci.yaml"
  "$NODE" --no-warnings helpers/runner/cli.ts matrix examples/matrix/ci.yaml --report-dir "$REPORTS/matrix-ci" || rc=$?
  matrices+=("$REPORTS/matrix-ci/matrix.json")
fi
if [ "${SVC_LIFECYCLE:-0}" = 1 ] && [ $bundled = 1 ]; then
  jest --selectProjects lifecycle --runInBand --json --outputFile="$REPORTS/jest-lifecycle.json" || rc=$?
  results+=("$REPORTS/jest-lifecycle.json")
fi
# Warnings: expected-level checks that failed (they do not fail the run; SVC_STRICT=1 makes them).
cat "${SVC_EVIDENCE_DIR:-reports/evidence}"/verdicts/*.jsonl 2>/dev/null | "$NODE" -e '
  const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((v) => v.status === "warning");
  for (const v of lines) console.log(`test: warning (expected level) ${v.id}: ${String(v.message).split("\n")[0]}`);
  if (lines.length) console.log(`test: ${lines.length} warning(s), counted as passed below`);
'
# One closing line over every Jest run and every matrix (each column's checks count).
MATRICES="${matrices[*]:-}" "$NODE" -e '
  let p = 0, f = 0, s = 0;
  for (const file of process.argv.slice(1)) {
    try { const r = require(require("path").resolve(file)); p += r.numPassedTests; f += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); s += r.numPendingTests + r.numTodoTests; }
    catch { f += 1; console.log("test: no results in " + file); }
  }
  for (const file of (process.env.MATRICES || "").split(" ").filter(Boolean)) {
    try { const m = require(require("path").resolve(file)).counts; p += m.passed + m.warnings; f += m.failed + m.columnsNotUp; s += m.skipped; }
    catch { f += 1; console.log("test: no matrix results in " + file); }
  }
  console.log(`svc-conformance: ${p} passed, ${f} failed, ${s} skipped`);
' "${results[@]}"
exit $rc
