# shoplist container image: shoplist-proxy, shoplist-node and shoplist-cli in
# /usr/local/bin of a slim Debian 12, run as uid 10001 with state in /data.
#
#   docker/make-base-image.sh            # the base image (no registry needed)
#   docker build -t shoplist:latest .    # add --build-arg BUILD_JOBS=2 to go faster
#   docker run -d --name proxy -p 127.0.0.1:7000:7000 -v proxy-data:/data \
#     -e SHOPLIST_CLUSTER_TOKEN="$token" \
#     shoplist:latest shoplist-proxy --listen 0.0.0.0:7000 --data /data
#   docker run -d --name node-0 -v node-0-data:/data \
#     -e SHOPLIST_CLUSTER_TOKEN="$token" shoplist:latest \
#     shoplist-node --id node-0 --listen 0.0.0.0:7001 --advertise node-0:7001 \
#       --proxy proxy:7000 --data /data         # on one user-defined network
#
# Servers on 0.0.0.0 refuse to start without a cluster token (or TLS, or
# --insecure). docker/smoke-test.sh runs a 1-proxy, 3-node cluster from
# this image.

# The base comes from debootstrap + `docker import` (docker/make-base-image.sh);
# any Debian 12 image works, e.g. --build-arg BASE_IMAGE=debian:bookworm-slim.
ARG BASE_IMAGE=shoplist/debian:bookworm

FROM ${BASE_IMAGE} AS deps
# The same packages as a developer machine, emscripten included, and the
# libraries the WebAssembly module links, built from Debian's source
# packages (scripts/wasm-deps.sh caches them in /root/.cache). These layers
# are cached until the two scripts change, so a rebuild after a change of
# the sources only compiles shoplist (docker/smoke-test.sh tags this stage
# shoplist/build-deps, which keeps it when old builds are pruned).
COPY scripts/install-deps.sh scripts/wasm-deps.sh /tmp/deps/
RUN /tmp/deps/install-deps.sh --wasm
RUN NODE_PATH=/usr/share/nodejs /tmp/deps/wasm-deps.sh >/dev/null
LABEL org.shoplist.stage=deps

FROM deps AS build
LABEL org.shoplist.stage=build
# Parallel compile jobs; each gRPC-heavy file needs about 1 GiB.
ARG BUILD_JOBS=1
# No compiler cache inside a throwaway build stage.
ENV CCACHE_DISABLE=1
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSHOPLIST_BUILD_BENCHMARKS=OFF \
 && cmake --build /build -j"${BUILD_JOBS}" \
      --target shoplist-proxy shoplist-node shoplist-cli shoplist-admin \
 && mkdir -p /out/bin \
 && cp /build/services/proxy/shoplist-proxy /build/services/node/shoplist-node \
       /build/clients/cli/shoplist-cli /build/clients/admin/shoplist-admin \
       /out/bin/ \
 && strip --strip-debug /out/bin/*  # symbols kept: crash stacks name functions
# The phone app the proxy serves (--web-root): the client core in
# WebAssembly (emscripten, and the libraries it links built from Debian's
# source packages) with the page's files.
RUN scripts/wasm.sh \
 && cp -r build-wasm/web /out/web

FROM ${BASE_IMAGE} AS runtime
LABEL org.shoplist.stage=runtime
# Only the shared libraries the binaries link (found with ldd); their own
# dependencies (libgrpc29, libssl3, libre2-9, libfmt9, libsnappy1v5, ...)
# come with them.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libleveldb1d libspdlog1.10 \
      libtcmalloc-minimal4 libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 \
      libcpp-httplib0.11 libicu72 libunwind8 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log \
 && groupadd --gid 10001 shoplist \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin shoplist \
 && mkdir /data && chown 10001:10001 /data
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/web/ /usr/local/share/shoplist/web/
# Fail the build if any shared library is missing.
RUN for b in shoplist-proxy shoplist-node shoplist-cli shoplist-admin; do \
      ldd "/usr/local/bin/$b" | grep 'not found' && { echo "$b: missing libraries" >&2; exit 1; }; \
    done; \
    shoplist-cli --help >/dev/null

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# 7000: shoplist-proxy, 7001: shoplist-node, 8443: the proxy's web front
# door (the ports the examples use).
EXPOSE 7000 7001 8443
# The servers block SIGTERM and wait for it, so they stop cleanly as PID 1
# on `docker stop`. The image runs whichever of the three binaries is given.
# On 0.0.0.0 they need -e SHOPLIST_CLUSTER_TOKEN (or TLS) to start.
CMD ["shoplist-proxy", "--listen=0.0.0.0:7000", "--data=/data"]
