#!/usr/bin/env node
'use strict';
// Proves the checks still bite (say after a kubernetes-models update):
//   node tools/k8s-validate/selftest.js [--binary=PATH]... K8S_DIR
// K8S_DIR must pass; then each case below breaks one thing in a copy of the
// rendered objects and must produce an error matching its pattern.
const { render, checkAll, loadBinaries, parseArgs } = require('./validate');

const kind = (objs, k, name) => objs.find((o) => o.obj.kind === k && o.obj.metadata.name === name).obj;
const node = (objs) => kind(objs, 'StatefulSet', 'shoplist-node');
const nodeContainer = (objs) => node(objs).spec.template.spec.containers[0];

const CASES = [
  ['unknown flag', /has no flag --no-such-flag/, (o) => nodeContainer(o).args.push('--no-such-flag=1')],
  ['flag without =value', /not in --flag=value form/, (o) => nodeContainer(o).args.push('--data')],
  ['wrong type', /spec\/replicas must be integer/, (o) => { node(o).spec.replicas = 'three'; }],
  ['unknown top-level field', /unknown field specs/, (o) => { node(o).specs = {}; }],
  ['unknown container field', /unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/,
    (o) => { nodeContainer(o).readinesProbe = nodeContainer(o).readinessProbe; }],
  ['unknown deep field', /unknown field .*grpc\.prot\b/, (o) => { nodeContainer(o).livenessProbe.grpc.prot = 1; }],
  ['unknown field in a claim template', /unknown field spec\.volumeClaimTemplates\[0\]\.spec\.resources\.request\b/,
    (o) => { node(o).spec.volumeClaimTemplates[0].spec.resources.request = {}; }],
  ['selector mismatch', /does not match the pod template's labels/,
    (o) => { node(o).spec.selector.matchLabels['app.kubernetes.io/component'] = 'nodes'; }],
  ['mount of no volume', /volumeMount nope names no volume/,
    (o) => nodeContainer(o).volumeMounts.push({ name: 'nope', mountPath: '/nope' })],
  ['undefined $(VAR)', /\$\(NOT_DEFINED\)/, (o) => nodeContainer(o).args.push('--state-cache-mib=$(NOT_DEFINED)')],
  ['probe on undeclared port', /probes gRPC port 7999/, (o) => { nodeContainer(o).readinessProbe.grpc.port = 7999; }],
  ['ConfigMap port drift', /uses port 7002/, (o) => { kind(o, 'ConfigMap', 'shoplist-config').data.NODE_PORT = '7002'; }],
  ['missing limits', /needs resources\.requests\.memory and resources\.limits\.memory/,
    (o) => { delete nodeContainer(o).resources.limits.memory; }],
  ['unknown Secret', /Secret missing is not in the kustomization/,
    (o) => { node(o).spec.template.spec.volumes[0].secret.secretName = 'missing'; }],
  ['runs as root', /must run as non-root/, (o) => { node(o).spec.template.spec.securityContext.runAsUser = 0; }],
  ['Service port', /targetPort 7777 is no container port/, (o) => { kind(o, 'Service', 'shoplist').spec.ports[0].targetPort = 7777; }],
];

function main() {
  const { dir, binaries } = parseArgs(process.argv.slice(2));
  const flags = loadBinaries(binaries);
  const renderErrors = [];
  const objects = render(dir, renderErrors);
  const clean = [...renderErrors, ...checkAll(objects, flags)];
  if (clean.length) {
    console.error(`selftest: ${dir} must pass first:\n  ${clean.join('\n  ')}`);
    process.exit(1);
  }
  let failed = 0;
  for (const [name, pattern, breakIt] of CASES) {
    const copy = JSON.parse(JSON.stringify(objects));
    breakIt(copy);
    const errors = checkAll(copy, flags);
    const hit = errors.find((e) => pattern.test(e));
    if (!hit) failed++;
    console.log(hit ? `caught: ${name}: ${hit}` : `MISSED: ${name} (errors: ${errors.join('; ') || 'none'})`);
  }
  console.log(`selftest: ${CASES.length - failed} of ${CASES.length} broken manifests caught`);
  process.exit(failed ? 1 : 0);
}

main();
