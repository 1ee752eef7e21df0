// The phone app's backend: the client core in WebAssembly
// (shoplist_core.mjs), its records in IndexedDB, the cloud over the
// proxy's browser API (POST /api/v1/sync). It answers the page's requests
// (app.js) as `shoplist-cli ui` answers them over HTTP, so the page is one
// copy for both.
//
// Local first: every change is committed to IndexedDB in one transaction
// (the records the core returns) before the page hears of it; then it is
// synced. Offline, changes stay pending; the `online` event and a paced
// retry (1 s, doubling to 30 s) send them. While the page is open, lists
// are pulled every few seconds. Tabs of one browser take turns on the home
// (Web Locks) and tell each other to reload it (BroadcastChannel).
import { CoreError, OFFLINE, loadCore } from './shoplist_core.mjs';

const DB_NAME = 'shoplist';
const STORE = 'records';
const LOCK = 'shoplist-home';
const SYNC_TIMEOUT_MS = 4000;
const PULL_EVERY_MS = 5000;

function request(idb) {
  return new Promise((resolve, reject) => {
    idb.onsuccess = () => resolve(idb.result);
    idb.onerror = () => reject(idb.error);
  });
}

function openDb() {
  const opening = indexedDB.open(DB_NAME, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
  return request(opening);
}

async function readAll(db) {
  const store = db.transaction(STORE).objectStore(STORE);
  const [keys, values] = await Promise.all([
    request(store.getAllKeys()),
    request(store.getAll()),
  ]);
  return keys.map((key, i) => [key, new Uint8Array(values[i])]);
}

/** Commits a batch of writes in one transaction. */
function commit(db, writes) {
  if (!writes.length) return Promise.resolve();
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  for (const w of writes) {
    if (w.put !== undefined) store.put(w.value, w.put);
    else if (w.delete !== undefined) store.delete(w.delete);
    else
      store.delete(
        IDBKeyRange.bound(w.delete_prefix, `${w.delete_prefix}\uffff`),
      );
  }
  return new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** The cloud's answer to sync request bytes, or OFFLINE. */
async function send(bytes) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), SYNC_TIMEOUT_MS);
  try {
    const res = await fetch('/api/v1/sync', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: bytes,
      signal: abort.signal,
    });
    if (res.ok) {
      return { kind: 'stored', reply: new Uint8Array(await res.arrayBuffer()) };
    }
    if (res.status === 404) return { kind: 'not_found' };
    if (res.status >= 500) return OFFLINE;
    return { kind: 'failed', error: (await res.text()).trim() };
  } catch {
    return OFFLINE;
  } finally {
    clearTimeout(timer);
  }
}

class Backend {
  constructor() {
    this.ready = this.open();
    this.online = navigator.onLine;
    this.listeners = [];
    this.retry = 1000;
  }

  async open() {
    this.db = await openDb();
    this.core = await loadCore();
    this.channel = new BroadcastChannel('shoplist');
    this.channel.onmessage = (e) => this.locked(() => this.reload(e.data));
    await this.locked(() => this.reload());
    window.addEventListener('online', () => this.syncAll());
    setInterval(() => this.syncAll(), PULL_EVERY_MS);
    this.syncAll();
  }

  /** The home, loaded afresh from IndexedDB (another tab changed it). */
  async reload(changed) {
    if (this.home) this.home.close();
    this.home = this.core.openHome('');
    for (const [key, value] of await readAll(this.db))
      this.home.load(key, value);
    if (changed !== undefined) this.tell(changed);
  }

  /** Runs `work` while no other tab of this browser uses the home. */
  locked(work) {
    if (!navigator.locks) return work();
    return navigator.locks.request(LOCK, work);
  }

