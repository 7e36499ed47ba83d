#!/usr/bin/env bash
# A Docker-compatible engine from podman, for `make test-containers` on a machine without Docker (such as the
# development machines: see ARCHITECTURE.md / the design brief). Idempotent; every step says what it did.
#   1. apt-get install podman runc (and debootstrap for scripts/containers/build-standins.sh) when missing, and
#      docker-compose where it can be had (only to validate compose.yaml);
#   2. /etc/containers/containers.conf: runtime runc (crun fails on hybrid cgroups) and no default ulimits (the
#      defaults are not permitted in this sandbox);
#   3. `podman system service` on a Docker API socket (PODMAN_SOCKET, default /run/podman/podman.sock) when
#      nothing answers there yet.
# Prints the DOCKER_HOST to use as its last line. Needs root (or sudo) for steps 1 and 2.
#   PODMAN_SOCKET      socket path (default /run/podman/podman.sock)
#   PODMAN_SERVICE_LOG where the service logs (default /var/log/podman-service.log)
set -euo pipefail

SOCKET="${PODMAN_SOCKET:-/run/podman/podman.sock}"
SERVICE_LOG="${PODMAN_SERVICE_LOG:-/var/log/podman-service.log}"
CONF=/etc/containers/containers.conf
say() { printf '  %s\n' "$*"; }
fail() { printf 'podman-setup: %s\n' "$*" >&2; exit 1; }

sudo=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || fail "run as root (or install sudo): apt-get and $CONF need it"
  sudo="sudo"
fi

# 1. Packages --------------------------------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get here: install them with your package manager"
  say "installing ${missing[*]} (apt-get)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-compose (Debian's 1.29) only validates compose.yaml here (`docker-compose config`): optional.
if ! command -v docker-compose >/dev/null && command -v apt-get >/dev/null; then
  if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends docker-compose >/dev/null 2>&1; then
    say "installed docker-compose (apt-get), to validate compose.yaml"
  else
    say "docker-compose could not be installed (optional: compose.yaml is still checked by test/packaging/compose.test.ts)"
  fi
fi
say "$(podman --version), runc $(runc --version | head -1 | awk '{print $3}')"

# 2. containers.conf -------------------------------------------------------------------------------------------
if [[ ! -e "$CONF" ]]; then
  say "writing $CONF (runtime runc, no default ulimits)"
  $sudo mkdir -p "$(dirname "$CONF")"
  $sudo tee "$CONF" >/dev/null <<'CONFIG'
# Written by outbox-relay's scripts/containers/podman-setup.sh.
[containers]
# The default ulimits (nofile, nproc) may not be raised inside this sandbox: containers would fail to start.
default_ulimits = []

[engine]
# crun fails on hybrid cgroup hierarchies; runc works.
runtime = "runc"
CONFIG
elif ! grep -Eq '^\s*runtime\s*=\s*"runc"' "$CONF" || ! grep -Eq '^\s*default_ulimits\s*=\s*\[\s*\]' "$CONF"; then
  fail "$CONF exists but lacks runtime = \"runc\" under [engine] or default_ulimits = [] under [containers]; add them (this script does not edit a file it did not write)"
else
  say "$CONF already sets runtime runc and no default ulimits"
fi

# 3. The Docker API socket -------------------------------------------------------------------------------------
answers() { curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; }
if ! command -v curl >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq curl >/dev/null
fi
if answers; then
  say "podman system service already answers on $SOCKET"
else
  $sudo mkdir -p "$(dirname "$SOCKET")"
  say "starting podman system service on unix://$SOCKET (log: $SERVICE_LOG)"
  # --time=0: never exits on idle. setsid + nohup: outlives this script and the shell that ran it.
  $sudo setsid nohup podman system service --time=0 "unix://$SOCKET" >>"$SERVICE_LOG" 2>&1 < /dev/null &
  # Who started it, for a caller that stops what it started (test-containers.sh): the service's pid.
  echo "$!" >"$SOCKET.started-by-setup"
  for _ in $(seq 1 100); do answers && break; sleep 0.1; done
  answers || fail "podman system service did not answer on $SOCKET within 10 s; see $SERVICE_LOG"
fi
# A container must really start: this catches a runtime or ulimit problem here rather than in the tests.
if podman image exists localhost/outbox-relay-standin-base:bookworm 2>/dev/null; then
  podman run --rm --network none localhost/outbox-relay-standin-base:bookworm true \
    || fail "podman cannot run a container; check $CONF and 'podman info'"
  say "a container runs (runc)"
fi
echo "DOCKER_HOST=unix://$SOCKET"
