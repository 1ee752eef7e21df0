'use strict';
// Checks the schemas cannot express: references between objects and
// between fields of one object, and this deployment's rules (resources on
// every container, non-root, every port a --*listen flag serves declared).
const { podsOf, containersOf } = require('./pods');

const FIELD_PATHS =
  /^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$/;
// $(VAR) as Kubernetes expands it in command, args and env values; $$ escapes.
const VAR = /\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g;

const refs = (s) =>
  [...String(s).matchAll(VAR)].filter((m) => m[1]).map((m) => m[1]);
// Unknown values stay $(NAME): a port built from the downward API cannot be checked.
const expand = (s, vars) =>
  String(s).replace(VAR, (m, n) =>
    n === undefined ? '$' : vars.has(n) ? vars.get(n) : m,
  );

function selects(selector, labels = {}) {
  if (!selector) return false;
  const byLabel = Object.entries(selector.matchLabels || {}).every(
    ([k, v]) => labels[k] === v,
  );
  return (
    byLabel &&
    (selector.matchExpressions || []).every(
      ({ key, operator, values = [] }) =>
        ({
          In: values.includes(labels[key]),
          NotIn: !values.includes(labels[key]),
          Exists: key in labels,
          DoesNotExist: !(key in labels),
        })[operator] === true,
    )
  );
}

function quantity(q) {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  const scale = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return m ? parseFloat(m[1]) * (scale[m[2]] || 1) : NaN;
}

function checkObjects(objects, errors) {
  const label = ({ obj, source }) =>
    `${source}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
  const find = (kind, name) =>
    objects.find(
      (o) =>
        o.obj.kind === kind && o.obj.metadata && o.obj.metadata.name === name,
    );
  // The keys of a ConfigMap or Secret, with the values of ConfigMaps (none
  // for other kinds); null when there is no such object.
  const keysOf = (kind, name) => {
    const o = find(kind, name);
    if (!o) return null;
    const data = { ...o.obj.data, ...o.obj.binaryData, ...o.obj.stringData };
    return new Map(
      Object.keys(data).map((k) => [
        k,
        kind === 'ConfigMap' ? String(data[k]) : `$(${k})`,
      ]),
    );
  };

  const seen = new Set();
  for (const o of objects) {
    if (!o.obj.metadata || !o.obj.metadata.name)
      errors.push(`${label(o)}: no metadata.name`);
    if (seen.has(`${o.obj.kind}/${o.obj.metadata && o.obj.metadata.name}`))
      errors.push(`${label(o)}: defined twice`);
    seen.add(`${o.obj.kind}/${o.obj.metadata && o.obj.metadata.name}`);
    const data = o.obj.data || {};
    if (
      o.obj.type === 'kubernetes.io/tls' &&
      !('tls.crt' in data && 'tls.key' in data)
    ) {
      errors.push(
        `${label(o)}: a kubernetes.io/tls Secret needs tls.crt and tls.key`,
      );
    }
  }

  // Every object that runs pods, of any kind (lib/pods.js).
  const pods = [];
  for (const o of objects) {
    const found = podsOf(o.obj);
    if (found)
      pods.push({ where: label(o), o, spec: o.obj.spec || {}, ...found });
  }

  for (const p of pods) {
    const sel = p.spec.selector || {};
    // Only kinds with a selector of their own (a Job's is generated).
    if (
      p.hasSelector &&
      !Object.keys(sel.matchLabels || {}).length &&
      !(sel.matchExpressions || []).length
    ) {
      errors.push(`${p.where}: empty selector`);
    } else if (p.hasSelector && !selects(sel, p.labels)) {
      errors.push(
        `${p.where}: selector ${JSON.stringify(sel)} does not match the pod template's labels ${JSON.stringify(p.labels)}`,
      );
    }
    if (['Job', 'CronJob'].includes(p.o.obj.kind)) checkJob(p, errors);
    if (p.o.obj.kind === 'StatefulSet') {
      const svc = find('Service', p.spec.serviceName);
      if (!svc)
        errors.push(
          `${p.where}: serviceName ${p.spec.serviceName} is no Service here`,
        );
      else if ((svc.obj.spec || {}).clusterIP !== 'None')
        errors.push(
          `${p.where}: Service ${p.spec.serviceName} must be headless (clusterIP: None) to give each pod a DNS name`,
        );
      else if (!selects({ matchLabels: svc.obj.spec.selector }, p.labels))
        errors.push(
          `${p.where}: Service ${p.spec.serviceName} does not select its pods`,
        );
    }
    const claims = new Set(
      (p.spec.volumeClaimTemplates || []).map(
        (c) => c.metadata && c.metadata.name,
      ),
    );
    checkPod(p.where, p.pod, claims, keysOf, errors);
  }

  for (const o of objects) {
    const spec = o.obj.spec || {};
    if (o.obj.kind === 'Service' && spec.selector) {
      const matched = pods.filter((p) =>
        selects({ matchLabels: spec.selector }, p.labels),
      );
      if (!matched.length)
        errors.push(
          `${label(o)}: selector ${JSON.stringify(spec.selector)} matches no pod template`,
        );
      for (const port of spec.ports || []) {
        const target =
          port.targetPort === undefined ? port.port : port.targetPort;
        for (const p of matched) {
          const ok = (p.pod.containers || []).some((c) =>
            (c.ports || []).some(
              (cp) => cp.containerPort === target || cp.name === target,
            ),
          );
          if (!ok)
            errors.push(
              `${label(o)}: targetPort ${target} is no container port of ${p.where}`,
            );
        }
      }
    }
    if (
      o.obj.kind === 'PodDisruptionBudget' &&
      !pods.some((p) => selects(spec.selector, p.labels))
    ) {
      errors.push(`${label(o)}: selector matches no pod template`);
    }
  }
}

