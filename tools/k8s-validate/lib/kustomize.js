'use strict';
// Renders a kustomization the way `kubectl apply -k` does, as far as our
// manifests need: `resources` (files or directories with their own
// kustomization), `components` (directories with a `kind: Component`
// kustomization, such as k8s/backup), `configMapGenerator` and
// `secretGenerator` (literals, files, envs). Anything else is an error
// rather than silently skipped, so the checks always see every object
// kubectl would apply. Generated names get no hash suffix: kustomize adds
// one and rewrites the references to it, so references are checked against
// the plain names. What kustomize refuses to load is refused here too:
// files outside the kustomization's directory, and a base that contains it.
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
]);
const GENERATOR_KEYS = new Set([
  'name',
  'literals',
  'files',
  'envs',
  'type',
  'options',
]);

// Whether directory `outer` is `inner` or one of its parents.
const contains = (outer, inner) => {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

// Returns [{obj, source}] and appends problems to `errors`. `kind`: what the
// referrer expects here (Kustomization, or Component for `components`);
// `chain`: the directories of the kustomizations that led here.
function render(dir, errors, kind = 'Kustomization', chain = []) {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => path.join(dir, f))
    .find((f) => fs.existsSync(f));
  if (!file) {
    errors.push(`${dir}: no kustomization.yaml`);
    return [];
  }
  const k = yaml.load(fs.readFileSync(file, 'utf8')) || {};
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key))
      errors.push(
        `${file}: '${key}' is not understood by tools/k8s-validate; teach lib/kustomize.js`,
      );
  }
  const actual = k.kind || 'Kustomization';
  if (actual !== kind && !chain.length) {
    // kustomize would build it, but with references to the base's generated
    // objects left without their hash suffix: they would name nothing.
    errors.push(
      `${file}: a ${actual} is not applied alone: check a kustomization that lists it under components`,
    );
  } else if (actual !== kind) {
    errors.push(
      `${file}: is a ${actual}; list it under ${actual === 'Component' ? 'components' : 'resources'}`,
    );
  }
  const here = [...chain, dir];
  // A directory with its own kustomization, loaded as kustomize allows.
  const enter = (rel, as) => {
    const p = path.resolve(dir, rel);
    if (contains(p, dir)) {
      errors.push(
        `${file}: ${rel} contains this kustomization; kustomize refuses it ("cycle detected"): put an overlay beside its base, not inside it`,
      );
    } else if (here.includes(p)) {
      errors.push(
        `${file}: ${rel} leads back to a kustomization that led here (a cycle)`,
      );
    } else {
      return render(p, errors, as, here);
    }
    return [];
  };
  const objects = [];
  for (const res of k.resources || []) {
    if (/^[a-z]+:\/\/|^github\.com\//.test(res)) {
      errors.push(`${file}: remote resource ${res} cannot be checked offline`);
      continue;
    }
    const p = path.resolve(dir, res);
    if (!fs.existsSync(p)) {
      errors.push(`${file}: resource ${res} does not exist`);
    } else if (fs.statSync(p).isDirectory()) {
      objects.push(...enter(res, 'Kustomization'));
    } else if (path.relative(dir, p).startsWith('..')) {
      errors.push(
        `${file}: resource ${res} is outside ${dir}; kustomize refuses it (a directory with a kustomization may be outside)`,
      );
    } else {
      objects.push(...loadYaml(p, errors));
    }
  }
  for (const comp of k.components || []) {
    const p = path.resolve(dir, comp);
    if (!fs.existsSync(p) || !fs.statSync(p).isDirectory())
      errors.push(`${file}: component ${comp} is no directory`);
    else objects.push(...enter(comp, 'Component'));
  }
  for (const g of k.configMapGenerator || []) {
    const data = generatorData(dir, file, g, errors);
    objects.push({
      source: file,
      obj: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: g.name },
        data,
      },
    });
  }
  for (const g of k.secretGenerator || []) {
    const data = generatorData(dir, file, g, errors);
    for (const key of Object.keys(data))
      data[key] = Buffer.from(data[key]).toString('base64');
    objects.push({
      source: file,
      obj: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: g.name },
        type: g.type || 'Opaque',
        data,
      },
    });
  }
  return objects;
}

function loadYaml(file, errors) {
  try {
    return yaml
      .loadAll(fs.readFileSync(file, 'utf8'))
      .filter((obj) => obj !== null && obj !== undefined)
      .map((obj) => ({ obj, source: file }));
  } catch (e) {
    errors.push(`${file}: ${e.message}`);
    return [];
  }
}

// The key/value pairs of one generator, reading (and checking) its files.
function generatorData(dir, file, g, errors) {
  const where = `${file}: generator ${g.name || '(no name)'}`;
  for (const key of Object.keys(g)) {
    if (!GENERATOR_KEYS.has(key))
      errors.push(`${where}: '${key}' is not understood by tools/k8s-validate`);
  }
  if (!g.name) errors.push(`${where}: needs a name`);
  const data = {};
  const put = (key, value) => {
    if (!/^[-._a-zA-Z0-9]+$/.test(key))
      errors.push(`${where}: invalid key '${key}'`);
    if (key in data) errors.push(`${where}: key '${key}' given twice`);
    data[key] = value;
  };
  // kustomize only reads files below the kustomization's directory.
  const read = (rel) => {
    const p = path.resolve(dir, rel);
    if (path.relative(dir, p).startsWith('..')) {
      errors.push(`${where}: ${rel} is outside ${dir}; kustomize refuses it`);
    } else if (!fs.existsSync(p) || !fs.statSync(p).isFile()) {
      errors.push(
        `${where}: file ${rel} does not exist` +
          (rel.startsWith('secrets/')
            ? ' (run scripts/make-dev-certs.sh k8s/secrets)'
            : ''),
      );
    } else {
      return fs.readFileSync(p, 'utf8');
    }
    return null;
  };
  for (const lit of g.literals || []) {
    const eq = String(lit).indexOf('=');
    if (eq <= 0) errors.push(`${where}: literal '${lit}' is not KEY=VALUE`);
    else
      put(lit.slice(0, eq), lit.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2'));
  }
  for (const f of g.files || []) {
    const eq = f.indexOf('=');
    const [key, rel] =
      eq > 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [path.basename(f), f];
    const text = read(rel);
    if (text !== null) put(key, text);
  }
  for (const rel of g.envs || []) {
    const text = read(rel);
    for (const line of (text || '').split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      const eq = t.indexOf('=');
      if (eq <= 0) errors.push(`${where}: ${rel}: '${t}' is not KEY=VALUE`);
      else put(t.slice(0, eq), t.slice(eq + 1));
    }
  }
  return data;
}

module.exports = { render };
