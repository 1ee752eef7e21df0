#!/usr/bin/env bash
# Makes the local Debian 12 base image the Dockerfile builds from, because no
# image registry is reachable here: debootstrap (minbase) from Debian's
# mirror, then `docker import`. Does nothing when the image already exists.
# On the way it installs docker.io and debootstrap if missing and starts a
# dockerd in the background if no daemon answers.
#   docker/make-base-image.sh          (image: $SHOPLIST_BASE_IMAGE or
#                                       shoplist/debian:bookworm)
# Environment: SHOPLIST_BASE_IMAGE, DEBIAN_MIRROR (http://deb.debian.org/debian),
# DOCKERD_LOG (/var/log/shoplist-dockerd.log), DOCKERD_ARGS (extra dockerd
# flags, e.g. "--storage-driver=vfs" or "--iptables=false").
# Needs root (or sudo).
set -euo pipefail

image="${SHOPLIST_BASE_IMAGE:-shoplist/debian:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
dockerd_log="${DOCKERD_LOG:-/var/log/shoplist-dockerd.log}"
[ "$(id -u)" -ne 0 ] && [ -z "${DOCKERD_LOG:-}" ] && dockerd_log=/tmp/shoplist-dockerd.log

say() { echo "make-base-image: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)

# 1. Tools. A docker client alone is not enough: the daemon comes with docker.io.
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# 2. A daemon. Started detached (own session), so it outlives this script.
if ! docker info >/dev/null 2>&1; then
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "a dockerd is running but does not answer yet; waiting"
  else
    say "starting dockerd ${DOCKERD_ARGS:-} (log: $dockerd_log)"
    # shellcheck disable=SC2086  # DOCKERD_ARGS is a list of flags
    "${sudo_cmd[@]}" setsid nohup dockerd ${DOCKERD_ARGS:-} </dev/null >>"$dockerd_log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 ||
    die "no Docker daemon answers after 60 s; see $dockerd_log (try DOCKERD_ARGS=\"--storage-driver=vfs\" or \"--iptables=false --bridge=none\")"
fi

# 3. The image.
if docker image inspect "$image" >/dev/null 2>&1; then
  say "$image already exists"
  exit 0
fi

dir="$(mktemp -d /var/tmp/shoplist-rootfs.XXXXXX)"
trap '"${sudo_cmd[@]}" rm -rf "$dir"' EXIT
say "debootstrap --variant=minbase bookworm from $mirror into $dir (a few minutes)"
start=$SECONDS
"${sudo_cmd[@]}" debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || {
  tail -n 30 "$dir.log" >&2
  rm -f "$dir.log"
  die "debootstrap failed"
}
rm -f "$dir.log"

# What Debian's own container images do: updates and security suites, no
# recommends, no documentation or translations, no package cache kept.
"${sudo_cmd[@]}" tee "$dir/etc/apt/sources.list" >/dev/null <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SOURCES
"${sudo_cmd[@]}" tee "$dir/etc/apt/apt.conf.d/90container" >/dev/null <<'APTCONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APTCONF
"${sudo_cmd[@]}" tee "$dir/etc/dpkg/dpkg.cfg.d/90container-excludes" >/dev/null <<'DPKGCFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKGCFG
"${sudo_cmd[@]}" sh -c "cd '$dir' && rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/*.log var/log/apt/* usr/share/man/* usr/share/info/* usr/share/locale/*"
"${sudo_cmd[@]}" find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true

say "importing as $image"
"${sudo_cmd[@]}" tar --numeric-owner -C "$dir" -c . |
  docker import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase bookworm $mirror" - "$image" >/dev/null
say "$image made in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
