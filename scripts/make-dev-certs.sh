#!/usr/bin/env bash
# Makes development TLS material and a cluster token in DIR:
#   ca.crt ca.key   a throwaway CA (10 years)
#   tls.crt tls.key one server+client certificate signed by it, for every
#                   proxy and node: names for loopback, the Kubernetes
#                   Services of k8s/ (namespace $SHOPLIST_NAMESPACE, default
#                   "default") and any extra DNS names given
#   token           a random cluster token
# Existing files are kept, so re-running is harmless. Not for production:
# the CA key sits next to the certificates.
#   scripts/make-dev-certs.sh DIR [EXTRA_DNS_NAME...]
set -euo pipefail
dir="${1:?usage: make-dev-certs.sh DIR [EXTRA_DNS_NAME...]}"
shift
ns="${SHOPLIST_NAMESPACE:-default}"
command -v openssl >/dev/null || {
  echo "make-dev-certs: openssl is missing (apt-get install openssl)" >&2
  exit 1
}
mkdir -p "$dir"
cd "$dir"
umask 077

if [ ! -f ca.crt ] || [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.crt -days 3650 -subj "/CN=shoplist dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

if [ ! -f tls.crt ] || [ ! -f tls.key ]; then
  names=(localhost shoplist "shoplist.$ns" "shoplist.$ns.svc"
         "shoplist.$ns.svc.cluster.local")
  for svc in shoplist-node shoplist-proxy; do
    names+=("*.$svc" "*.$svc.$ns" "*.$svc.$ns.svc"
            "*.$svc.$ns.svc.cluster.local")
  done
  names+=("$@")
  san="IP:127.0.0.1,IP:::1"
  for n in "${names[@]}"; do san="$san,DNS:$n"; done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout tls.key -out tls.csr -subj "/CN=shoplist" 2>/dev/null
  ext="$(mktemp)"
  printf '%s\n' "subjectAltName=$san" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "keyUsage=critical,digitalSignature,keyEncipherment" >"$ext"
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out tls.crt -days 825 -extfile "$ext" 2>/dev/null
  rm -f tls.csr "$ext" ca.srl
fi

if [ ! -f token ]; then
  openssl rand -hex 32 >token
fi
chmod 600 ca.key tls.key token
chmod 644 ca.crt tls.crt
echo "make-dev-certs: CA, certificate and token in $(pwd)"
