#!/usr/bin/env bash
# The test command (npm test): unit tests, then every conformance suite against the
# target cluster. Without KUBECONFIG the target is the bundled cluster, brought up
# first when it is not running (needs root). The lifecycle suite (a second cluster
# with another domain, and `down` leaving nothing) runs last, only on the bundled
# cluster, and only with SVC_LIFECYCLE=1 (CI sets it).
set -uo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "test: run scripts/setup.sh (or npm ci) first" >&2; exit 2; }
JEST=(env NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js)

if [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  bash cluster/cluster.sh up || { echo "test: the bundled cluster did not come up (see above)" >&2; exit 3; }
fi

rc=0
"${JEST[@]}" --selectProjects unit cluster "$@" || rc=$?
if [ "${SVC_LIFECYCLE:-0}" = 1 ] && [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  "${JEST[@]}" --selectProjects lifecycle --runInBand || rc=$?
fi
exit $rc
