#!/usr/bin/env bash
# Make the Dockerfile's base image (debian:<release>-slim) locally from Debian's packages, for
# machines that reach Debian's mirror but no container registry: debootstrap a minimal root file
# system, then `docker import` it under the tag the Dockerfile names. Does nothing if the tag exists.
#
#   scripts/docker_base_image.sh [release]      (default: the release in the Dockerfile, trixie)
set -euo pipefail

release="${1:-$(sed -n 's/^ARG DEBIAN_IMAGE=debian:\([a-z]*\)-slim$/\1/p' "$(dirname "$0")/../Dockerfile")}"
tag="debian:${release}-slim"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag: present"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "error: making $tag needs root (debootstrap); run as root or load the official image" >&2
    exit 1
fi
if ! command -v debootstrap >/dev/null; then
    echo "installing debootstrap (Debian package)"
    apt-get install -y --no-install-recommends debootstrap >/dev/null
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap $release (minbase) from $mirror"
debootstrap --variant=minbase "$release" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2; echo "error: debootstrap $release failed (log above)" >&2; exit 1; }
rm -f "$root.log"
# As in the official slim image: the release, its updates and security, and no package lists.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $release main
deb $mirror $release-updates main
deb http://deb.debian.org/debian-security $release-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$tag" >/dev/null
echo "base image $tag: made with debootstrap and docker import"
