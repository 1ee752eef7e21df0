#!/usr/bin/env bash
# CTest k8s_manifests: checks k8s/ and k8s/ with its backup Component
# k8s/backup/ offline (no cluster) with tools/k8s-validate.
#   k8s_manifests_test.sh SOURCE_DIR NODE_BINARY PROXY_BINARY ADMIN_BINARY
# Installs Node.js/npm (Debian packages) and the locked npm packages when
# they are missing, so it works on a fresh Debian 12 machine.
set -euo pipefail
src=$1 node_bin=$2 proxy_bin=$3 admin_bin=$4
tool=$src/tools/k8s-validate

if ! command -v npm >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "k8s_manifests: installing nodejs npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi
# npm ci records what it installed in node_modules/.package-lock.json;
# install again when the committed lock is newer. The lock file keeps two
# build trees testing at once from installing over each other.
(
  flock 9
  if [ ! -f "$tool/node_modules/.package-lock.json" ] ||
     [ "$tool/package-lock.json" -nt "$tool/node_modules/.package-lock.json" ]; then
    cd "$tool" && npm ci --no-audit --no-fund >&2
  fi
) 9>"$tool/.npm-ci.lock"

# A copy of k8s/ whose secrets/ holds throwaway files, never real keys.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/k8s" "$work/k8s"
find "$work/k8s/secrets" -type f ! -name README.md ! -name .gitignore -delete
binaries=(--binary="$node_bin" --binary="$proxy_bin" --binary="$admin_bin")

# Without the files of the secretGenerator, kubectl apply -k fails: so must we.
if node "$tool/validate.js" "${binaries[@]}" "$work/k8s" >"$work/out" 2>&1 ||
   ! grep -q 'file secrets/token does not exist' "$work/out"; then
  cat "$work/out"
  echo "k8s_manifests: FAIL: missing k8s/secrets files went unnoticed" >&2
  exit 1
fi

# What scripts/make-dev-certs.sh writes; the validator does not read PEM.
for f in ca.crt tls.crt tls.key token; do
  echo "placeholder for $f" >"$work/k8s/secrets/$f"
done
node "$tool/validate.js" "${binaries[@]}" "$work/k8s"

# The cluster with nightly backups: an overlay beside k8s/, as an operator
# writes one (k8s/backup/kustomization.yaml).
mkdir "$work/with-backup"
cat >"$work/with-backup/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../k8s]
components: [../k8s/backup]
EOF
node "$tool/validate.js" "${binaries[@]}" "$work/with-backup"

# kubectl refuses an overlay inside its base ("cycle detected"): so must we.
mkdir "$work/k8s/nested"
printf 'resources: [../]\ncomponents: [../backup]\n' >"$work/k8s/nested/kustomization.yaml"
if node "$tool/validate.js" "${binaries[@]}" "$work/k8s/nested" >"$work/out" 2>&1 ||
   ! grep -q 'cycle detected' "$work/out"; then
  cat "$work/out"
  echo "k8s_manifests: FAIL: an overlay inside its base went unnoticed" >&2
  exit 1
fi
rm -r "$work/k8s/nested"

# And each check must still catch what it is for, in the base and the
# backup CronJob alike (the overlay holds both).
node "$tool/selftest.js" "${binaries[@]}" "$work/with-backup"
