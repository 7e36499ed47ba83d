#!/usr/bin/env bash
# Local stand-ins for the Postgres and NATS images the container path of the tests starts, for machines that
# cannot pull from a registry (the development machines reach Debian's packages, not Docker Hub). Built with
# podman from Debian packages, tagged with the names the tests ask for, so testcontainers finds them locally:
#   1. a Debian bookworm root filesystem (debootstrap --variant=minbase), cached as .containers/bookworm-minbase.tar
#      (gitignored), imported as localhost/outbox-relay-standin-base:bookworm;
#   2. scripts/containers/standins/postgres -> $OUTBOX_TEST_POSTGRES_IMAGE (default postgres:15; Debian's 15)
#      scripts/containers/standins/nats     -> $OUTBOX_TEST_NATS_IMAGE (default nats:2.10; Debian's 2.9 server)
# An image is rebuilt only when its recipe (Containerfile, entry point) changed: each carries the recipe's hash.
# Where the real images can be pulled (a laptop with Docker), none of this is needed.
#   DEBIAN_MIRROR  mirror for debootstrap (default http://deb.debian.org/debian)
#   STANDIN_CACHE  cache folder (default .containers in the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."

POSTGRES_IMAGE="${OUTBOX_TEST_POSTGRES_IMAGE:-postgres:15}"
NATS_IMAGE="${OUTBOX_TEST_NATS_IMAGE:-nats:2.10}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE="${STANDIN_CACHE:-.containers}"
BASE=localhost/outbox-relay-standin-base:bookworm
RECIPES=scripts/containers/standins
say() { printf '  %s\n' "$*"; }
fail() { printf 'build-standins: %s\n' "$*" >&2; exit 1; }

command -v podman >/dev/null || fail "podman is not installed; run scripts/containers/podman-setup.sh first"

# 1. The base: a bookworm root filesystem -----------------------------------------------------------------------
if podman image exists "$BASE"; then
  say "base $BASE: present"
else
  tarball="$CACHE/bookworm-minbase.tar"
  if [[ ! -s "$tarball" ]]; then
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap, or run scripts/containers/podman-setup.sh)"
    [[ "$(id -u)" == 0 ]] || fail "debootstrap needs root"
    mkdir -p "$CACHE"
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap bookworm (minbase) from $MIRROR into $rootfs (a few minutes, once)"
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
      || fail "debootstrap failed; see $CACHE/debootstrap.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
  fi
  say "importing $tarball as $BASE"
  podman import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
fi

# 2. The stand-ins ----------------------------------------------------------------------------------------------
build() { # name recipe-folder
  local name="$1" dir="$2" hash current
  hash="$(cat "$dir"/* | sha256sum | cut -c1-16)"
  current="$(podman image inspect --format '{{index .Labels "outbox-relay.standin-recipe"}}' "$name" 2>/dev/null || true)"
  if [[ "$current" == "$hash" ]]; then
    say "$name: up to date (recipe $hash)"
    return
  fi
  say "building $name from $dir (recipe $hash)"
  local started=$SECONDS
  podman build --network host --quiet --build-arg "BASE=$BASE" --label "outbox-relay.standin-recipe=$hash" \
    --label "outbox-relay.standin=true" -t "$name" -f "$dir/Containerfile" "$dir" > "$CACHE/build-$(basename "$dir").log" 2>&1 \
    || fail "podman build of $name failed; see $CACHE/build-$(basename "$dir").log"
  say "$name: built in $((SECONDS - started)) s"
}
mkdir -p "$CACHE"
build "$POSTGRES_IMAGE" "$RECIPES/postgres"
build "$NATS_IMAGE" "$RECIPES/nats"
podman images --filter label=outbox-relay.standin=true --format '  {{.Repository}}:{{.Tag}}  {{.Size}}'
