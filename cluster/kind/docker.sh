#!/usr/bin/env bash
# Starts and stops the Docker engine the kind target runs on, where nothing else does
# (this machine has no init system running dockerd). Usage:
#   cluster/kind/docker.sh start   # dockerd from Debian's docker.io, unless one answers already
#   cluster/kind/docker.sh stop    # stops a dockerd this script started, removes its iptables rules and
#                                  # chains, and puts the FORWARD policy back
#   cluster/kind/docker.sh status
# On a host whose capability bounding set lacks a capability Docker asks for (moby/moby#42906:
# every --privileged container then fails "unable to apply caps"), the default OCI runtime is
# cluster/kind/runc-capdrop, which drops those capabilities from the spec and runs runc.
# A Docker host such as GitHub Actions' never needs this script.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIDFILE=/run/svc-conformance-dockerd.pid
LOG=/var/log/svc-conformance-dockerd.log
POLICY_FILE=/run/svc-conformance-dockerd.forward-policy
log() { echo "docker: $*" >&2; }
die() { echo "docker: $*" >&2; exit 1; }

answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
ours_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
caps_missing() { # capabilities Docker's default privileged set has that this host's bounding set lacks
  local bnd; bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  local last; last=$(cat /proc/sys/kernel/cap_last_cap)
  local i; for ((i = 0; i <= last; i++)); do (( (bnd >> i) & 1 )) || echo "$i"; done
}

# The runtime lives at a fixed path, not in whichever clone started dockerd: a dockerd that
# outlives its clone (seen: a removed CI clone) must still find it.
RUNTIME=/usr/local/lib/svc-conformance/runc-capdrop
install_runtime() { mkdir -p "$(dirname "$RUNTIME")" && install -m 0755 "$here/runc-capdrop" "$RUNTIME"; }

start() {
  if answers; then
    [ "$(id -u)" != 0 ] || install_runtime
    local rt; rt=$(docker info --format '{{with index .Runtimes "svc-capdrop"}}{{.Path}}{{end}}' 2>/dev/null || true)
    if [ -n "$rt" ] && [ ! -x "$rt" ]; then
      ours_alive || die "the running dockerd's runtime svc-capdrop ($rt) is gone: restart that dockerd with cluster/kind/docker.sh"
      log "the running dockerd's runtime $rt is gone: restarting it"; stop
    else
      log "a Docker engine answers already ($(docker version --format '{{.Server.Version}}')); using it"; return 0
    fi
  fi
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and starting one needs root: start Docker yourself, or run as root"
  command -v dockerd >/dev/null || die "dockerd is not installed: apt-get install docker.io (scripts/setup.sh does)"
  # Networks from 10.200.0.0/16 (/24 each): Docker's default pools (172.17-31.x) would in time
  # hand out 172.30.0.0/16, which holds the bundled cluster's node network.
  local args=(--pidfile "$PIDFILE" --host unix:///var/run/docker.sock --default-address-pool "base=10.200.0.0/16,size=24")
  if [ -n "$(caps_missing)" ]; then
    install_runtime
    args+=(--add-runtime "svc-capdrop=$RUNTIME" --default-runtime svc-capdrop)
    log "this host's capability bounding set lacks capabilities $(caps_missing | tr '\n' ' ')- privileged containers run through cluster/kind/runc-capdrop"
  fi
  iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}' > "$POLICY_FILE" || true
  log "starting dockerd (log: $LOG)"
  setsid dockerd "${args[@]}" >>"$LOG" 2>&1 < /dev/null &
  local i; for ((i = 0; i < 60; i++)); do answers && break; sleep 0.5; done
  answers || { tail -n 20 "$LOG" >&2; die "dockerd did not answer within 30 s; its log is above and in $LOG"; }
  log "dockerd $(docker version --format '{{.Server.Version}}') is up"
}

stop() {
  if ! ours_alive; then log "no dockerd started by this script is running"; rm -f "$PIDFILE"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  kill "$pid"
  local i; for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" || true; }
  rm -f "$PIDFILE"
  remove_iptables
  log "dockerd stopped; its iptables rules and chains removed, FORWARD policy back to $(iptables -S FORWARD | awk '$1 == "-P" {print $3}')"
}

# What dockerd put into the host's iptables and leaves behind when it stops: rules in the
# built-in chains that name its chains or bridges, its DOCKER* chains, and the FORWARD
# policy it set to DROP (restored to what it was before start).
remove_iptables() {
  local t c rule
  for t in filter nat; do
    iptables -t "$t" -S 2>/dev/null | grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ' | grep -E 'DOCKER|docker0|br-[0-9a-f]{12}' |
      while read -r rule; do eval "iptables -t $t -D ${rule#-A }" 2>/dev/null || true; done
    for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}'); do iptables -t "$t" -F "$c" 2>/dev/null || true; done
    for c in $(iptables -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^DOCKER/ {print $2}'); do iptables -t "$t" -X "$c" 2>/dev/null || true; done
  done
  if [ -s "$POLICY_FILE" ]; then iptables -P FORWARD "$(cat "$POLICY_FILE")"; rm -f "$POLICY_FILE"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "docker: engine $(docker version --format '{{.Server.Version}}') answers"; else echo "docker: no engine answers"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
