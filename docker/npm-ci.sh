#!/bin/sh
# `npm ci` for the image build, with extra flags (e.g. --omit=dev). Same exception as scripts/npm-install.sh: npm
# leaves other platforms' optional binaries out of package-lock.json and `npm ci` may then call the lock "out of
# sync" although it pins everything Linux installs; in that one case install from the same lock with
# `npm install --no-save`. Any other failure fails the build.
set -eu
log="$(mktemp)"
if npm ci --no-audit --no-fund "$@" >"$log" 2>&1; then
  cat "$log"
  rm -f "$log"
  exit 0
fi
cat "$log"
if grep -q 'can only install packages when your package.json and package-lock.json' "$log"; then
  rm -f "$log"
  echo "npm ci refused the lock (other platforms' optional packages missing); npm install --no-save from the same lock" >&2
  exec npm install --no-save --no-audit --no-fund "$@"
fi
rm -f "$log"
exit 1
