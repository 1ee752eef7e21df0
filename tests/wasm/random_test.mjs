// Native and WebAssembly replicas of one list, changed at random, online
// and offline, exchanging their changes through one cloud (in the native
// driver): after everyone syncs, every home shows the same list. Each wasm
// home has a native twin that gets the same commands, inputs and cloud
// answers: the two must answer byte for byte alike all along.
//   node --no-experimental-fetch random_test.mjs NATIVE WASM [SEED] [STEPS]
import { inputsFor, nativeDriver, wasmDriver } from './drivers.mjs';

const [nativePath, wasmPath, seedArg, stepsArg] = process.argv.slice(2);
const seed = Number(seedArg ?? Date.now() % 100000);
const steps = Number(stepsArg ?? 400);
console.log(`seed ${seed}, ${steps} steps`);

let state = seed >>> 0;
function next(n) {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state % n;
}
const pick = (array) => array[next(array.length)];

const names = [
  'milk',
  'Milk',
  'MILK',
  'Straße',
  'STRASSE',
  'İnci',
  'inci',
  'ılık',
  'ΣΟΦΙΑ',
  'σοφια',
  'Café',
  'Cafe\u0301',
  'ＭＩＬＫ',
  '🍎 apples',
  'Äpfel',
  'apfel',
  'Zucchini',
  'eggs',
  'oat  milk',
  'Ōtoro',
  'bread',
];
const categories = ['Dairy', 'dairy', 'Obst', 'Bäckerei', 'Other', '冷凍'];
const titles = ['Shared', 'Wochenmarkt', 'Σάββατο', 'Курица и хлеб', '週末'];

const native = nativeDriver(nativePath);
const wasm = await wasmDriver(wasmPath);
const homes = [
  { home: 'n1', driver: native, online: true },
  { home: 'n2', driver: native, online: true },
  { home: 'w1', driver: wasm, online: true, twin: 'twin-of-w1' },
  { home: 'w2', driver: wasm, online: true, twin: 'twin-of-w2' },
];
let mismatches = 0;

// `command` on home h and, for a wasm home, on its native twin: the
// answers must be the same bytes.
async function both(h, command) {
  const answer = await h.driver.call(
    JSON.stringify({ home: h.home, ...command }),
  );
  if (h.twin !== undefined) {
    const twin = await native.call(
      JSON.stringify({ home: h.twin, ...command }),
    );
    if (twin !== answer) {
      mismatches += 1;
      if (mismatches <= 3) console.log(`wasm ${answer}\nnative ${twin}`);
    }
  }
  return JSON.parse(answer);
}

// The cloud's answer to `request`, or offline.
async function cloudAnswer(h, request) {
  if (!h.online) return { kind: 'offline' };
  const reply = await native.call(JSON.stringify({ cloud: 'sync', request }));
  return JSON.parse(reply).answer;
}

let step = 0;
async function run(h, command) {
  step += 1;
  const first = await both(h, {
    ...command,
    ...inputsFor(seed * 100000 + step),
  });
  if (first.sync === undefined) return first;
  const answer = await cloudAnswer(h, first.sync.request);
  return both(h, { cmd: 'finish', step: first.step, answer });
}

async function sync(h) {
  const { request } = await both(h, { cmd: 'sync_request', list: id });
  if (request === undefined) return;
  const answer = await cloudAnswer(h, request);
  await both(h, { cmd: 'merge_sync', request, answer });
}

const made = await run(homes[0], { cmd: 'new', title: 'Shared' });
const id = made.result.list.id;
const shared = await homes[0].driver.call(
  JSON.stringify({ home: 'n1', cmd: 'share', list: id }),
);
const { link } = JSON.parse(shared);
for (const h of homes.slice(1)) {
  const joined = await run(h, { cmd: 'join', link });
  if (joined.error !== undefined) throw new Error(JSON.stringify(joined));
}

const changes = [
  () => ({ cmd: 'add', item: pick(names), count: 1 + next(3) }),
  () => ({ cmd: 'remove', item: pick(names), count: 1 }),
  () => ({ cmd: 'remove', item: pick(names) }),
  () => ({ cmd: 'buy', item: pick(names) }),
  () => ({ cmd: 'unbuy', item: pick(names), count: 1 }),
  () => ({ cmd: 'note', item: pick(names), note: pick(['', 'ripe', 'ß']) }),
  () => ({ cmd: 'category', item: pick(names), category: pick(categories) }),
  () => ({ cmd: 'rename', title: pick(titles) }),
  () => ({ cmd: 'aisles', order: [pick(categories), pick(categories)] }),
  () => ({ cmd: 'undo' }),
  () => ({ cmd: 'clear' }),
];
let applied = 0;
for (let i = 0; i < steps; i += 1) {
  const h = pick(homes);
  const roll = next(20);
  if (roll === 0) {
    h.online = !h.online;
  } else if (roll === 1) {
    await sync(h);
  } else {
    const answer = await run(h, { list: id, ...pick(changes)() });
    if (answer.error === undefined) applied += 1;
  }
}

// Everyone online; two rounds of syncs bring every change everywhere.
for (const h of homes) h.online = true;
for (let round = 0; round < 2; round += 1) {
  for (const h of homes) await sync(h);
}
const shown = [];
for (const h of homes) {
  const answer = JSON.parse(
    await h.driver.call(
      JSON.stringify({ home: h.home, cmd: 'show', list: id }),
    ),
  );
  const { title, items, aisles } = answer.list;
  shown.push({ home: h.home, view: JSON.stringify({ title, items, aisles }) });
}
await native.close();
const differing = shown.filter((s) => s.view !== shown[0].view);
console.log(
  `${applied} changes applied by ${homes.length} homes (2 native, 2 wasm); ` +
    `${JSON.parse(shown[0].view).items.length} items at the end; ` +
    `${differing.length} homes differ from n1; ` +
    `${mismatches} answers of a wasm home differ from its native twin's`,
);
for (const s of differing)
  console.log(`${s.home}: ${s.view}\nn1: ${shown[0].view}`);
process.exit(differing.length === 0 && mismatches === 0 ? 0 : 1);
