#!/usr/bin/env bash
# Builds the libraries the WebAssembly build links (scripts/wasm.sh) for
# wasm32-emscripten, from Debian's source packages at the very versions of
# the native ones, so both builds run the same code:
#   - Abseil (all of it, static, through its CMake);
#   - protobuf: the lite runtime only (libprotobuf-lite);
#   - ICU: the common library only (normalization, case folding and
#     character properties have their data compiled in; stubdata stands in
#     for the data file, so there is no collation: lib/text/collate_wasm.cc);
#   - libmd: SHA-256 only (lib/access).
# Compiled with -O2 (a module is linked with -Oz: -Os code ran 20-40x slower).
#
# They go to a cache outside the tree, one folder per set of versions, so a
# fresh clone reuses them and a repeat run returns at once:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/shoplist/wasm-deps/<tag>/{include,lib}
# The prefix is printed on stdout; progress and timings go to stderr.
# Needs scripts/install-deps.sh --wasm first. SHOPLIST_WASM_JOBS (default:
# the number of cores) sets the build's parallelism.
set -euo pipefail

# Bump when the way these are built changes (flags, files): a new tag.
recipe=1

for tool in emcc emcmake dpkg-source; do
  command -v "$tool" >/dev/null ||
    { echo "wasm-deps: no $tool; run scripts/install-deps.sh --wasm" >&2; exit 1; }
done
# Debian's emcc runs Node with Debian's JS modules (acorn); NodeSource's
# node does not look there by itself.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}

src_of() { dpkg-query -W -f='${source:Package}=${source:Version}' "$1"; }
abseil=$(src_of libabsl-dev)
protobuf=$(src_of libprotobuf-dev)
icu=$(src_of libicu-dev)
libmd=$(src_of libmd-dev)
emscripten=$(dpkg-query -W -f='${Version}' emscripten)
tag="r${recipe}_emscripten-${emscripten%%~*}_${abseil/=/-}_${protobuf/=/-}_${icu/=/-}_${libmd/=/-}"

root="${XDG_CACHE_HOME:-$HOME/.cache}/shoplist/wasm-deps"
prefix="$root/$tag"
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock"
flock 9  # one builder at a time; a second waits, then finds the result
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

jobs="${SHOPLIST_WASM_JOBS:-$(nproc)}"
work="$root/work-$tag"
mkdir -p "$work" "$prefix/include" "$prefix/lib"
log="$work/build.log"
echo "wasm-deps: building into $prefix (log: $log)" >&2

# -O2 for everything; no debug assertions (as Debian's release builds).
release_flags="-O2 -DNDEBUG"
cmake_common=(-G Ninja -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_C_FLAGS_RELEASE=$release_flags"
  "-DCMAKE_CXX_FLAGS_RELEASE=$release_flags"
  -DCMAKE_CXX_STANDARD=20 -DCMAKE_CXX_STANDARD_REQUIRED=ON
  "-DCMAKE_INSTALL_PREFIX=$prefix")

# The unpacked source of package=version (Debian's patches applied).
source_dir() {
  local name="${1%%=*}"
  if [ ! -f "$work/.unpacked-$name" ]; then
    rm -rf "$work/src-$name"
    mkdir -p "$work/src-$name"
    (cd "$work/src-$name" && apt-get source -q "$1") >>"$log" 2>&1 ||
      { echo "wasm-deps: apt-get source $1 failed (see $log)" >&2; exit 1; }
    touch "$work/.unpacked-$name"
  fi
  # The one folder dpkg-source made.
  find "$work/src-$name" -mindepth 1 -maxdepth 1 -type d | head -n 1
}

current=""
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -n "$current" ]; then
    echo "wasm-deps: $current failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
  fi
}
trap on_exit EXIT

step() {  # step NAME FUNCTION: runs FUNCTION once, timed, stamped
  local name=$1 fn=$2 start
  [ -f "$prefix/.built-$name" ] && return 0
  start=$(date +%s%N)
  echo "wasm-deps: $name ..." >&2
  current=$name
  "$fn" >>"$log" 2>&1  # not in a condition, so that set -e holds inside
  current=""
  touch "$prefix/.built-$name"
  echo "wasm-deps: $name built in" \
    "$(( ($(date +%s%N) - start) / 1000000000 )) s" >&2
}

