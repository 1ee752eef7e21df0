'use strict';
// Where each kind of workload keeps the pods it runs, so that every check of
// pods (lib/checks.js) and of the flags their containers pass (lib/flags.js)
// sees the pods of all kinds alike: a CronJob's as well as a StatefulSet's.

// kind -> the pod template ({metadata, spec}) of such an object. `selector`:
// the kind has a LabelSelector of its own, which must select the template's
// labels (a Job's is generated, a CronJob has none, a Pod is its own).
const WORKLOADS = {
  Pod: { template: (o) => ({ metadata: o.metadata, spec: o.spec }) },
  Deployment: { template: (o) => o.spec.template, selector: true },
  ReplicaSet: { template: (o) => o.spec.template, selector: true },
  StatefulSet: { template: (o) => o.spec.template, selector: true },
  DaemonSet: { template: (o) => o.spec.template, selector: true },
  Job: { template: (o) => o.spec.template },
  CronJob: { template: (o) => o.spec.jobTemplate.spec.template },
};

// The pods of `obj`: {template, labels, pod (the PodSpec), hasSelector}, or
// null when it runs none. Missing levels read as empty (the schema check
// reports them).
function podsOf(obj) {
  const kind = WORKLOADS[obj.kind];
  if (!kind) return null;
  let template;
  try {
    template = kind.template(obj) || {};
  } catch {
    template = {}; // a level above the template is missing
  }
  return {
    template,
    labels: (template.metadata || {}).labels || {},
    pod: template.spec || {},
    hasSelector: Boolean(kind.selector),
  };
}

// Init containers first, as the kubelet runs them.
const containersOf = (pod) => [
  ...(pod.initContainers || []),
  ...(pod.containers || []),
];

module.exports = { podsOf, containersOf };
