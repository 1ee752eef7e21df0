#!/usr/bin/env bash
# CTest js_lint: the project's JavaScript (the page of `shoplist-cli ui`,
# the browser test, the WebAssembly glue and its tests, the phone app,
# the Kubernetes manifests' checker) formatted as
# Prettier would and free of ESLint findings, each function of the page at
# most 40 lines (tests/ui/prettier.config.mjs, tests/ui/eslint.config.mjs).
# Exits non-zero on any finding.
#   scripts/lint-js.sh          check
#   scripts/lint-js.sh --fix    reformat in place and apply ESLint's fixes
# Installs Node.js/npm and the locked npm packages of tests/ui when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/ui/npm_packages.sh
source "$root/tests/ui/npm_packages.sh"
ui_npm_ci

cd "$root"
shopt -s nullglob
files=(clients/ui/assets/*.js tests/ui/*.mjs tests/wasm/*.mjs
       clients/wasm/*.mjs clients/wasm/*.js clients/web/*.mjs clients/web/*.js
       tools/k8s-validate/*.js tools/k8s-validate/lib/*.js)
bin=tests/ui/node_modules/.bin
prettier=("$bin/prettier" --config tests/ui/prettier.config.mjs)
# --config: the patterns in the config are then relative to this directory.
eslint=("$bin/eslint" --config tests/ui/eslint.config.mjs --max-warnings 0)

if [ "${1:-}" = --fix ]; then
  "${prettier[@]}" --write "${files[@]}"
  exec "${eslint[@]}" --fix "${files[@]}"
fi
status=0
"${prettier[@]}" --check "${files[@]}" || status=1
"${eslint[@]}" "${files[@]}" || status=1
exit "$status"
