#!/usr/bin/env bash
# Installs the Debian 12 packages shoplist builds and tests with, only when
# some are missing, so repeated runs cost nothing. Needs root (or sudo).
#   scripts/install-deps.sh [--sanitizers] [--wasm]
#     --sanitizers  also clang and its sanitizers (sanitize.sh, fuzz.sh)
#     --wasm        also Debian's emscripten, and deb-src entries beside the
#                   machine's deb ones so that scripts/wasm-deps.sh can
#                   fetch Debian's source packages (apt-get source)
set -euo pipefail

sanitizers=0
wasm=0
for arg in "$@"; do
  case "$arg" in
    --sanitizers) sanitizers=1 ;;
    --wasm) wasm=1 ;;
    *) echo "usage: $0 [--sanitizers] [--wasm]" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config ccache clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libleveldb-dev libsnappy-dev libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libgoogle-perftools-dev libunwind-dev prometheus-cpp-dev libcpp-httplib-dev libssl-dev libcli11-dev nlohmann-json3-dev libicu-dev libmd-dev libboost1.81-dev grpc-proto python3-grpcio python3-protobuf
  node-qrcode-generator
  iptables iproute2 util-linux
)
# The sanitized and fuzz builds (scripts/sanitize.sh, scripts/fuzz.sh).
if [ $sanitizers = 1 ]; then
  packages+=(clang libclang-rt-14-dev llvm-14)
fi
# The WebAssembly build (scripts/wasm.sh): emscripten 3.1.6 with its
# binaryen; dpkg-dev unpacks the source packages.
if [ $wasm = 1 ]; then
  packages+=(emscripten binaryen dpkg-dev xz-utils)
fi

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ $wasm = 1 ] || exit 0

# deb-src entries: a file of our own that repeats the machine's deb822
# entries with "Types: deb-src" (the machine's files stay as they are),
# unless its sources already have deb-src entries.
machine_sources=/etc/apt/sources.list.d/debian.sources
src_file=/etc/apt/sources.list.d/shoplist-deb-src.sources
has_src() {
  grep -qsE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources ||
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list
}
if ! has_src; then
  if [ -f "$machine_sources" ]; then
    wanted=$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
      /(^|\n)Types:[^\n]*deb/ {
        sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print
      }' "$machine_sources")
  else  # one-line style
    wanted=$(sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list)
    src_file=/etc/apt/sources.list.d/shoplist-deb-src.list
  fi
  [ -n "$wanted" ] || { echo "install-deps: no deb entries to copy" >&2; exit 1; }
  echo "install-deps: adding deb-src entries in $src_file" >&2
  printf '# Written by shoplist scripts/install-deps.sh --wasm\n%s\n' "$wanted" |
    "${sudo_cmd[@]}" tee "$src_file" >/dev/null
fi
# Update only when the source indexes are not there yet.
if ! apt-cache showsrc abseil 2>/dev/null | grep -q '^Package: abseil'; then
  echo "install-deps: apt-get update (source indexes)" >&2
  "${sudo_cmd[@]}" apt-get update -q
fi
