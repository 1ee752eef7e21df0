'use strict';
// Checks every --flag the manifests pass to our binaries against the flags
// the built binaries accept. The servers use Abseil flags, read from their
// `--helpfull` output:
//     --read_quorum (R: replies a read waits for); default: 2;
// Abseil accepts dashes and underscores alike, so names are compared with
// dashes turned into underscores. shoplist-admin uses CLI11: global options,
// then one subcommand with options and positionals of its own, read from
// `BIN --help` and `BIN SUB --help` (see readCli11).
const path = require('path');
const { spawnSync } = require('child_process');
const { podsOf, containersOf } = require('./pods');

const norm = (flag) => flag.replace(/-/g, '_');

function run(binary, args) {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 60000 });
  if (r.error)
    throw new Error(
      `cannot run ${binary} ${args.join(' ')}: ${r.error.message}`,
    );
  return `${r.stdout}\n${r.stderr}`;
}

// What one binary accepts: {abseil: Set of flags} or {cli11: command (see
// readCli11)}. Throws if it cannot be run or lists neither.
function readFlags(binary) {
  // --helpfull exits with 1 by design; what counts is the list.
  const text = run(binary, ['--helpfull']);
  const flags = new Set(
    [...text.matchAll(/^ {4}--([A-Za-z0-9_-]+) \(/gm)].map((m) => norm(m[1])),
  );
  if (flags.size) return { abseil: flags };
  const cli11 = readCli11(binary, []);
  if (!cli11.options.size && !cli11.subcommands.size) {
    throw new Error(
      `${binary} --helpfull listed no flags, nor --help CLI11 options:\n${text.slice(0, 500)}`,
    );
  }
  return { cli11 };
}

// One CLI11 command (the binary, or `BIN SUB...` for a subcommand) from its
// --help: {options: Map(name -> {value}), positionals: [{name, max,
// required}], subcommands: Map(name -> command), needsSubcommand}. Option
// names are as written (-h, --proxy): CLI11 does not mix dashes and
// underscores. CLI11 prints, in sections ("Options:", "Positionals:",
// "Subcommands:", or an option group's name):
//   -h,--help                   Print this help message and exit
//   --proxy TEXT                The proxies ...
//   --json                      Print JSON
//   node TEXT REQUIRED          The node's id
//   status                      Every member ...
// An option takes a value when its names are followed by a type in
// capitals (TEXT, UINT, FLOAT:POSITIVE); a flag's by padding and its
// description, or nothing.
function readCli11(binary, words) {
  const text = run(binary, [...words, '--help']);
  const command = {
    options: new Map(),
    positionals: [],
    subcommands: new Map(),
    needsSubcommand: false,
  };
  // "Usage: BIN [OPTIONS] node dir SUBCOMMAND": brackets when it is optional.
  const usage = /^Usage:.* (\[?)SUBCOMMANDS?\]?\s*$/m.exec(text);
  command.needsSubcommand = Boolean(usage && !usage[1]);
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^(\S.*):\s*$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const entry = /^ {2}(\S+)(.*)$/.exec(line);
    if (!entry) continue; // a wrapped description, an alias line, a blank
    const [, names, rest] = entry;
    if (section === 'Subcommands') {
      command.subcommands.set(names, null);
    } else if (section === 'Positionals') {
      const count = / x (\d+)/.exec(rest);
      command.positionals.push({
        name: names,
        max: / \.\.\.( |$)/.test(rest)
          ? Infinity
          : count
            ? Number(count[1])
            : 1,
        required: / REQUIRED( |$)/.test(rest),
      });
    } else if (names.startsWith('-')) {
      const value = /^ (?!REQUIRED\b)[A-Z][A-Z0-9_]*(?=[:= [\]]|$)/.test(rest);
      for (const name of names.split(',')) command.options.set(name, { value });
    }
  }
  // One level of subcommands is all we have; deeper ones would nest here.
  if (words.length < 3) {
    for (const name of command.subcommands.keys())
      command.subcommands.set(name, readCli11(binary, [...words, name]));
  }
  return command;
}

