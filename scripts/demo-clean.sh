#!/usr/bin/env bash
# `make demo-clean`: removes what the demos leave behind: the kind cluster of scripts/demo-kind.sh (with everything
# in it), its image outbox-relay:kind, and the demo logs in .demo/. Each part is skipped, saying so, when there is
# nothing to remove or the tool is missing. Touches no other kind cluster and no other image.
#   DEMO_KIND_CLUSTER   cluster name (default outbox-relay, as in scripts/demo-kind.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cluster="${DEMO_KIND_CLUSTER:-outbox-relay}"
image="outbox-relay:kind"

if ! command -v kind >/dev/null 2>&1; then
  echo "demo-clean: kind is not installed; no kind cluster to delete"
elif kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  kind delete cluster --name "$cluster"
else
  echo "demo-clean: no kind cluster '$cluster'"
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  if docker image inspect "$image" >/dev/null 2>&1; then
    docker image rm "$image"
  else
    echo "demo-clean: no image $image"
  fi
else
  echo "demo-clean: no Docker engine answers; no image to remove"
fi

if [[ -d .demo ]]; then
  rm -rf .demo
  echo "demo-clean: removed .demo/ (demo logs)"
fi
