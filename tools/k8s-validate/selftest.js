#!/usr/bin/env node
'use strict';
// Proves the checks still bite (say after a kubernetes-models update):
//   node tools/k8s-validate/selftest.js [--binary=PATH]... DIR
// DIR must pass; then each case below breaks one thing in a copy of the
// rendered objects and must produce an error matching its pattern. The
// cases break both the base (k8s/) and the backup CronJob: DIR is a
// kustomization with `resources: [PATH/k8s]` and `components:
// [PATH/k8s/backup]` (tests/k8s/k8s_manifests_test.sh writes one).
const { render, checkAll, loadBinaries, parseArgs } = require('./validate');

function kind(objs, k, name) {
  const found = objs.find(
    (o) => o.obj.kind === k && o.obj.metadata.name === name,
  );
  if (!found)
    throw new Error(
      `no ${k}/${name} here: run the selftest on a kustomization with the component k8s/backup`,
    );
  return found.obj;
}
const node = (objs) => kind(objs, 'StatefulSet', 'shoplist-node');
const nodeContainer = (objs) => node(objs).spec.template.spec.containers[0];
const backupPod = (objs) =>
  kind(objs, 'CronJob', 'shoplist-backup').spec.jobTemplate.spec.template.spec;
const backup = (objs) => backupPod(objs).containers[0];
// The backup container's args with `from` replaced by `to`.
const swapArg = (objs, from, to) => {
  const { args } = backup(objs);
  if (!args.includes(from))
    throw new Error(`the backup CronJob passes no ${from}`);
  args[args.indexOf(from)] = to;
};

