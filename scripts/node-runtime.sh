#!/usr/bin/env bash
# Prints the directory to put first on PATH so that make and .ci/run run on a supported Node (README: 22, 24, 26).
#   scripts/node-runtime.sh          the system Node when it is supported (prints nothing), else the newest LTS
#   scripts/node-runtime.sh 22       that major line, whatever the system has (CI's run on the oldest supported)
# Node binaries come from the npm registry's `node` package, installed once per line into .tools/node-<major>
# (gitignored); anything it says goes to stderr, so `$(bash scripts/node-runtime.sh)` is only the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

# The exact versions CI runs; the oldest is the floor of package.json's engines (>=22.15, OpenTelemetry's floor).
declare -A PINNED=([22]=22.23.3 [24]=24.21.0 [26]=26.10.0)
NEWEST=26
OLDEST_SUPPORTED=22

major="${1:-}"
if [[ -z "$major" ]]; then
  system_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if (( system_major >= OLDEST_SUPPORTED )); then exit 0; fi
  major=$NEWEST
fi
version="${PINNED[$major]:-}"
if [[ -z "$version" ]]; then
  echo "node-runtime: Node $major is not a supported line (supported: ${!PINNED[*]})" >&2
  exit 2
fi

prefix=".tools/node-$major"
bin="$PWD/$prefix/node_modules/node/bin"
if [[ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]]; then
  echo "node-runtime: installing Node $version into $prefix (npm registry package node@$version)" >&2
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$prefix" "node@$version" >&2
  "$bin/node" --version >/dev/null
fi
echo "$bin"
