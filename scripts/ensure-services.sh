#!/usr/bin/env bash
# Makes sure the Postgres and NATS (JetStream) the tests use are up, starting them when they are local and down.
#   DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), NATS_URL (default nats://127.0.0.1:4222):
#   when either points somewhere else than this machine's default port, it is only checked, never started.
#   INSTALL_MISSING=1 (set by .ci/run): apt-get install postgresql / nats-server when the binary is absent, and
#   give a freshly installed Postgres what the tests expect (trust on 127.0.0.1, database "test").
#   OUTBOX_TEST_SERVICES (test/support/test-services.ts): auto (default): a service that is not installed here is
#   left to the test run, which starts it in a container, when a Docker-compatible engine answers; containers:
#   nothing local is checked, only that an engine answers; local: only what is installed here.
# Exits 1 saying what to do when a service is neither here nor to be had in a container.
set -euo pipefail

MODE="${OUTBOX_TEST_SERVICES:-auto}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
INSTALL_MISSING="${INSTALL_MISSING:-0}"
NATS_BIN="${NATS_SERVER_BIN:-/usr/sbin/nats-server}"

say() { printf '  %s\n' "$*"; }

# host and port of a URL such as postgres://user:pw@host:5432/db or nats://host:4222
url_host() { local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"; rest="${rest%%,*}"; echo "${rest%:*}"; }
url_port() { local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"; rest="${rest%%,*}"; [[ "$rest" == *:* ]] && echo "${rest##*:}" || echo "$2"; }
is_local() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == '[::1]' || "$1" == ::1 ]]; }
answers() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
wait_port() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do answers "$1" "$2" && return 0; sleep 0.1; done
  return 1
}
apt_install() {
  if [[ "$INSTALL_MISSING" != 1 ]]; then return 1; fi
  if ! command -v apt-get >/dev/null; then say "apt-get not available; install $* yourself"; return 1; fi
  local sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo"
  say "installing $* (apt-get)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# The newest cluster version configured under /etc/postgresql (Debian's layout), or nothing.
postgres_version() {
  local dirs=(/etc/postgresql/*/)
  [[ -d "${dirs[0]}" ]] || return 0
  printf '%s\n' "${dirs[@]}" | xargs -n1 basename | sort -V | tail -1
}

# Whether the test run can start containers: a Node that runs testcontainers 12 (>= 22.22), and a Docker-compatible
# engine answering where testcontainers looks (DOCKER_HOST, else the usual sockets). Sets engine / no_engine.
engine="" no_engine=""
containers_possible() {
  [[ -n "$engine$no_engine" ]] && { [[ -n "$engine" ]]; return; }
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 22) ? 0 : 1)' 2>/dev/null; then
    no_engine="the container path needs Node >= 22.22 (testcontainers 12), and this is Node $(node -v 2>/dev/null || echo '(none)')"
    return 1
  fi
  local sockets=()
  case "${DOCKER_HOST:-}" in
    "") sockets=(/var/run/docker.sock "${XDG_RUNTIME_DIR:-/nonexistent}/docker.sock" "$HOME/.docker/run/docker.sock" "$HOME/.docker/desktop/docker.sock") ;;
    unix://*) sockets=("${DOCKER_HOST#unix://}") ;;
    tcp://*)
      if curl -fsS --max-time 3 "http://${DOCKER_HOST#tcp://}/_ping" >/dev/null 2>&1; then engine="DOCKER_HOST=$DOCKER_HOST"; return 0; fi ;;
  esac
  local socket
  for socket in "${sockets[@]}"; do
    if [[ -S "$socket" ]] && curl -fsS --max-time 3 --unix-socket "$socket" http://engine/_ping >/dev/null 2>&1; then
      engine="unix://$socket"
      return 0
    fi
  done
  if [[ -n "${DOCKER_HOST:-}" ]]; then no_engine="no Docker-compatible engine answers (DOCKER_HOST=$DOCKER_HOST)"
  else no_engine="no Docker-compatible engine answers (DOCKER_HOST is not set, and none at /var/run/docker.sock or the rootless sockets)"; fi
  return 1
}

# A service that is not installed here: left to the test run's container when that is possible (auto), else a
# failure naming how to install it.
missing=() in_containers=()
not_here() { # name install-hint
  if [[ "$MODE" == auto ]] && containers_possible; then
    say "$1: not installed here; the test run will start it in a container (engine at $engine)"
    in_containers+=("$1")
    return 0
  fi
  say "$1: not installed; run: $2"
  missing+=("$1")
  return 1
}

ensure_postgres() {
  local host port; host="$(url_host "$DATABASE_URL")"; port="$(url_port "$DATABASE_URL" 5432)"
  if answers "$host" "$port"; then say "Postgres: up at $host:$port"; return 0; fi
  if ! is_local "$host" || [[ "$port" != 5432 ]]; then
    say "Postgres: DATABASE_URL points to $host:$port, which does not answer; not starting a local one"
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(postgres_version)" ]]; then
    apt_install postgresql || { not_here Postgres "apt-get install -y postgresql (or set DATABASE_URL)"; return; }
  fi
  local version; version="$(postgres_version)"
  say "Postgres: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$host" "$port" 30 || { say "Postgres: did not come up on $host:$port"; return 1; }
  say "Postgres: up at $host:$port"
}

# A Postgres installed from Debian's packages allows neither password-less TCP logins nor has a "test" database.
prepare_postgres() {
  local host port; host="$(url_host "$DATABASE_URL")"; port="$(url_port "$DATABASE_URL" 5432)"
  [[ "$INSTALL_MISSING" == 1 ]] && is_local "$host" && [[ "$port" == 5432 ]] || return 0
  command -v psql >/dev/null || return 0
  if psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then return 0; fi
  [[ "$(id -u)" == 0 ]] || { say "Postgres: cannot log in with $DATABASE_URL; configure trust for 127.0.0.1 or set DATABASE_URL"; return 1; }
  local version hba db
  version="$(postgres_version)"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  db="$(basename "${DATABASE_URL%%\?*}")"
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    say "Postgres: allowing password-less logins from 127.0.0.1 and ::1 (test machine)"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    su postgres -c "psql -Atqc 'SELECT pg_reload_conf()'" >/dev/null
  fi
  if ! su postgres -c "psql -Atqc \"SELECT 1 FROM pg_database WHERE datname = '$db'\"" | grep -q 1; then
    say "Postgres: creating database $db"
    su postgres -c "createdb '$db'"
  fi
  psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null
}

ensure_nats() {
  local host port; host="$(url_host "$NATS_URL")"; port="$(url_port "$NATS_URL" 4222)"
  if answers "$host" "$port"; then say "NATS: up at $host:$port"; return 0; fi
  if ! is_local "$host" || [[ "$port" != 4222 ]]; then
    say "NATS: NATS_URL points to $host:$port, which does not answer; not starting a local one"
    return 0
  fi
  if [[ ! -x "$NATS_BIN" ]]; then
    if command -v nats-server >/dev/null; then NATS_BIN="$(command -v nats-server)"
    else
      apt_install nats-server || { not_here NATS "apt-get install -y nats-server (or set NATS_URL)"; return; }
      NATS_BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"
    fi
  fi
  say "NATS: starting $NATS_BIN with JetStream on 127.0.0.1:4222"
  if command -v start-stop-daemon >/dev/null && [[ "$(id -u)" == 0 ]]; then
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec "$NATS_BIN" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  else
    local store="${XDG_STATE_HOME:-$HOME/.local/state}/outbox-relay/nats"
    mkdir -p "$store"
    nohup "$NATS_BIN" -a 127.0.0.1 -p 4222 -js -sd "$store" -l "$store/nats-server.log" >/dev/null 2>&1 &
  fi
  wait_port "$host" "$port" 15 || { say "NATS: did not come up on $host:$port"; return 1; }
  say "NATS: up at $host:$port"
}

case "$MODE" in
  auto | local) ;;
  containers)
    if containers_possible; then
      say "OUTBOX_TEST_SERVICES=containers: the test run starts Postgres and NATS in containers (engine at $engine); nothing local is checked"
      exit 0
    fi
    say "OUTBOX_TEST_SERVICES=containers, but $no_engine"
    exit 1
    ;;
  *)
    echo "ensure-services: OUTBOX_TEST_SERVICES must be auto, local or containers (got '$MODE')" >&2
    exit 2
    ;;
esac

status=0
ensure_postgres || status=1
if [[ " ${missing[*]} ${in_containers[*]} " != *" Postgres "* ]]; then prepare_postgres || status=1; fi
ensure_nats || status=1
if ((${#missing[@]})); then
  say ""
  say "The tests need Postgres and NATS; missing here: ${missing[*]}. Do one of:"
  say "  - install them (the commands above), or point DATABASE_URL / NATS_URL at running servers;"
  if [[ "$MODE" == auto ]]; then
    say "  - make a Docker-compatible engine answer, so the test run starts them in containers: $no_engine."
    say "    Docker, or podman's Docker API: bash scripts/containers/podman-setup.sh, then"
    say "    export DOCKER_HOST=unix:///run/podman/podman.sock TESTCONTAINERS_RYUK_DISABLED=true"
  fi
fi
exit "$status"
