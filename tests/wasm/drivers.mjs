// The two builds of the client core behind one interface: CoreDriver
// commands (tests/wasm/core_driver.h) as JSON lines, answered as the exact
// text each build printed, so that callers can compare bytes.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/** The native driver: a child process, one line in, one line out. */
export function nativeDriver(path) {
  const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()(line));
  return {
    name: 'native',
    call(line) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write(`${line}\n`);
      });
    },
    close() {
      child.stdin.end();
      return new Promise((resolve) => child.on('exit', resolve));
    },
  };
}

/** The WebAssembly driver: the same C++ compiled by emscripten. */
export async function wasmDriver(modulePath) {
  const { default: load } = await import(pathToFileURL(modulePath).href);
  const module = await load();
  const call = module.cwrap('driver_call', 'string', ['string']);
  return {
    name: 'wasm',
    call: async (line) => call(line),
    close: async () => {},
  };
}

/** Deterministic inputs: a clock and 40 "random" bytes per command. */
export function inputsFor(step) {
  const random = Buffer.alloc(40);
  let x = (step * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < random.length; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    random[i] = x >>> 24;
  }
  return {
    now: 1767225600000000 + step * 1000000,
    random: random.toString('base64'),
  };
}

/**
 * Runs one home command; when it syncs, asks the cloud (the driver `cloud`,
 * by default the home's own) or answers offline, and finishes it. Returns
 * the raw answers, in order.
 */
export async function runCommand(driver, command, online, cloud = driver) {
  const answers = [await driver.call(JSON.stringify(command))];
  const first = JSON.parse(answers[0]);
  if (first.sync === undefined) return answers;
  let answer = { kind: 'offline' };
  if (online) {
    const reply = await cloud.call(
      JSON.stringify({ cloud: 'sync', request: first.sync.request }),
    );
    answers.push(reply);
    ({ answer } = JSON.parse(reply));
  }
  const finish = {
    home: command.home,
    cmd: 'finish',
    step: first.step,
    answer,
  };
  answers.push(await driver.call(JSON.stringify(finish)));
  return answers;
}

/** Syncs the list `list` of `home` on its own (sync_request, merge_sync). */
export async function syncList(driver, home, list, online, cloud = driver) {
  const requested = await driver.call(
    JSON.stringify({ home, cmd: 'sync_request', list }),
  );
  const { request } = JSON.parse(requested);
  if (request === undefined) return [requested];
  let answer = { kind: 'offline' };
  const answers = [requested];
  if (online) {
    const reply = await cloud.call(JSON.stringify({ cloud: 'sync', request }));
    answers.push(reply);
    ({ answer } = JSON.parse(reply));
  }
  answers.push(
    await driver.call(
      JSON.stringify({ home, cmd: 'merge_sync', request, answer }),
    ),
  );
  return answers;
}
