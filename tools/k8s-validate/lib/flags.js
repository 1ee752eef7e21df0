'use strict';
// Checks every --flag the manifests pass to our binaries against the flags
// the built binaries accept, read from their `--helpfull` (Abseil) output:
//     --read_quorum (R: replies a read waits for); default: 2;
// Abseil accepts dashes and underscores alike, so names are compared with
// dashes turned into underscores.
const path = require('path');
const { spawnSync } = require('child_process');

const norm = (flag) => flag.replace(/-/g, '_');

// Flags of one binary; throws if it cannot be run or lists none.
function readFlags(binary) {
  const run = spawnSync(binary, ['--helpfull'], { encoding: 'utf8', timeout: 60000 });
  if (run.error) throw new Error(`cannot run ${binary} --helpfull: ${run.error.message}`);
  // --helpfull exits with 1 by design; what counts is the list.
  const text = `${run.stdout}\n${run.stderr}`;
  const flags = new Set([...text.matchAll(/^ {4}--([A-Za-z0-9_-]+) \(/gm)].map((m) => norm(m[1])));
  if (!flags.size) throw new Error(`${binary} --helpfull listed no flags:\n${text.slice(0, 500)}`);
  return flags;
}

// binaries: Map from binary name (shoplist-node) to its set of flags.
// Every container of the shoplist image must name its binary in `command`
// (the image holds several), and pass only --flag=value arguments it knows.
function checkFlags(objects, binaries, errors) {
  for (const { obj, source } of objects) {
    const pod = ((obj.spec || {}).template || {}).spec;
    for (const c of pod ? [...(pod.initContainers || []), ...(pod.containers || [])] : []) {
      // The shoplist image under any registry or tag.
      if (!/(^|\/)shoplist(:|@|$)/.test(c.image || '')) continue;
      const cw = `${source}: ${obj.kind}/${obj.metadata.name}: container ${c.name}`;
      const command = c.command || [];
      if (!command.length) {
        errors.push(`${cw}: set command: the shoplist image holds several binaries`);
        continue;
      }
      const name = path.basename(command[0]);
      const known = binaries.get(name);
      if (!known) {
        errors.push(`${cw}: runs ${name}, whose flags were not given (--binary=PATH/${name})`);
        continue;
      }
      const given = new Set();
      for (const arg of [...command.slice(1), ...(c.args || [])]) {
        const m = /^--([A-Za-z0-9_-]+)=/s.exec(arg);
        if (!m) {
          errors.push(`${cw}: '${arg}' is not in --flag=value form`);
        } else if (!known.has(norm(m[1]))) {
          errors.push(`${cw}: ${name} has no flag --${m[1]}`);
        } else if (given.has(norm(m[1]))) {
          errors.push(`${cw}: --${m[1]} given twice`);
        }
        if (m) given.add(norm(m[1]));
      }
    }
  }
}

module.exports = { readFlags, checkFlags };
