// Smoke test of the WebAssembly module (scripts/wasm.sh): its answers must
// be the native build's (tests/wasm/wasm_smoke_native, the same functions
// of clients/wasm/smoke.h), byte for byte, and a few are checked against
// fixed expectations too.
//   node tests/wasm/smoke.mjs [build-wasm/shoplist.mjs] \
//     [build/tests/wasm_smoke_native]
// (--no-experimental-fetch is not needed: clients/wasm/node_wasm_binary.js.in
// gives the module its .wasm in Node, so 3.1.6's glue does not fetch it.)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const root = fileURLToPath(new URL('../..', import.meta.url));
const modulePath = resolve(
  process.argv[2] ?? `${root}/build-wasm/shoplist_test_wasm.mjs`,
);
const nativePath = resolve(
  process.argv[3] ?? `${root}/build/tests/wasm/wasm_smoke_native`,
);

const { default: createShoplist } = await import(pathToFileURL(modulePath));
const module = await createShoplist();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The module's function `name` on the UTF-8 bytes of `input`.
function wasm(name, input) {
  const bytes = encoder.encode(input);
  const at = module._malloc(Math.max(bytes.length, 1));
  module.HEAPU8.set(bytes, at);
  const failed = module[`_shoplist_${name}`](at, bytes.length);
  module._free(at);
  const data = module._shoplist_result_data();
  const out = Buffer.from(
    module.HEAPU8.slice(data, data + module._shoplist_result_size()),
  );
  if (failed) throw new Error(`${name}(${JSON.stringify(input)}): ${out}`);
  return out;
}

// The native program's answers to all `calls` ([name, input]), in one run.
function native(calls) {
  const stdin = calls
    .map(([name, input]) => `${name} ${Buffer.from(input).toString('hex')}\n`)
    .join('');
  const lines = execFileSync(nativePath, { input: stdin })
    .toString()
    .trimEnd()
    .split('\n');
  assert.equal(lines.length, calls.length);
  return lines.map((line, i) => {
    const [status, rest] = [
      line.slice(0, line.indexOf(' ')),
      line.slice(line.indexOf(' ') + 1),
    ];
    if (status !== 'ok') throw new Error(`native ${calls[i][0]}: ${rest}`);
    return Buffer.from(rest, 'hex');
  });
}

const itemKeys = {
  STRASSE: 'strasse',
  Straße: 'strasse',
  '  Oat \t milk ': 'oat milk',
  '\u3000Milk\u00a0': 'milk', // ideographic space, NBSP
  İstanbul: 'i\u0307stanbul', // Turkish dotted capital I
  ΟΔΟΣ: 'οδοσ', // Greek capital sigma...
  οδος: 'οδοσ', // ...and final sigma fold alike
  'Cafe\u0301': 'café', // decomposed accent, composed
  CAFÉ: 'café',
  ＭＩＬＫ: 'ｍｉｌｋ', // full-width: folded, not narrowed
  ﬃ: 'ffi', // ligature, full folding
  ǅ: 'ǆ',
};
const stateNames = ['Milk', '  Äpfel ', 'Cafe\u0301', 'Straße', '牛乳'];
const viewLists = [
  [
    'eggs\t',
    'Milk\t',
    'Äpfel\t',
    'Apfel\t',
    'Birnen\t',
    'zucchini\t',
    'Zebra\t',
    'éclair\t',
  ],
  [
    'Brot\tBakery',
    'Äpfel\tObst',
    'Birnen\tobst',
    'Milch\tdairy',
    'Käse\tDairy',
    'Salz\t',
    'Oat milk\tdairy',
    'oat Milk 2\tÖko',
    'Ørret\tfish',
    'Œufs\tdairy',
    'ß\t',
    'ss\t',
  ],
];
const secrets = ['', 'abcdefghijklmnopqrstuvwxyz', 'x'.repeat(200), 'Straße'];

const calls = [
  ...Object.keys(itemKeys).map((s) => ['item_key', s]),
  ...stateNames.map((s) => ['state_after_add', s]),
  ...viewLists.map((lines) => ['view_order', lines.join('\n')]),
  ...secrets.map((s) => ['hash_secret', s]),
];
const expected = native(calls);
let checked = 0;
calls.forEach(([name, input], i) => {
  const got = wasm(name, input);
  assert.ok(
    got.equals(expected[i]),
    `${name}(${JSON.stringify(input)}): wasm ${got.toString('hex')} ` +
      `!= native ${expected[i].toString('hex')}`,
  );
  ++checked;
});
for (const [typed, key] of Object.entries(itemKeys)) {
  assert.equal(
    decoder.decode(wasm('item_key', typed)),
    key,
    `item key of ${typed}`,
  );
}
for (const secret of secrets) {
  const sha = createHash('sha256').update(
    `shoplist capability secret v1\n${secret}`,
  );
  assert.equal(wasm('hash_secret', secret).toString(), sha.digest('hex'));
}
// A state after an add is a real encoded v1.ListState: non-empty, and
// it holds the cleaned name.
assert.ok(wasm('state_after_add', '  Äpfel ').includes(Buffer.from('Äpfel')));
console.log(
  `wasm smoke: ${checked} answers equal to native, ` +
    `${Object.keys(itemKeys).length} item keys and ${secrets.length} hashes as expected`,
);
for (const lines of viewLists) {
  console.log(
    `  view order: ${decoder
      .decode(wasm('view_order', lines.join('\n')))
      .trimEnd()
      .split('\n')
      .map((l) => l.replace('\t', '/'))
      .join(', ')}`,
  );
}
