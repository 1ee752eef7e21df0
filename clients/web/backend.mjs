// The phone app's backend: the client core in WebAssembly
// (shoplist_core.mjs), its records in IndexedDB, the cloud over the
// proxy's browser API (POST /api/v1/sync). It answers the page's requests
// (app.js) as `shoplist-cli ui` answers them over HTTP, so the page is one
// copy for both.
//
// Local first: every change is committed to IndexedDB in one transaction
// (the records the core returns) before the page hears of it; then it is
// synced. Offline, changes stay pending; the `online` event and a check
// every 5 s send them. While the page is open, each list is watched
// (POST /api/v1/watch: the cloud pushes others' changes as they happen),
// the watch re-opened after a pause that doubles up to 30 s. Tabs of one
// browser take turns on the home (Web Locks) and tell each other to reload
// it (BroadcastChannel).
import { CoreError, OFFLINE, loadCore } from './shoplist_core.mjs';

const DB_NAME = 'shoplist';
const STORE = 'records';
const LOCK = 'shoplist-home';
const SYNC_TIMEOUT_MS = 4000;
const PUSH_EVERY_MS = 5000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** The records, and the generation they are at, read in one transaction. */
async function readAll(db) {
  const store = db.transaction(STORE).objectStore(STORE);
  const [keys, values] = await Promise.all([
    request(store.getAllKeys()),
    request(store.getAll()),
  ]);
  const records = [];
  let generation = 0;
  keys.forEach((key, i) => {
    if (key === GENERATION) generation = values[i];
    else records.push([key, new Uint8Array(values[i])]);
  });
  return { records, generation };
}

// How many batches the tabs of this browser have committed, kept with
// the records (the core ignores keys outside its prefixes): a tab whose
// core was loaded at another count reloads it before it acts, or it would
// write back a list without another tab's change.
const GENERATION = 'host/generation';

async function storedGeneration(db) {
  const store = db.transaction(STORE).objectStore(STORE);
  return (await request(store.get(GENERATION))) ?? 0;
}

/**
 * Commits a batch of writes, and the generation after `loaded`, in one
 * transaction; aborts it when the store is no longer at `loaded` (a tab
 * without Web Locks, or of an earlier version, committed meanwhile).
 */
