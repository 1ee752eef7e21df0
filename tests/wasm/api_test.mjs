// The JavaScript API of the WebAssembly core (clients/wasm/shoplist_core.mjs)
// as a browser host uses it: records kept by the host, changes committed
// before they are finished, a second core loaded from the same records.
//   node api_test.mjs build-wasm/shoplist_core.mjs
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { loadCore, CoreError, OFFLINE } = await import(
  pathToFileURL(resolve(process.argv[2])).href
);
const core = await loadCore();

// The host's store: key -> bytes, written only through commit().
const store = new Map();
function commit(writes) {
  for (const w of writes) {
    if (w.put !== undefined) {
      assert.ok(w.value instanceof Uint8Array);
      store.set(w.put, w.value);
    } else if (w.delete !== undefined) {
      store.delete(w.delete);
    } else {
      for (const key of store.keys()) {
        if (key.startsWith(w.delete_prefix)) store.delete(key);
      }
    }
  }
}

const home = core.openHome('Ann');
const made = home.change('new', { title: 'Groceries' });
assert.ok(made.sync.request instanceof Uint8Array);
commit(made.writes);
const created = home.finish(made.step, OFFLINE);
commit(created.writes);
assert.equal(created.result.sync.outcome, 'offline');
const { id } = created.result.list;

const added = home.change('add', { list: 'groc', item: 'Straße', count: 2 });
commit(added.writes);
const done = home.finish(added.step, OFFLINE);
assert.equal(done.result.item.name, 'Straße');
assert.equal(done.result.list.unsynced, 3);

// The same records in another core give the same documents.
const again = core.openHome('Ann');
for (const [key, value] of store) again.load(key, value);
assert.deepEqual(
  again.read('show', { list: id }),
  home.read('show', { list: id }),
);
assert.equal(again.read('log', { list: id }).events[0].item, 'Straße');

// A refused change throws, writes nothing and changes nothing.
const before = JSON.stringify(home.read('lists'));
assert.throws(
  () => home.change('add', { list: 'groceries', item: '   ' }),
  (e) => e instanceof CoreError && e.code === 'INVALID_ARGUMENT',
);
assert.throws(
  () => home.change('remove', { list: 'nope', item: 'milk' }),
  (e) => e instanceof CoreError && e.code === 'NOT_FOUND',
);
assert.equal(JSON.stringify(home.read('lists')), before);

home.close();
again.close();
console.log(`api: ${store.size} records, every check passed`);
