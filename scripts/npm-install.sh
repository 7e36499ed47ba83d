#!/usr/bin/env bash
# `npm ci`, with one known exception handled: npm leaves out of package-lock.json the other platforms' optional
# binaries (e.g. @swc/core-darwin-arm64) that its registry does not serve, and `npm ci` then refuses the lock as
# "out of sync" although it pins everything this machine installs. In that case install from the same lock with
# `npm install --no-save` (package.json and package-lock.json stay untouched). Any other failure is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if npm ci --no-audit --no-fund 2>&1 | tee "$log"; then
  exit 0
fi
if grep -q 'can only install packages when your package.json and package-lock.json' "$log"; then
  echo "npm ci refused package-lock.json (entries for other platforms' optional packages are missing);" \
    "installing from the same lock with npm install --no-save" >&2
  npm install --no-save --no-audit --no-fund
else
  exit 1
fi
