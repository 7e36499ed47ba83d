#!/usr/bin/env bash
# `make test-containers`: the container path of the tests (test/support/test-services.ts), proved on a machine
# without Docker: podman's Docker API (podman-setup.sh), local stand-ins for the images (build-standins.sh), then
# a subset of the suite that touches Postgres and NATS with OUTBOX_TEST_SERVICES=containers, and afterwards
# checks that the run created exactly one Postgres and one NATS container for all its files and left none behind;
# then `docker-compose config` on compose.yaml where docker-compose is installed.
# Not part of `make test`: the first image build takes minutes. Prints how long each step took.
#   TEST_CONTAINERS_FILES  the test files (default: the list below)
#   BUILD_STANDINS=0       skip the stand-in images (where the real ones can be pulled)
#   JEST_FLAGS             extra jest flags
# shellcheck disable=SC2317 # the steps are functions that `step` calls
set -euo pipefail
cd "$(dirname "$0")/../.."

# Test files that use both Postgres and NATS: the relay, the SQL writer with the real psql, the inbox, the e2e
# choreography, the payment worker as a real process (the container URLs reach child processes too), the suite's
# own checks of the container path, and the demos' NATS container (a third container, which it removes itself).
DEFAULT_FILES=(
  test/suite/containers.test.ts
  test/suite/test-services.test.ts
  services/outbox/test/relay.test.ts
  services/outbox/test/sql-enqueue-relay.test.ts
  services/inbox/test/inbox.test.ts
  services/inbox/test/consumer.test.ts
  test/e2e/choreography.test.ts
  services/payments/test/payment-process.test.ts
  test/demo/demo-nats.test.ts
)
read -r -a FILES <<<"${TEST_CONTAINERS_FILES:-${DEFAULT_FILES[*]}}"
read -r -a flags <<<"${JEST_FLAGS:-}"
LABEL=outbox-relay.test-service
timings=()
step() { # name command...; records how long it took, returns its status
  local name="$1" started=$SECONDS rc=0
  shift
  echo "== $name"
  "$@" || rc=$?
  timings+=("$(printf '%-28s %4d s' "$name" $((SECONDS - started)))")
  return "$rc"
}
fail() { printf 'test-containers: %s\n' "$*" >&2; exit 1; }

# The podman service this run started (none when one already answered): stopped when the run ends, so a test run
# leaves no server behind.
started_service=""
stop_started_service() {
  if [[ -n "$started_service" ]] && kill "$started_service" 2>/dev/null; then
    echo "  stopped the podman system service this run started (pid $started_service)"
  fi
}
trap stop_started_service EXIT

setup_podman() {
  local out marker
  marker="${PODMAN_SOCKET:-/run/podman/podman.sock}.started-by-setup"
  rm -f "$marker"
  out="$(bash scripts/containers/podman-setup.sh)" || exit 1
  if [[ -s "$marker" ]]; then started_service="$(cat "$marker")"; rm -f "$marker"; fi
  printf '%s\n' "$out" | sed '$d'
  DOCKER_HOST="$(printf '%s\n' "$out" | tail -1 | sed 's/^DOCKER_HOST=//')"
  export DOCKER_HOST
  echo "  DOCKER_HOST=$DOCKER_HOST"
}

# A supported Node (scripts/node-runtime.sh: the system's when it is one, else the newest LTS in .tools/);
# testcontainers 12 itself needs >= 22.22, which the global setup checks and explains.
pick_node() {
  local dir
  dir="$(bash scripts/node-runtime.sh)"
  if [[ -n "$dir" ]]; then PATH="$dir:$PATH"; fi
  NODE="$(command -v node)"
  echo "  $("$NODE" -v) ($NODE)"
}

run_tests() {
  # TESTCONTAINERS_RYUK_DISABLED: its reaper image cannot be pulled here (the global teardown removes the
  # containers). TESTCONTAINERS_HOST_OVERRIDE: published ports answer on loopback; without it testcontainers,
  # seeing /.dockerenv, would take this machine for a container and use the bridge's gateway address.
  OUTBOX_TEST_SERVICES=containers TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE="${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}" \
    "$NODE" node_modules/jest/bin/jest.js "${flags[@]}" "${FILES[@]}"
}

check_containers() {
  local created left
  # podman 4.3's events take no label filter: the label's value is printed and empty lines (other containers) dropped.
  created="$(podman events --stream=false --since "$since" --filter event=create --format "{{.ID}} {{index .Attributes \"$LABEL\"}}" |
    awk 'NF == 2 { print $1 }' | sort -u | wc -l)"
  left="$(podman ps -a -q --filter "label=$LABEL" | grep -vxF -f <(printf '%s\n' "${before[@]:-}") || true)"
  echo "  containers created by the run: $created (one Postgres and one NATS shared by ${#FILES[@]} test files, one NATS of the demo test)"
  if [[ -n "$left" ]]; then
    echo "  left behind: $left; removing them" >&2
    # shellcheck disable=SC2086 # one id per word
    podman rm -f $left >/dev/null
    fail "the run left containers behind"
  fi
  echo "  left behind: none"
  [[ "$created" == "$expected_containers" ]] || fail "expected the run to create $expected_containers containers, it created $created"
}

compose_config() {
  if ! command -v docker-compose >/dev/null; then
    echo "  docker-compose is not installed: compose.yaml is checked by test/packaging/compose.test.ts only"
    return 0
  fi
  docker-compose -f compose.yaml config -q && echo "  docker-compose $(docker-compose version --short) accepts compose.yaml"
}

total_started=$SECONDS
step "podman's Docker API" setup_podman
if [[ "${BUILD_STANDINS:-1}" != 0 ]]; then step "stand-in images" bash scripts/containers/build-standins.sh; fi
step "node for testcontainers" pick_node
mapfile -t before < <(podman ps -a -q --filter "label=$LABEL")
# The global setup's Postgres and NATS, plus one NATS that test/demo/demo-nats.test.ts starts and removes itself.
expected_containers=2
if [[ " ${FILES[*]} " == *" test/demo/demo-nats.test.ts "* ]]; then expected_containers=3; fi
since="$(date --iso-8601=seconds)"
status=0
step "jest (${#FILES[@]} files)" run_tests || status=$?
step "containers check" check_containers
step "compose.yaml" compose_config
echo "== times"
printf '  %s\n' "${timings[@]}"
printf '  %-28s %4d s\n' total $((SECONDS - total_started))
exit "$status"
