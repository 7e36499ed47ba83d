#!/bin/sh
# Entry point of the outbox-relay image: the first argument names the process to run.
#   docker run IMAGE relay | orders | subscriber | payments | operator     the long-running services
#   docker run IMAGE outboxctl status                                      the operations CLI (any arguments)
#   docker run IMAGE migrate                                               create/upgrade the outbox tables
#   docker run IMAGE node -v                                               any installed command
# Kubernetes manifests call `node services/<name>/dist/main.js` (workingDir /app) directly; both work.
# `exec` keeps node as PID 1, so SIGTERM reaches the service's own graceful shutdown.
set -eu
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
outbox-relay image: docker run IMAGE <entry point> [arguments]
  relay        the stand-alone relay (RELAY_HTTP_PORT, default 8090: /healthz /readyz /status)
  orders       the HTTP order service (PORT, default 8081)
  subscriber   a durable JetStream subscriber (SUBSCRIBER_ID required)
  payments     the payment worker (exactly-once through the inbox)
  operator     the Kubernetes operator for OutboxRelay resources (OPERATOR_HTTP_PORT, default 8080)
  outboxctl    the operations CLI, e.g. `outboxctl status`
  migrate      create or upgrade the outbox tables (DATABASE_URL, OUTBOX_SCHEMA, OUTBOX_PARTITIONS)
Each reads its configuration from the environment; see README.md.
USAGE
}

entry="${1:-help}"
case "$entry" in
  relay | orders | subscriber | payments | operator | outboxctl)
    shift
    exec node "services/$entry/dist/main.js" "$@"
    ;;
  migrate)
    shift
    exec node services/outbox/dist/cli/migrate.js "$@"
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    if command -v "$entry" >/dev/null 2>&1; then
      exec "$@"
    fi
    echo "outbox-relay image: unknown entry point '$entry'" >&2
    usage >&2
    exit 2
    ;;
esac