  async write(writes, changed) {
    await commit(this.db, writes);
    if (writes.length) this.channel.postMessage(changed);
  }

  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    for (const l of this.listeners) l.onStatus(online);
  }

  tell(changed) {
    for (const l of this.listeners) l.onChanged(changed);
  }

  /** A change: committed, then synced, then its result. */
  async change(cmd, args, changed) {
    return this.locked(async () => {
      const made = this.home.change(cmd, args);
      await this.write(made.writes, changed);
      if (made.step === undefined) return made.result;
      const answer = await send(made.sync.request);
      this.setOnline(answer !== OFFLINE);
      try {
        const done = this.home.finish(made.step, answer);
        await this.write(done.writes, changed);
        return done.result;
      } catch (e) {
        if (e.writes) await this.write(e.writes, changed);
        throw e;
      } finally {
        this.tell(changed);
      }
    });
  }

  /** Sends what is pending and pulls what others did, list by list. */
  async syncAll() {
    await this.ready;
    await this.locked(async () => {
      for (const { id } of this.home.read('lists').lists) {
        const { request } = this.home.syncRequest(id);
        const answer = await send(request);
        this.setOnline(answer !== OFFLINE);
        if (answer === OFFLINE) break;
        const { writes } = this.home.mergeSync(request, answer);
        await this.write(writes, id);
        if (writes.length) this.tell(id);
      }
    });
  }

  async request(method, path, params) {
    await this.ready;
    try {
      return await route(this, method, path, new URLSearchParams(params || {}));
    } catch (e) {
      if (e instanceof CoreError) throw new Error(e.message);
      throw e;
    }
  }

  /** A link to give others that opens this app and joins the list. */
  joinUrl(link) {
    return `${location.origin}/#join=${link}`;
  }

  subscribe(onStatus, onChanged) {
    this.listeners.push({ onStatus, onChanged });
    onStatus(this.online);
  }
}

function count(params) {
  const n = params.get('count');
  return n ? Number(n) : undefined;
}

// The page's requests (app.js, as `shoplist-cli ui` serves them) as core
// commands.
async function route(b, method, path, params) {
  const read = (cmd, args) => b.locked(async () => b.home.read(cmd, args));
  if (path === '/api/lists') {
    return method === 'GET'
      ? read('lists')
      : b.change('new', { title: params.get('title') }, '*');
  }
  if (path === '/api/name') {
    return method === 'GET'
      ? read('name')
      : await b.change('set_name', { name: params.get('name') }, '*');
  }
  if (path === '/api/join') {
    return b.change('join', { link: params.get('link') }, '*');
  }
  const match = /^\/api\/lists\/([a-z2-7]+)(?:\/(\w+))?$/.exec(path);
  if (!match) throw new Error('no such request');
  const [, list, action] = match;
  if (method === 'GET') {
    return action === 'log'
      ? read('log', { list, limit: 100 })
      : read('show', { list });
  }
  return listAction(b, list, action, params);
}

function listAction(b, list, action, params) {
  const item = params.get('item');
  switch (action) {
    case 'add':
      return b.change('add', { list, item, count: count(params) ?? 1 }, list);
    case 'remove':
    case 'buy':
    case 'unbuy':
      return b.change(action, { list, item, count: count(params) }, list);
    case 'note':
      return b.change('note', { list, item, note: params.get('note') }, list);
    case 'category':
      return b.change(
        'category',
        { list, item, category: params.get('category') },
        list,
      );
    case 'aisles':
      return b.change(
        'aisles',
        { list, order: params.getAll('category') },
        list,
      );
    case 'clear':
    case 'undo':
    case 'revoke':
    case 'delete':
      return b.change(action, { list }, action === 'delete' ? '*' : list);
    case 'rename':
      return b.change('rename', { list, title: params.get('title') }, list);
    case 'forget':
      return b.change('forget', { list, drop_unsynced: true }, '*');
    case 'share': {
      const as = params.get('gives') || undefined;
      return b.locked(async () => b.home.read('share', { list, as }));
    }
    default:
      throw new Error('no such action');
  }
}

window.shoplistBackend = new Backend();
// The page, once its backend is in place (this module loads after the
// document; the page's script would otherwise run first).
document.body.append(
  Object.assign(document.createElement('script'), { src: '/app.js' }),
);
// Opens offline after the first visit.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js');
