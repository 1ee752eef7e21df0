// The golden corpus through both builds of the client core: every answer
// (JSON documents, records written, sync requests, merged states, the
// records each home holds) must be byte-identical.
//   node --no-experimental-fetch golden_test.mjs NATIVE_DRIVER WASM_DRIVER CORPUS
import { readFileSync, writeFileSync } from 'node:fs';
import {
  inputsFor,
  nativeDriver,
  runCommand,
  syncList,
  wasmDriver,
} from './drivers.mjs';

const [nativePath, wasmPath, corpusPath, outPrefix] = process.argv.slice(2);
const corpus = readFileSync(corpusPath, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('//'))
  .map((line) => JSON.parse(line));

function substitute(command, saved) {
  const out = { ...command };
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'string' && value.startsWith('$')) {
      out[key] = saved[value.slice(1)];
    }
  }
  return out;
}

async function run(driver) {
  const transcript = [];
  const online = {};
  const saved = {};
  const homes = new Set();
  for (const [step, line] of corpus.entries()) {
    const { save, ...rest } = line;
    const command = substitute(rest, saved);
    homes.add(command.home);
    const isOnline = online[command.home] !== false;
    let answers;
    if (command.online !== undefined) {
      online[command.home] = command.online;
      answers = [];
    } else if (command.sync !== undefined) {
      answers = await syncList(driver, command.home, command.sync, isOnline);
    } else if (command.do !== undefined) {
      answers = [await driver.call(JSON.stringify(command))];
    } else {
      const withInputs = { ...command, ...inputsFor(step) };
      answers = await runCommand(driver, withInputs, isOnline);
    }
    if (save !== undefined) {
      const last = JSON.parse(answers[answers.length - 1]);
      saved[save] = (last.result ?? last).link;
    }
    transcript.push(`# ${step}: ${JSON.stringify(line)}`, ...answers);
  }
  for (const home of homes) {
    transcript.push(
      `# records of ${home}`,
      await driver.call(JSON.stringify({ home, do: 'dump' })),
    );
  }
  await driver.close();
  return transcript;
}

const native = await run(nativeDriver(nativePath));
const wasm = await run(await wasmDriver(wasmPath));
if (outPrefix) {
  writeFileSync(`${outPrefix}.native.txt`, `${native.join('\n')}\n`);
  writeFileSync(`${outPrefix}.wasm.txt`, `${wasm.join('\n')}\n`);
}
let differences = 0;
for (let i = 0; i < Math.max(native.length, wasm.length); i += 1) {
  if (native[i] !== wasm[i]) {
    differences += 1;
    if (differences <= 5) {
      console.log(
        `line ${i} differs:\n  native ${native[i]}\n  wasm   ${wasm[i]}`,
      );
    }
  }
}
const errors = native.filter((line) => line.startsWith('{"error"')).length;
console.log(
  `${corpus.length} commands, ${native.length} answer lines, ` +
    `${errors} refused (as the corpus means them to be), ${differences} differ`,
);
process.exit(differences === 0 && native.length > corpus.length ? 0 : 1);