function commit(db, writes, loaded) {
  if (!writes.length) return Promise.resolve();
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  const now = store.get(GENERATION);
  now.onsuccess = () => {
    if ((now.result ?? 0) !== loaded) {
      tx.abort();
      return;
    }
    store.put(loaded + 1, GENERATION);
    for (const w of writes) {
      if (w.put !== undefined) store.put(w.value, w.put);
      else if (w.delete !== undefined) store.delete(w.delete);
      else
        store.delete(
          IDBKeyRange.bound(w.delete_prefix, `${w.delete_prefix}\uffff`),
        );
    }
  };
  return new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () =>
      reject(tx.error ?? new Error('another tab changed the home: try again'));
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
    this.stale = false; // another tab committed since this one loaded
    this.ready = this.open();
    this.online = navigator.onLine;
    this.listeners = [];
    this.watching = new Set();
  }

  async open() {
    this.db = await openDb();
    this.core = await loadCore();
    this.channel = new BroadcastChannel('shoplist');
    // Another tab committed: this one's core is reloaded when it next
    // holds the lock (locked), whatever the generation says (a tab of an
    // earlier version does not count its commits); the page re-reads now.
    this.channel.onmessage = (e) => {
      this.stale = true;
      this.locked(async () => this.tell(e.data));
    };
    await this.locked(async () => {});
    window.addEventListener('online', () => this.syncAll());
    setInterval(() => this.syncAll(true), PUSH_EVERY_MS);
    this.syncAll();
  }

  /** The home, loaded afresh from IndexedDB; none when that fails. */
  async reload() {
    if (this.home) this.home.close();
    this.home = null;
    const { records, generation } = await readAll(this.db);
    const home = this.core.openHome('');
    try {
      for (const [key, value] of records) home.load(key, value);
    } catch (e) {
      home.close();
      throw e;
    }
    this.home = home;
    this.generation = generation;
  }

  /**
   * Runs `work` while no other tab of this browser uses the home, on a
   * core that has every tab's commits.
   */
  locked(work) {
    const fresh = async () => {
      const stale = this.stale;
      this.stale = false;
      if (
        stale ||
        !this.home ||
        (await storedGeneration(this.db)) !== this.generation
      ) {
        await this.reload();
      }
      return work();
    };
    if (!navigator.locks) return fresh();
    return navigator.locks.request(LOCK, fresh);
  }

  async write(writes, changed) {
    try {
      await commit(this.db, writes, this.generation);
    } catch (e) {
      // The core is ahead of the store: the next call loads it afresh.
      this.home?.close();
      this.home = null;
      throw e;
    }
    if (writes.length) this.generation += 1;
    if (!writes.length) return;
    // When a change is durable here (what "tap to stored" measures).
    performance.mark('shoplist:stored');
    this.channel.postMessage(changed);
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

  /**
   * Sends what is pending and pulls what others did, list by list (only
   * what is pending when `pendingOnly`: watches bring the rest); then
   * watches every list.
   */
  async syncAll(pendingOnly = false) {
    await this.ready;
    await this.locked(async () => {
      for (const l of this.home.read('lists').lists) {
        const { id } = l;
        if (pendingOnly && l.unsynced === 0 && l.in_cloud) continue;
        const { request } = this.home.syncRequest(id);
        const answer = await send(request);
        this.setOnline(answer !== OFFLINE);
        if (answer === OFFLINE) break;
        const { writes } = this.home.mergeSync(request, answer);
        await this.write(writes, id);
        if (writes.length) this.tell(id);
      }
    });
    this.keepWatching();
  }

  keepWatching() {
    if (!this.home) return; // a failed commit dropped it; the next call loads
    for (const { id, in_cloud: inCloud } of this.home.read('lists').lists) {
      if (inCloud && !this.watching.has(id)) {
        this.watching.add(id);
        this.watch(id);
      }
    }
  }

  /** Follows one list's watch stream until the list is gone here. */
  async watch(id) {
    for (let pause = 1000; this.watching.has(id);) {
      try {
        const ended = await this.followWatch(id);
        if (ended) break;
        pause = 1000;
      } catch {
        // Offline, or the stream broke: try again after a pause.
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 30000);
    }
    this.watching.delete(id);
  }

  /** One watch stream; true when the list's watch is over for good. */
  async followWatch(id) {
    const opened = await this.locked(async () => {
      const lists = this.home.read('lists').lists;
      return lists.some((l) => l.id === id) && this.home.watchRequest(id);
    });
    if (!opened) return true;
    const res = await fetch('/api/v1/watch', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: opened.request,
    });
    if (res.status === 404 || res.status === 403) return true;
    if (!res.ok) throw new Error(`watch: ${res.status}`);
    this.setOnline(true);
    return this.readFrames(id, res.body.getReader());
  }

  /** Merges each frame (4 bytes of length, then a WatchEvent). */
  async readFrames(id, reader) {
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      while (buffer.length >= 4) {
        const n = new DataView(buffer.buffer, buffer.byteOffset).getUint32(0);
        if (buffer.length < 4 + n) break;
        const event = buffer.slice(4, 4 + n);
        buffer = buffer.slice(4 + n);
        if (!(await this.merge(id, event))) return true;
      }
    }
  }

  async merge(id, event) {
    return this.locked(async () => {
      const merged = this.home.watched(id, event);
      await this.write(merged.writes, id);
      if (merged.event) this.tell(merged.event.deleted ? '*' : id);
      return merged.keep;
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
async function route(b, method, target, params) {
  const read = (cmd, args) => b.locked(async () => b.home.read(cmd, args));
  const [path, query] = target.split('?');
  if (path === '/api/suggest') {
    const q = new URLSearchParams(query);
    const list = q.get('list') || undefined;
    return read('suggest', { text: q.get('text') || '', list });
  }
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
    if (action === 'log') return read('log', { list, limit: 100 });
    if (action === 'again') return read('again', { list });
    return read('show', { list });
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
