#!/usr/bin/env bash
# Makes sure the Postgres and NATS (JetStream) the tests use are up, starting them when they are local and down.
#   DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), NATS_URL (default nats://127.0.0.1:4222):
#   when either points somewhere else than this machine's default port, it is only checked, never started.
#   INSTALL_MISSING=1 (set by .ci/run): apt-get install postgresql / nats-server when the binary is absent, and
#   give a freshly installed Postgres what the tests expect (trust on 127.0.0.1, database "test").
set -euo pipefail

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

ensure_postgres() {
  local host port; host="$(url_host "$DATABASE_URL")"; port="$(url_port "$DATABASE_URL" 5432)"
  if answers "$host" "$port"; then say "Postgres: up at $host:$port"; return 0; fi
  if ! is_local "$host" || [[ "$port" != 5432 ]]; then
    say "Postgres: DATABASE_URL points to $host:$port, which does not answer; not starting a local one"
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
    apt_install postgresql || { say "Postgres: not installed; run: apt-get install -y postgresql (or set DATABASE_URL)"; return 1; }
  fi
  local version; version="$(ls /etc/postgresql | sort -V | tail -1)"
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
  version="$(ls /etc/postgresql | sort -V | tail -1)"
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
      apt_install nats-server || { say "NATS: nats-server not installed; run: apt-get install -y nats-server (or set NATS_URL)"; return 1; }
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

ensure_postgres
prepare_postgres
ensure_nats
