// The client core in WebAssembly, for browsers, workers and Node: one Home
// per home, over the same C++ as shoplist-cli (clients/core/home_core.h).
// Values go in; JSON documents (docs/json.md) and byte arrays come out.
// The host owns all I/O: it loads the stored records, commits the writes
// each change returns before it shows the change, and does the network.
//
//   import { loadCore } from './shoplist_core.mjs';
//   const core = await loadCore();
//   const home = core.openHome('Ann');
//   for (const [key, bytes] of stored) home.load(key, bytes);
//   const change = home.change('add', { list: 'Groceries', item: 'milk' });
//   await commit(change.writes);             // e.g. one IndexedDB transaction
//   const answer = change.sync ? await send(change.sync.request) : OFFLINE;
//   const done = home.finish(change.step, answer);
//   await commit(done.writes);               // then show done.result
//
// Errors: a refused command throws CoreError (code: the gRPC code name of
// docs/json.md, message: for people); nothing was changed then. When the
// host cannot commit a change's writes, the core is ahead of the store:
// close() the Home and open a new one from the store.
import createShoplist from './shoplist_core_wasm.mjs';

/** A command the core refused. */
export class CoreError extends Error {
  constructor({ error, code }) {
    super(error);
    this.code = code;
  }
}

/** The answer of a sync the host could not make. */
export const OFFLINE = Object.freeze({ kind: 'offline' });

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(bytes) {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** [{put, value: Uint8Array} | {delete} | {delete_prefix}] */
function writesOf(writes = []) {
  return writes.map((w) =>
    w.put === undefined ? w : { put: w.put, value: fromBase64(w.value) },
  );
}

/** Fresh inputs of a change: the clock and 40 random bytes. */
function inputs() {
  const random = new Uint8Array(40);
  globalThis.crypto.getRandomValues(random);
  return { now: Date.now() * 1000, random: toBase64(random) };
}

class Home {
  constructor(module, name) {
    this.module = module;
    this.session = this.withBytes(name, (at, size) =>
      module._shoplist_session_new(at, size),
    );
  }

  withBytes(text, use) {
    const bytes = encoder.encode(text);
    const at = this.module._malloc(bytes.length || 1);
    this.module.HEAPU8.set(bytes, at);
    try {
      return use(at, bytes.length);
    } finally {
      this.module._free(at);
    }
  }

  /** One CoreSession command (core_session.h); its answer, parsed. */
  call(command) {
    const { module } = this;
    this.withBytes(JSON.stringify(command), (at, size) =>
      module._shoplist_session_call(this.session, at, size),
    );
    const data = module._shoplist_result_data();
    const size = module._shoplist_result_size();
    const answer = JSON.parse(
      decoder.decode(module.HEAPU8.subarray(data, data + size)),
    );
    if (answer.error !== undefined && answer.writes === undefined) {
      throw new CoreError(answer.error);
    }
    return answer;
  }

  /** Loads one stored record (key: string, value: Uint8Array). */
  load(key, value) {
    this.call({ cmd: 'load', key, value: toBase64(value) });
  }

  /** A reading command: lists, show, log, share, name. */
  read(cmd, args = {}) {
    return this.call({ cmd, ...args });
  }

  /**
   * A change (new, add, remove, buy, unbuy, note, category, aisles, clear,
   * rename, undo, revoke, delete, join, set_name, forget): its writes, and
   * when it syncs the request bytes and the step to finish.
   */
  change(cmd, args = {}) {
    const answer = this.call({ cmd, ...args, ...inputs() });
    return {
      writes: writesOf(answer.writes),
      result: answer.result,
      step: answer.step,
      sync: answer.sync && {
        id: answer.sync.id,
        request: fromBase64(answer.sync.request),
      },
    };
  }

  /**
   * Finishes a change's step with the cloud's answer: {kind: 'stored',
   * reply: Uint8Array} | {kind: 'not_found'} | {kind: 'failed', error} |
   * OFFLINE. Returns the merge's writes and the change's result; throws
   * CoreError (with .writes to commit still) when the change fails now.
   */
  finish(step, answer) {
    const wire =
      answer.reply === undefined
        ? answer
        : { ...answer, reply: toBase64(answer.reply) };
    const done = this.call({ cmd: 'finish', step, answer: wire });
    const writes = writesOf(done.writes);
    if (done.error !== undefined) {
      throw Object.assign(new CoreError(done.error), { writes });
    }
    return { writes, result: done.result };
  }

  /** The request bytes of a sync of one list (its id or name). */
  syncRequest(list) {
    const { id, request } = this.call({ cmd: 'sync_request', list });
    return { id, request: fromBase64(request) };
  }

  /**
   * Merges the cloud's answer to `request` (syncRequest's bytes): the
   * writes to commit, and the report (docs/json.md).
   */
  mergeSync(request, answer) {
    const wire =
      answer.reply === undefined
        ? answer
        : { ...answer, reply: toBase64(answer.reply) };
    const merged = this.call({
      cmd: 'merge_sync',
      request: toBase64(request),
      answer: wire,
    });
    return { writes: writesOf(merged.writes), report: merged.report };
  }

  /** The request bytes of a watch of one list (its id or name). */
  watchRequest(list) {
    const { id, request } = this.call({ cmd: 'watch_request', list });
    return { id, request: fromBase64(request) };
  }

  /**
   * Merges one event of a watch stream (v1::WatchEvent bytes): the writes
   * to commit, the event (docs/json.md) or null when nothing visible
   * changed, and whether to keep watching.
   */
  watched(id, event) {
    const merged = this.call({
      cmd: 'watched',
      id,
      event: toBase64(event),
      ...inputs(),
    });
    return {
      writes: writesOf(merged.writes),
      event: merged.event,
      keep: merged.keep,
    };
  }

  /** Frees the core. */
  close() {
    this.module._shoplist_session_free(this.session);
    this.session = 0;
  }
}

/** Loads the module; openHome(name) gives a core per home. */
export async function loadCore(options = {}) {
  const module = await createShoplist(options);
  return { openHome: (name = '') => new Home(module, name) };
}