build_abseil() {
  local src
  src=$(source_dir "$abseil")
  # Debian's latomic.diff links -latomic with GNU ld options (for armel);
  # wasm-ld knows neither, and wasm needs no libatomic.
  if grep -q -- -latomic "$src/absl/copts/AbseilConfigureCopts.cmake"; then
    patch -R -p1 -d "$src" <"$src/debian/patches/latomic.diff"
  fi
  nice emcmake cmake -S "$src" -B "$work/build-abseil" "${cmake_common[@]}" \
    -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF -DABSL_BUILD_TESTING=OFF
  nice cmake --build "$work/build-abseil" -j "$jobs"
  cmake --install "$work/build-abseil"
}

build_protobuf() {
  local src
  src=$(source_dir "$protobuf")
  nice emcmake cmake -S "$src" -B "$work/build-protobuf" "${cmake_common[@]}" \
    -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_BUILD_PROTOC_BINARIES=OFF \
    -Dprotobuf_BUILD_LIBPROTOC=OFF -Dprotobuf_WITH_ZLIB=OFF \
    -Dprotobuf_BUILD_SHARED_LIBS=OFF -Dprotobuf_BUILD_EXAMPLES=OFF
  nice cmake --build "$work/build-protobuf" -j "$jobs" --target libprotobuf-lite
  # Its install rule wants the full runtime too: copy the lite one by hand.
  cp "$work/build-protobuf/libprotobuf-lite.a" "$prefix/lib/"
  (cd "$src/src" &&
    find google \( -name '*.h' -o -name '*.inc' \) \
      -exec cp --parents -t "$prefix/include" {} +)
}

# ICU's configure cross build is heavy; common/ is one folder of sources.
build_icu() {
  local src
  src=$(source_dir "$icu")/source
  mkdir -p "$work/icu-cmake"
  cat >"$work/icu-cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(icu_common CXX)
file(GLOB sources "${ICU_SOURCE}/common/*.cpp")
add_library(icuuc STATIC ${sources} "${ICU_SOURCE}/stubdata/stubdata.cpp")
target_include_directories(icuuc PRIVATE "${ICU_SOURCE}/common"
                                         "${ICU_SOURCE}/stubdata")
target_compile_definitions(icuuc PRIVATE U_COMMON_IMPLEMENTATION
  U_STATIC_IMPLEMENTATION U_ATTRIBUTE_DEPRECATED= U_HAVE_STRTOD_L=0)
CMAKE
  nice emcmake cmake -S "$work/icu-cmake" -B "$work/build-icu" \
    "${cmake_common[@]}" "-DICU_SOURCE=$src"
  nice cmake --build "$work/build-icu" -j "$jobs"
  cp "$work/build-icu/libicuuc.a" "$prefix/lib/"
  mkdir -p "$prefix/include/unicode"
  cp "$src"/common/unicode/*.h "$prefix/include/unicode/"
}

# SHA-256 of libmd: one C file; wasm32 is little-endian, so its config.h
# has nothing to say.
build_libmd() {
  local src
  src=$(source_dir "$libmd")
  mkdir -p "$work/build-libmd"
  : >"$work/build-libmd/config.h"
  nice emcc $release_flags -c "$src/src/sha2.c" -o "$work/build-libmd/sha2.o" \
    -I "$work/build-libmd" -I "$src/include" -I "$src/src"
  rm -f "$prefix/lib/libmd.a"
  emar rcs "$prefix/lib/libmd.a" "$work/build-libmd/sha2.o"
  cp "$src/include/sha2.h" "$prefix/include/"
}

start=$(date +%s)
step libmd build_libmd
step protobuf build_protobuf
step icu build_icu
step abseil build_abseil
printf '%s\n' "$abseil" "$protobuf" "$icu" "$libmd" "emscripten=$emscripten" \
  >"$prefix/VERSIONS"
touch "$prefix/.complete"
rm -rf "$work"
echo "wasm-deps: done in $(($(date +%s) - start)) s" >&2
echo "$prefix"
