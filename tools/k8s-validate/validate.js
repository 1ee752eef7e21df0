#!/usr/bin/env node
'use strict';
// Offline validation of the Kubernetes manifests (no cluster needed):
//   node tools/k8s-validate/validate.js [--binary=PATH]... K8S_DIR
// renders K8S_DIR's kustomization (lib/kustomize.js), validates every object
// against the Kubernetes schemas and rejects unknown fields (lib/schema.js),
// checks references and our conventions (lib/checks.js), and, for each
// --binary given, that the manifests pass that binary only flags it accepts
// (lib/flags.js). Prints every problem; exits 1 if there is any.
const path = require('path');
const { render } = require('./lib/kustomize');
const { checkSchema } = require('./lib/schema');
const { checkObjects } = require('./lib/checks');
const { readFlags, checkFlags } = require('./lib/flags');

// All problems of already rendered objects.
function checkAll(objects, binaries) {
  const errors = [];
  for (const o of objects) checkSchema(o, errors);
  checkObjects(objects, errors);
  checkFlags(objects, binaries, errors);
  return errors;
}

// binaryPaths -> Map(name -> flags)
function loadBinaries(binaryPaths) {
  return new Map(binaryPaths.map((p) => [path.basename(p), readFlags(p)]));
}

function parseArgs(argv) {
  const binaries = argv
    .filter((a) => a.startsWith('--binary='))
    .map((a) => a.slice('--binary='.length));
  const rest = argv.filter((a) => !a.startsWith('--binary='));
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    console.error('usage: validate.js [--binary=PATH]... K8S_DIR');
    process.exit(2);
  }
  return { dir: path.resolve(rest[0]), binaries };
}

function main() {
  const { dir, binaries } = parseArgs(process.argv.slice(2));
  const errors = [];
  const objects = render(dir, errors);
  let flags = new Map();
  try {
    flags = loadBinaries(binaries);
  } catch (e) {
    errors.push(e.message);
  }
  errors.push(...checkAll(objects, flags));
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length) {
    console.error(`k8s-validate: ${errors.length} problem(s) in ${dir}`);
    process.exit(1);
  }
  const kinds = objects
    .map((o) => `${o.obj.kind}/${o.obj.metadata.name}`)
    .join(', ');
  console.log(
    `k8s-validate: ${objects.length} objects OK (${kinds}); flags checked for ${binaries.map((b) => path.basename(b)).join(', ') || 'no binary'}`,
  );
}

if (require.main === module) main();
module.exports = { render, checkAll, loadBinaries, parseArgs };
