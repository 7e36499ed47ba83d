#!/usr/bin/env bash
# The operator chart renders the CRD from files/crd/outboxrelays.yaml (templates/crd.yaml: a template, so that
# `helm upgrade` updates it, which Helm never does for a chart's crds/ folder); its one source of truth is
# deploy/crd/outboxrelays.yaml (generated from services/operator/src/api/crd.ts). This copies it byte for byte.
#   scripts/sync-chart-crd.sh           copy deploy/crd/outboxrelays.yaml into the chart
#   scripts/sync-chart-crd.sh --check   exit 1 if the chart's copy differs (make helm-lint; a test checks it too)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source_crd=deploy/crd/outboxrelays.yaml
chart_crd=helm/outbox-relay-operator/files/crd/outboxrelays.yaml

if [[ "${1:-}" == "--check" ]]; then
  if cmp -s "$source_crd" "$chart_crd"; then
    echo "$chart_crd is identical to $source_crd"
    exit 0
  fi
  echo "$chart_crd differs from $source_crd; run: scripts/sync-chart-crd.sh" >&2
  exit 1
fi
mkdir -p "$(dirname "$chart_crd")"
cp "$source_crd" "$chart_crd"
echo "copied $source_crd to $chart_crd"
