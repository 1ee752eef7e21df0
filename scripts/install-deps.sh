#!/usr/bin/env bash
# Installs the Debian 12 packages shoplist builds and tests with, only when
# some are missing, so repeated runs cost nothing. Needs root (or sudo).
#   scripts/install-deps.sh [--sanitizers]   (also clang and its sanitizers)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libleveldb-dev libsnappy-dev libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libgoogle-perftools-dev libunwind-dev prometheus-cpp-dev libcpp-httplib-dev libssl-dev libcli11-dev nlohmann-json3-dev libicu-dev grpc-proto python3-grpcio python3-protobuf
  iptables iproute2 util-linux
)
# The sanitized and fuzz builds (scripts/sanitize.sh, scripts/fuzz.sh).
if [ "${1:-}" = --sanitizers ]; then
  packages+=(clang libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
