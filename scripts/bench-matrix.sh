#!/usr/bin/env bash
# Benchmark (not a timed test): the matrix's wall time per column against a single run of
# the same cluster on the same machine. A single run = `cluster down`, `cluster up` with the
# config, `svc-conformance run --local` (privileged profile); the matrix = examples/matrix/ci.yaml
# (or the file given), whose matrix.json records each column's up and run times.
# Usage: scripts/bench-matrix.sh [MATRIX_FILE] [REPORT_DIR]. Needs root; leaves no cluster up.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
file=${1:-examples/matrix/ci.yaml}
out=${2:-reports/bench-matrix}
NODE=node_modules/.bin/node
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
mkdir -p "$out"
bash cluster/cluster.sh down >/dev/null 2>&1
# The single run: the matrix's first column's cluster, by hand.
cfg="$out/single-config.json"
"$NODE" --no-warnings --input-type=module -e '
  const { readMatrix } = await import(process.argv[1]);
  const m = readMatrix(process.argv[2]);
  const c = m.columns.find((x) => x.cluster);
  process.stdout.write(JSON.stringify({ name: c.name, profile: c.profile, cluster: c.cluster }));
' "$PWD/helpers/matrix/matrix.ts" "$file" > "$out/single.json"
jq .cluster "$out/single.json" > "$cfg"
profile=$(jq -r .profile "$out/single.json")
t=$(now); SVC_CLUSTER_CONFIG=$cfg bash cluster/cluster.sh up >"$out/single-up.log" 2>&1; up_s=$(since "$t")
t=$(now); SVC_CLUSTER_CONFIG=$cfg "$NODE" --no-warnings helpers/cli/cli.ts run --local --profile "$profile" --report-dir "$out/single" >"$out/single-run.log" 2>&1; run_rc=$?; run_s=$(since "$t")
bash cluster/cluster.sh down >/dev/null 2>&1
t=$(now); "$NODE" --no-warnings helpers/cli/cli.ts matrix "$file" --report-dir "$out/matrix" >"$out/matrix.log" 2>&1; m_rc=$?; m_s=$(since "$t")
{
  echo "# Matrix against single runs ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  printf 'Single run of column %s: cluster up %.1f s, run %.1f s (exit %s), total %.1f s\n' "$(jq -r .name "$out/single.json")" "$up_s" "$run_s" "$run_rc" "$(echo "$up_s + $run_s" | bc)"
  printf 'Matrix %s: %.1f s wall (exit %s)\n\n' "$file" "$m_s" "$m_rc"
  echo '| Column | Cluster up | Run | Result |'
  echo '|---|---|---|---|'
  jq -r '.columns[] | "| \(.name) | \(if .upMs then ((.upMs/100|round)/10|tostring) + " s" else "—" end) | \(if .runMs then ((.runMs/100|round)/10|tostring) + " s" else "—" end) | \(if .counts then "\(.counts.passed) passed, \(.counts.failed) failed, \(.counts.skipped) skipped" else .message end) |"' "$out/matrix/matrix.json"
  echo
  jq -r '"Matrix overhead (wall minus the columns'"'"' up and run times, incl. cluster down between columns): \(((.durationMs - ([.columns[] | (.upMs // 0) + (.runMs // 0)] | add)) / 100 | round) / 10) s"' "$out/matrix/matrix.json"
} | tee "$out/bench-matrix.md"