// What the API server refuses in a Job or CronJob that the schemas allow.
function checkJob(p, errors) {
  const { restartPolicy } = p.pod;
  if (restartPolicy !== 'OnFailure' && restartPolicy !== 'Never') {
    errors.push(
      `${p.where}: its pods need restartPolicy OnFailure or Never (the default, Always, is refused for a Job)`,
    );
  }
  const job =
    p.o.obj.kind === 'CronJob' ? (p.spec.jobTemplate || {}).spec || {} : p.spec;
  if (job.podFailurePolicy && restartPolicy !== 'Never') {
    errors.push(`${p.where}: podFailurePolicy needs restartPolicy Never`);
  }
  // Five fields or a macro; the time zone goes in timeZone, not in a TZ= prefix.
  const schedule = String(p.spec.schedule);
  if (
    p.o.obj.kind === 'CronJob' &&
    !/^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+( \S+){4})$/.test(
      schedule,
    )
  ) {
    errors.push(
      `${p.where}: schedule '${schedule}' is not five cron fields or an @macro`,
    );
  }
}

function checkPod(where, pod, claims, keysOf, errors) {
  const volumes = new Set();
  for (const v of pod.volumes || []) {
    if (volumes.has(v.name))
      errors.push(`${where}: volume ${v.name} defined twice`);
    volumes.add(v.name);
    for (const [kind, ref, name] of [
      ['Secret', v.secret, v.secret && v.secret.secretName],
      ['ConfigMap', v.configMap, v.configMap && v.configMap.name],
      [
        'PersistentVolumeClaim',
        v.persistentVolumeClaim,
        v.persistentVolumeClaim && v.persistentVolumeClaim.claimName,
      ],
    ]) {
      if (!ref) continue;
      const keys = keysOf(kind, name);
      if (!keys && !ref.optional)
        errors.push(
          `${where}: volume ${v.name}: ${kind} ${name} is not in the kustomization`,
        );
      for (const item of ref.items || []) {
        if (keys && !keys.has(item.key))
          errors.push(
            `${where}: volume ${v.name}: ${kind} ${name} has no key ${item.key}`,
          );
      }
    }
  }
  const sc = pod.securityContext || {};
  for (const c of containersOf(pod)) {
    const cw = `${where}: container ${c.name}`;
    const csc = c.securityContext || {};
    const user = csc.runAsUser !== undefined ? csc.runAsUser : sc.runAsUser;
    const nonRoot =
      csc.runAsNonRoot !== undefined ? csc.runAsNonRoot : sc.runAsNonRoot;
    if (nonRoot !== true || !user)
      errors.push(
        `${cw}: must run as non-root (runAsNonRoot: true and a runAsUser other than 0)`,
      );

    const res = c.resources || {};
    for (const r of ['cpu', 'memory']) {
      const req = (res.requests || {})[r];
      const lim = (res.limits || {})[r];
      if (req === undefined || lim === undefined)
        errors.push(
          `${cw}: needs resources.requests.${r} and resources.limits.${r}`,
        );
      else if (Number.isNaN(quantity(req)) || Number.isNaN(quantity(lim)))
        errors.push(`${cw}: cannot read ${r} quantity ${req} or ${lim}`);
      else if (quantity(req) > quantity(lim))
        errors.push(`${cw}: requests.${r} ${req} is above limits.${r} ${lim}`);
    }

    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name) && !claims.has(m.name))
        errors.push(
          `${cw}: volumeMount ${m.name} names no volume or volumeClaimTemplate`,
        );
    }

    // Environment, in Kubernetes' order: envFrom, then env (each env value
    // may refer to what comes before it; command and args to all of it).
    const vars = new Map();
    for (const e of c.envFrom || []) {
      const [kind, ref] = e.configMapRef
        ? ['ConfigMap', e.configMapRef]
        : ['Secret', e.secretRef || {}];
      const keys = keysOf(kind, ref.name);
      if (!keys && !ref.optional)
        errors.push(
          `${cw}: envFrom ${kind} ${ref.name} is not in the kustomization`,
        );
      for (const [k, v] of keys || []) vars.set((e.prefix || '') + k, v);
    }
    for (const e of c.env || []) {
      const from = e.valueFrom || {};
      let value = `$(${e.name})`;
      if (e.value !== undefined) {
        for (const r of refs(e.value))
          if (!vars.has(r))
            errors.push(
              `${cw}: env ${e.name} uses $(${r}), not defined before it`,
            );
        value = expand(e.value, vars);
      } else if (from.fieldRef && !FIELD_PATHS.test(from.fieldRef.fieldPath)) {
        errors.push(
          `${cw}: env ${e.name}: the downward API has no ${from.fieldRef.fieldPath}`,
        );
      }
      for (const [kind, ref] of [
        ['ConfigMap', from.configMapKeyRef],
        ['Secret', from.secretKeyRef],
      ]) {
        if (!ref) continue;
        const keys = keysOf(kind, ref.name);
        if ((!keys || !keys.has(ref.key)) && !ref.optional)
          errors.push(
            `${cw}: env ${e.name}: ${kind} ${ref.name} with key ${ref.key} is not in the kustomization`,
          );
        if (keys && keys.has(ref.key)) value = keys.get(ref.key);
      }
      vars.set(e.name, value);
    }
    for (const s of [...(c.command || []), ...(c.args || [])]) {
      for (const r of refs(s)) {
        if (!vars.has(r))
          errors.push(
            `${cw}: $(${r}) in '${s}' is not defined in env or envFrom (Kubernetes would pass it on literally)`,
          );
      }
    }

    const ports = c.ports || [];
    const numbers = new Set(ports.map((p) => p.containerPort));
    const names = new Set(ports.map((p) => p.name).filter(Boolean));
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      const pr = c[probe];
      if (!pr) continue;
      if (pr.grpc && !numbers.has(pr.grpc.port))
        errors.push(
          `${cw}: ${probe} probes gRPC port ${pr.grpc.port}, which is no containerPort`,
        );
      for (const action of [pr.httpGet, pr.tcpSocket]) {
        if (action && !numbers.has(action.port) && !names.has(action.port))
          errors.push(
            `${cw}: ${probe} probes port ${action.port}, which is no containerPort`,
          );
      }
    }

    // Our binaries serve on --listen, --health-listen and --metrics-listen
    // (and advertise --advertise): each such port, with the ConfigMap's
    // values filled in, must be declared, and each declared port served.
    const served = new Set();
    for (const arg of c.args || []) {
      const m = /^--([\w-]*listen|advertise)=(.*)$/.exec(arg);
      if (!m) continue;
      const value = expand(m[2], vars);
      const port = value.slice(value.lastIndexOf(':') + 1);
      if (!/^\d+$/.test(port)) {
        errors.push(`${cw}: cannot tell the port of ${arg} (${value})`);
        continue;
      }
      served.add(Number(port));
      if (!numbers.has(Number(port)))
        errors.push(
          `${cw}: ${arg} uses port ${port} (${value}), which is no containerPort`,
        );
    }
    for (const p of served.size ? ports : []) {
      if (!served.has(p.containerPort))
        errors.push(
          `${cw}: containerPort ${p.containerPort} (${p.name}) is served by no --*listen flag`,
        );
    }
  }
}

module.exports = { checkObjects };
