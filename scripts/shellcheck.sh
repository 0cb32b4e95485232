#!/usr/bin/env bash
# ShellCheck on every shell script of the repository (part of `npm run check`): each file git
# tracks whose name ends in .sh or whose first line is a sh/bash/dash/ksh shebang (.ci/run,
# cluster/kind/runc-capdrop, ...), outside node_modules/ and dist/. Settings: .shellcheckrc
# (sourced files are followed; their paths are relative to the repository root, where this
# runs). Exits non-zero on any finding, or when shellcheck is missing.
# Usage: scripts/shellcheck.sh   (prints the findings, or one line when every script is clean)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed: apt-get install -y shellcheck (scripts/setup.sh does)" >&2; exit 2; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "shellcheck: $PWD is not a git work tree (the scripts are the files git tracks)" >&2; exit 2; }
shebang='^#![[:space:]]*(/usr)?/bin/(env[[:space:]]+)?(sh|bash|dash|ksh)([[:space:]]|$)'
files=() tracked=()
mapfile -d '' -t tracked < <(git ls-files -z)
[ ${#tracked[@]} -gt 0 ] || { echo "shellcheck: git ls-files listed nothing" >&2; exit 2; }
for f in "${tracked[@]}"; do
  case "$f" in node_modules/* | */node_modules/* | dist/* | .git/*) continue ;; esac
  [ -f "$f" ] || continue # tracked, but deleted in the work tree
  first=""
  IFS= read -r first <"$f" || true
  if [[ $f == *.sh || $first =~ $shebang ]]; then files+=("$f"); fi
done
[ ${#files[@]} -gt 0 ] || { echo "shellcheck: no shell scripts found" >&2; exit 2; }
if shellcheck "${files[@]}"; then
  echo "shellcheck: ${#files[@]} shell scripts, no findings"
else
  rc=$?
  echo "shellcheck: findings above (in ${#files[@]} shell scripts checked); fix them, or disable a check on its line with a reason" >&2
  exit "$rc"
fi
