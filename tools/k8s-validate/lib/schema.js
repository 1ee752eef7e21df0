'use strict';
// Schema checks with kubernetes-models: `.validate()` on each object catches
// wrong types, bad enums and missing required fields, but not unknown fields
// (a misspelt `readinesProbe` would be dropped by the API server without a
// word). For those we walk each object along the TypeScript declarations
// that kubernetes-models ships (.d.ts): every interface there lists all
// fields of its API type, and the import lines say where each field's own
// type is declared.
const fs = require('fs');
const path = require('path');

const MODELS_ROOT = path.dirname(require.resolve('kubernetes-models'));

function checkSchema({ obj, source }, errors) {
  const where = `${source}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
  const dts = path.join(MODELS_ROOT, obj.apiVersion || '-', `${obj.kind}.d.ts`);
  let Model;
  try {
    Model = require(`kubernetes-models/${obj.apiVersion}`)[obj.kind];
  } catch {
    // handled below
  }
  if (!Model || !fs.existsSync(dts)) {
    errors.push(
      `${where}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`,
    );
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    errors.push(`${where}: schema: ${e.message}`);
  }
  const decl = declaration(dts);
  if (!decl) {
    errors.push(`${where}: cannot read the fields of ${obj.kind} from ${dts}`);
    return;
  }
  checkFields(obj, decl.fields, '', where, errors);
}

// A field's type, parsed from its TypeScript text: null (a leaf: string,
// number, Quantity...), {file} (an interface declared in another .d.ts),
// {array: type}, {map: type} or {fields: Map(name -> type)} (inline object).
function checkValue(value, type, at, where, errors) {
  if (!type || value === null || typeof value !== 'object') return;
  if (type.array && Array.isArray(value)) {
    value.forEach((item, i) =>
      checkValue(item, type.array, `${at}[${i}]`, where, errors),
    );
  } else if (type.map) {
    for (const [k, item] of Object.entries(value))
      checkValue(item, type.map, `${at}.${k}`, where, errors);
  } else if (type.fields) {
    checkFields(value, type.fields, at, where, errors);
  } else if (type.file) {
    const decl = declaration(type.file);
    if (decl) checkFields(value, decl.fields, at, where, errors);
  }
}

// Every key of the object `value` must be one of `fields`.
function checkFields(value, fields, at, where, errors) {
  if (Array.isArray(value)) return; // the schema check reports the type
  for (const [key, v] of Object.entries(value)) {
    const here = at ? `${at}.${key}` : key;
    if (!fields.has(key)) {
      const near = [...fields.keys()].filter(
        (f) => distance(f.toLowerCase(), key.toLowerCase()) <= 2,
      );
      errors.push(
        `${where}: unknown field ${here}` +
          (near.length ? ` (did you mean ${near.join(' or ')}?)` : ''),
      );
    } else {
      checkValue(v, fields.get(key), here, where, errors);
    }
  }
}

// Edit distance, for "did you mean".
function distance(a, b) {
  let row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        row[j] + 1,
        next[j - 1] + 1,
        row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length];
}

// Parses `export interface IX { "field"?: Type; ... }` of a .d.ts and its
// imports. Returns null for type aliases (Quantity, IntOrString): leaves.
const declarations = new Map();
function declaration(file) {
  if (declarations.has(file)) return declarations.get(file);
  let decl = null;
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const body = /^export interface \w+(?: extends \w+)? \{([\s\S]*?)^\}/m.exec(
      text,
    );
    if (body) {
      const imports = new Map();
      for (const m of text.matchAll(
        /^import \{ ([\w, ]+) \} from "([^"]+)";/gm,
      )) {
        for (const name of m[1].split(/,\s*/))
          imports.set(name, resolveImport(file, m[2]));
      }
      decl = { fields: parseFields(body[1].replace(/\s+/g, ' '), imports) };
    }
  }
  declarations.set(file, decl);
  return decl;
}

// `"a"?: T; "b": U;` -> Map(a -> type of T, b -> type of U); a member's
// type ends at the first `;` outside brackets.
function parseFields(text, imports) {
  const fields = new Map();
  const member = /\s*"([^"]+)"\??: /y;
  for (let i = 0; ;) {
    member.lastIndex = i;
    const m = member.exec(text);
    if (!m) break;
    let j = member.lastIndex;
    for (
      let depth = 0;
      j < text.length && !(text[j] === ';' && depth === 0);
      j++
    ) {
      if ('{<('.includes(text[j])) depth++;
      if ('}>)'.includes(text[j])) depth--;
    }
    fields.set(
      m[1],
      parseType(text.slice(member.lastIndex, j).trim(), imports),
    );
    i = j + 1;
  }
  return fields;
}

function parseType(t, imports) {
  if (t.startsWith('Array<') && t.endsWith('>'))
    return { array: parseType(t.slice(6, -1).trim(), imports) };
  if (t.startsWith('{') && t.endsWith('}')) {
    const inner = t.slice(1, -1).trim();
    const map = /^\[key: string\]: (.*?);?$/.exec(inner);
    return map
      ? { map: parseType(map[1].trim(), imports) }
      : { fields: parseFields(inner, imports) };
  }
  const ref = (t.match(/\w+/g) || []).find((word) => imports.has(word));
  return ref ? { file: imports.get(ref) } : null;
}

function resolveImport(from, spec) {
  if (spec.startsWith('.'))
    return path.resolve(path.dirname(from), `${spec}.d.ts`);
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', `${spec}.d.ts`);
    if (fs.existsSync(candidate) || dir === path.dirname(dir)) return candidate;
  }
}

module.exports = { checkSchema };
