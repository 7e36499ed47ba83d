#!/usr/bin/env bash
# `make demo`: the kind (Kubernetes in Docker) demo (scripts/demo-kind.sh) where kind and a Docker engine are
# usable, else the local demo (scripts/demo-local.ts: real processes, embedded Postgres, private nats-server).
# Says which and why.
#   DEMO_MODE=local  always the local demo;  DEMO_MODE=kind  the kind demo or fail saying what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${DEMO_MODE:-auto}"
why_not_kind=""
if ! command -v kind >/dev/null 2>&1; then
  why_not_kind="kind is not installed"
elif ! command -v docker >/dev/null 2>&1; then
  why_not_kind="the docker CLI is not installed"
elif ! docker info >/dev/null 2>&1; then
  why_not_kind="no Docker engine answers ('docker info' failed)"
fi

case "$mode" in
  kind)
    if [[ -n "$why_not_kind" ]]; then echo "make demo: cannot run the kind demo: $why_not_kind." >&2; exit 1; fi
    exec bash scripts/demo-kind.sh
    ;;
  local)
    echo "make demo: local demo (DEMO_MODE=local)."
    ;;
  auto)
    if [[ -z "$why_not_kind" ]]; then
      echo "make demo: kind and a Docker engine found; running the kind demo (scripts/demo-kind.sh)."
      exec bash scripts/demo-kind.sh
    fi
    echo "make demo: using the local demo (processes on this machine) because $why_not_kind."
    ;;
  *)
    echo "make demo: DEMO_MODE must be auto, local or kind (got '$mode')" >&2
    exit 2
    ;;
esac
# The demos are TypeScript, run as they are through the loader the tests use (swc, installed by make install).
run_ts=(node -r ./test/support/register-ts.cjs)
"${run_ts[@]}" scripts/demo-local.ts "$@"
echo
echo "make demo: the payment worker scenarios (also: make demo-payments)."
exec "${run_ts[@]}" scripts/demo-payments.ts