const CASES = [
  [
    'unknown flag',
    /has no flag --no-such-flag/,
    (o) => nodeContainer(o).args.push('--no-such-flag=1'),
  ],
  [
    'flag without =value',
    /not in --flag=value form/,
    (o) => nodeContainer(o).args.push('--data'),
  ],
  [
    'wrong type',
    /spec\/replicas must be integer/,
    (o) => {
      node(o).spec.replicas = 'three';
    },
  ],
  [
    'unknown top-level field',
    /unknown field specs/,
    (o) => {
      node(o).specs = {};
    },
  ],
  [
    'unknown container field',
    /unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/,
    (o) => {
      nodeContainer(o).readinesProbe = nodeContainer(o).readinessProbe;
    },
  ],
  [
    'unknown deep field',
    /unknown field .*grpc\.prot\b/,
    (o) => {
      nodeContainer(o).livenessProbe.grpc.prot = 1;
    },
  ],
  [
    'unknown field in a claim template',
    /unknown field spec\.volumeClaimTemplates\[0\]\.spec\.resources\.request\b/,
    (o) => {
      node(o).spec.volumeClaimTemplates[0].spec.resources.request = {};
    },
  ],
  [
    'selector mismatch',
    /does not match the pod template's labels/,
    (o) => {
      node(o).spec.selector.matchLabels['app.kubernetes.io/component'] =
        'nodes';
    },
  ],
  [
    'mount of no volume',
    /volumeMount nope names no volume/,
    (o) =>
      nodeContainer(o).volumeMounts.push({ name: 'nope', mountPath: '/nope' }),
  ],
  [
    'undefined $(VAR)',
    /\$\(NOT_DEFINED\)/,
    (o) => nodeContainer(o).args.push('--state-cache-mib=$(NOT_DEFINED)'),
  ],
  [
    'probe on undeclared port',
    /probes gRPC port 7999/,
    (o) => {
      nodeContainer(o).readinessProbe.grpc.port = 7999;
    },
  ],
  [
    'ConfigMap port drift',
    /uses port 7002/,
    (o) => {
      kind(o, 'ConfigMap', 'shoplist-config').data.NODE_PORT = '7002';
    },
  ],
  [
    'missing limits',
    /needs resources\.requests\.memory and resources\.limits\.memory/,
    (o) => {
      delete nodeContainer(o).resources.limits.memory;
    },
  ],
  [
    'unknown Secret',
    /Secret missing is not in the kustomization/,
    (o) => {
      node(o).spec.template.spec.volumes[0].secret.secretName = 'missing';
    },
  ],
  [
    'runs as root',
    /must run as non-root/,
    (o) => {
      node(o).spec.template.spec.securityContext.runAsUser = 0;
    },
  ],
  [
    'Service port',
    /targetPort 7777 is no container port/,
    (o) => {
      kind(o, 'Service', 'shoplist').spec.ports[0].targetPort = 7777;
    },
  ],
  // The CronJob's pods get the same checks, and shoplist-admin's CLI11
  // command line its own.
  [
    'unknown admin subcommand',
    /shoplist-admin has no subcommand 'backup-everything'/,
    (o) => swapArg(o, 'backup-all', 'backup-everything'),
  ],
  [
    'unknown admin option',
    /shoplist-admin has no option --no-such-flag\b/,
    (o) => backup(o).args.unshift('--no-such-flag=1'),
  ],
  [
    'unknown subcommand option',
    /shoplist-admin backup-all has no option --keeep\b/,
    (o) => swapArg(o, '--keep=7', '--keeep=7'),
  ],
  [
    'global option after the subcommand',
    /backup-all has no option --json \(it is shoplist-admin's: give it before/,
    (o) => {
      swapArg(o, '--json', '--timeout=30');
      backup(o).args.push('--json');
    },
  ],
  [
    'admin option without its value',
    /--proxy takes a value: write --proxy=VALUE/,
    (o) => {
      backup(o).args = backup(o).args.map((a) =>
        a.startsWith('--proxy=') ? '--proxy' : a,
      );
    },
  ],
  [
    'too many positionals',
    /'\/more': shoplist-admin backup-all takes no more positionals/,
    (o) => backup(o).args.push('/more'),
  ],
  [
    'missing positional',
    /backup-all needs its positional root/,
    (o) => {
      backup(o).args = backup(o).args.filter((a) => a !== '/backups');
    },
  ],
  [
    'CronJob without limits',
    /CronJob\/shoplist-backup: container backup: needs resources\.requests\.cpu and resources\.limits\.cpu/,
    (o) => {
      delete backup(o).resources.limits.cpu;
    },
  ],
  [
    'CronJob runs as root',
    /CronJob\/shoplist-backup: container backup: must run as non-root/,
    (o) => {
      backupPod(o).securityContext.runAsUser = 0;
    },
  ],
  [
    'CronJob unknown field',
    /CronJob\/shoplist-backup: unknown field spec\.jobTemplate\.spec\.template\.spec\.containers\[0\]\.resource\b/,
    (o) => {
      backup(o).resource = backup(o).resources;
    },
  ],
  [
    'CronJob undefined $(VAR)',
    /CronJob\/shoplist-backup: .*\$\(POD_NAMESPACE\) in/,
    (o) => {
      backup(o).env = [];
    },
  ],
  [
    'CronJob restartPolicy',
    /CronJob\/shoplist-backup: its pods need restartPolicy OnFailure or Never/,
    (o) => {
      delete backupPod(o).restartPolicy;
    },
  ],
  [
    'CronJob schedule',
    /schedule '17 3 \* \*' is not five cron fields/,
    (o) => {
      kind(o, 'CronJob', 'shoplist-backup').spec.schedule = '17 3 * *';
    },
  ],
  [
    'unknown PersistentVolumeClaim',
    /volume backups: PersistentVolumeClaim shoplist-backup is not in the kustomization/,
    (o) => {
      backupPod(o).volumes[0].persistentVolumeClaim.claimName =
        'shoplist-backup';
    },
  ],
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
    let errors;
    try {
      breakIt(copy);
      errors = checkAll(copy, flags);
    } catch (e) {
      errors = [`cannot break it: ${e.message}`];
    }
    const hit = errors.find((e) => pattern.test(e));
    if (!hit) failed++;
    console.log(
      hit
        ? `caught: ${name}: ${hit}`
        : `MISSED: ${name} (errors: ${errors.join('; ') || 'none'})`,
    );
  }
  console.log(
    `selftest: ${CASES.length - failed} of ${CASES.length} broken manifests caught`,
  );
  process.exit(failed ? 1 : 0);
}

main();