// binaries: Map from binary name (shoplist-node) to what readFlags read.
// Every container of the shoplist image must name its binary in `command`
// (the image holds several), and pass only arguments it knows.
function checkFlags(objects, binaries, errors) {
  for (const { obj, source } of objects) {
    const found = podsOf(obj);
    for (const c of found ? containersOf(found.pod) : []) {
      // The shoplist image under any registry or tag.
      if (!/(^|\/)shoplist(:|@|$)/.test(c.image || '')) continue;
      const cw = `${source}: ${obj.kind}/${obj.metadata.name}: container ${c.name}`;
      const command = c.command || [];
      if (!command.length) {
        errors.push(
          `${cw}: set command: the shoplist image holds several binaries`,
        );
        continue;
      }
      const name = path.basename(command[0]);
      const known = binaries.get(name);
      if (!known) {
        errors.push(
          `${cw}: runs ${name}, whose flags were not given (--binary=PATH/${name})`,
        );
        continue;
      }
      const args = [...command.slice(1), ...(c.args || [])];
      if (known.cli11) checkCli11Args(cw, name, known.cli11, args, errors);
      else checkAbseilArgs(cw, name, known.abseil, args, errors);
    }
  }
}

// Only --flag=value, each flag known and given once.
function checkAbseilArgs(cw, name, known, args, errors) {
  const given = new Set();
  for (const arg of args) {
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

// In CLI11's order: the command's options (--option=value, or a bare --flag)
// and positionals, then a bare word naming a subcommand, after which only
// that subcommand's options and positionals. Each option given once.
function checkCli11Args(cw, name, app, args, errors) {
  const chain = [{ words: name, command: app }]; // the commands entered so far
  let positionals = []; // the values given to the current command's
  let afterDashes = false;
  let given = new Set();
  const here = () => chain[chain.length - 1];
  const finish = () => {
    const { words, command } = here();
    let left = positionals.length;
    for (const p of command.positionals) {
      if (p.required && left === 0)
        errors.push(`${cw}: ${words} needs its positional ${p.name}`);
      left = Math.max(0, left - p.max);
    }
  };
  for (const arg of args) {
    const { words, command } = here();
    const option = afterDashes
      ? null
      : /^(--?[A-Za-z0-9][\w.-]*)(=.*)?$/s.exec(arg);
    if (arg === '--' && !afterDashes) {
      afterDashes = true; // everything after it is a positional
    } else if (option) {
      const [, flag, value] = option;
      const spec = command.options.get(flag);
      if (!spec)
        errors.push(
          `${cw}: ${words} has no option ${flag}${elsewhere(flag, chain)}`,
        );
      else if (spec.value && value === undefined)
        errors.push(
          `${cw}: ${words}: ${flag} takes a value: write ${flag}=VALUE`,
        );
      else if (!spec.value && value !== undefined)
        errors.push(
          `${cw}: ${words}: ${flag} is a flag: give it bare, without =value`,
        );
      else if (given.has(flag))
        errors.push(`${cw}: ${words}: ${flag} given twice`);
      given.add(flag);
    } else if (!afterDashes && command.subcommands.has(arg)) {
      finish();
      chain.push({
        words: `${words} ${arg}`,
        command: command.subcommands.get(arg),
      });
      positionals = [];
      given = new Set();
    } else if (
      positionals.length < command.positionals.reduce((n, p) => n + p.max, 0)
    ) {
      positionals.push(arg);
    } else if (command.subcommands.size && !positionals.length) {
      errors.push(
        `${cw}: ${words} has no subcommand '${arg}' (it has ${[...command.subcommands.keys()].join(', ')})`,
      );
    } else {
      const declared =
        command.positionals.map((p) => p.name).join(', ') || 'none';
      errors.push(
        `${cw}: '${arg}': ${words} takes no more positionals (it declares ${declared})`,
      );
    }
  }
  finish();
  const { words, command } = here();
  if (command.needsSubcommand) {
    errors.push(
      `${cw}: ${words} needs a subcommand (one of ${[...command.subcommands.keys()].join(', ')})`,
    );
  }
}

// Why an option is not where it was given, when another command has it.
function elsewhere(flag, chain) {
  const outer = chain
    .slice(0, -1)
    .reverse()
    .find(({ command }) => command.options.has(flag));
  if (outer) return ` (it is ${outer.words}'s: give it before the subcommand)`;
  const { command } = chain[chain.length - 1];
  const inner = [...command.subcommands]
    .filter(([, sub]) => sub.options.has(flag))
    .map(([sub]) => sub);
  return inner.length
    ? ` (it is an option of ${inner.join(', ')}: give it after the subcommand)`
    : '';
}

module.exports = { readFlags, checkFlags };
