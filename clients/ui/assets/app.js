// shoplist's page: lists and items from the local home, through the small
// JSON API of `shoplist-cli ui`. Every change goes to the home at once;
// the server pushes changes (its own and others') as server-sent events,
// so the page re-reads only when told.
'use strict';

const app = document.getElementById('app');
const errorBox = document.getElementById('error');
const statusBox = document.getElementById('status');

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// A message from a read (a render) goes with the next read that works; one
// from a change stays through the re-renders that change causes, until the
// next change that works.
let errorFromRead = false;

function showError(message, fromRead = false) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
  errorFromRead = fromRead && !!message;
}

async function api(method, path, params) {
  const options = { method };
  if (params) {
    options.body = new URLSearchParams(params);
    options.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  }
  const res = await fetch(path, options);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `request failed (${res.status})`);
  if (method !== 'GET' || errorFromRead) showError('');
  return body;
}

// What a change's sync tells a person: the cloud refused it, or someone
// deleted the list meanwhile (it is gone from this home: back to all lists).
// True when the list is gone.
function reportSync(body) {
  const sync = body.sync;
  if (sync && sync.outcome === 'failed') showError(sync.error || `sync of ${sync.id} failed`);
  if (sync && sync.outcome === 'deleted_elsewhere') {
    showError(`'${sync.title || sync.id}' was deleted by someone else.`);
    location.hash = '#/';
    return true;
  }
  return false;
}

// The title, or what stands in for it while the list waits for a sync.
function displayTitle(l) {
  if (l.phase === 'awaiting_fetch') return '(not fetched yet)';
  if (l.phase === 'deleting') return '(deleted; not synced yet)';
  return l.title || '(untitled)';
}

function route() {
  const m = location.hash.match(/^#\/list\/([a-z2-7]+)$/);
  return m ? { list: m[1] } : {};
}

// A change pushed while someone types must not eat what they typed: form
// fields keep their text (and focus) across a re-render.
function fieldKey(input) {
  const form = input.closest('form');
  return form ? `${form.id}/${input.name}` : null;
}

// Renders overlap when changes arrive quickly; only the newest may draw,
// or an older answer could overwrite a newer one.
let renderGeneration = 0;

async function render() {
  const generation = ++renderGeneration;
  const typed = new Map();
  for (const input of app.querySelectorAll('form input[name]')) {
    if (input.name !== 'title' || input === document.activeElement) {
      typed.set(fieldKey(input), input.value);
    }
  }
  const focused = document.activeElement && document.activeElement.name
    ? fieldKey(document.activeElement) : null;
  try {
    const r = route();
    if (r.list) await renderList(r.list, generation);
    else await renderHome(generation);
  } catch (e) {
    if (generation === renderGeneration) showError(e.message, true);
    return;
  }
  if (generation !== renderGeneration) return;
  for (const input of app.querySelectorAll('form input[name]')) {
    const key = fieldKey(input);
    if (typed.has(key)) input.value = typed.get(key);
    if (key === focused) input.focus();
  }
}

async function renderHome(generation) {
  const { lists } = await api('GET', '/api/lists');
  if (generation !== renderGeneration) return;
  const title = el('input', { name: 'title', placeholder: 'New list title', 'aria-label': 'New list title', required: '' });
  const create = el('form', { id: 'create', onsubmit: async (e) => {
    e.preventDefault();
    try { reportSync(await api('POST', '/api/lists', { title: title.value })); title.value = ''; render(); }
    catch (err) { showError(err.message); }
  } }, title, el('button', { class: 'primary', type: 'submit' }, 'Create'));
  const id = el('input', { name: 'id', placeholder: 'List ID to join', 'aria-label': 'List ID to join', required: '' });
  const join = el('form', { id: 'join', onsubmit: async (e) => {
    e.preventDefault();
    try { reportSync(await api('POST', '/api/join', { id: id.value.trim() })); id.value = ''; render(); }
    catch (err) { showError(err.message); }
  } }, id, el('button', { type: 'submit' }, 'Join'));
  const items = lists.map((l) => el('li', { 'data-list': l.id },
    el('a', { class: 'name', href: `#/list/${l.id}` }, displayTitle(l)),
    el('span', { class: 'meta' }, `${l.items.length} item(s), ${l.to_buy} to buy` +
      (l.unsynced ? `, ${l.unsynced} unsynced` : '')),
    el('span', { class: 'actions' },
      el('button', { onclick: () => share(l.id), 'aria-label': `Share ${l.title}` }, 'Share'),
      el('button', { onclick: () => forget(l), 'aria-label': `Forget ${l.title}` }, 'Forget'),
      el('button', { class: 'danger', onclick: () => remove(l), 'aria-label': `Delete ${l.title}` }, 'Delete'))));
  app.replaceChildren(el('h1', {}, 'Your lists'), create, join,
    items.length ? el('ul', { id: 'lists' }, ...items) : el('p', { class: 'meta' }, 'No lists yet: create one or join one by its ID.'),
    el('p', { id: 'shared', class: 'share', hidden: '' }));
}

async function share(id) {
  const box = document.getElementById('shared');
  box.hidden = false;
  box.textContent = id;
  try { await navigator.clipboard.writeText(id); box.textContent = `${id} (copied)`; } catch (e) { /* shown to copy by hand */ }
}

async function forget(l) {
  if (!confirm(`Forget '${l.title}' on this device? Others keep it.`)) return;
  try { await api('POST', `/api/lists/${l.id}/forget`); render(); } catch (e) { showError(e.message); }
}

async function remove(l) {
  if (!confirm(`Delete '${l.title}' for everyone, for good?`)) return;
  try { reportSync(await api('POST', `/api/lists/${l.id}/delete`)); location.hash = '#/'; render(); } catch (e) { showError(e.message); }
}

async function renderList(id, generation) {
  const { list } = await api('GET', `/api/lists/${id}`);
  if (generation !== renderGeneration) return;
  const act = (action, params) => async () => {
    try { reportSync(await api('POST', `/api/lists/${id}/${action}`, params)); render(); } catch (e) { showError(e.message); }
  };
  const name = el('input', { name: 'item', placeholder: 'Item', 'aria-label': 'Item name', required: '' });
  const count = el('input', { name: 'count', type: 'number', min: '1', value: '1', 'aria-label': 'How many' });
  const add = el('form', { id: 'add', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const gone = reportSync(await api('POST', `/api/lists/${id}/add`, { item: name.value, count: count.value }));
      name.value = ''; count.value = '1';
      await render();
      if (!gone) document.querySelector('#add input[name=item]').focus();
    }
    catch (err) { showError(err.message); }
  } }, name, count, el('button', { class: 'primary', type: 'submit' }, 'Add'));
  const title = el('input', { name: 'title', value: list.title, 'aria-label': 'List title' });
  const rename = el('form', { id: 'rename', onsubmit: async (e) => {
    e.preventDefault();
    try { reportSync(await api('POST', `/api/lists/${id}/rename`, { title: title.value })); render(); } catch (err) { showError(err.message); }
  } }, title, el('button', { type: 'submit' }, 'Rename'));
  const items = list.items.map((i) => el('li', { 'data-item': i.name, class: i.done ? 'done' : '' },
    el('span', { class: 'name' }, i.name),
    el('span', { class: 'meta' }, `${i.bought}/${i.wanted}`),
    el('span', { class: 'actions' },
      el('button', { onclick: act('add', { item: i.name, count: 1 }), 'aria-label': `One more ${i.name}` }, '+1'),
      el('button', { onclick: act('remove', { item: i.name, count: 1 }), 'aria-label': `One fewer ${i.name}` }, '−1'),
      el('button', { onclick: act('buy', { item: i.name }), 'aria-label': `Bought ${i.name}` }, 'Bought'),
      el('button', { class: 'danger', onclick: act('remove', { item: i.name }), 'aria-label': `Remove ${i.name}` }, 'Remove'))));
  app.replaceChildren(
    el('p', {}, el('a', { href: '#/' }, '← All lists')),
    el('h1', { id: 'title' }, displayTitle(list)),
    el('p', { class: 'meta' }, 'ID ', el('span', { class: 'share' }, list.id),
      list.unsynced ? ` · ${list.unsynced} unsynced change(s)` : ''),
    add,
    items.length ? el('ul', { id: 'items' }, ...items) : el('p', { class: 'meta' }, 'Nothing on this list yet.'),
    rename);
}

function setStatus(online) {
  statusBox.textContent = online ? 'online' : 'offline';
  statusBox.className = `status ${online ? 'online' : 'offline'}`;
}

// Pushed by the server: re-read when a list changes, show online/offline.
const events = new EventSource('/events');
events.addEventListener('status', (e) => setStatus(e.data === 'online'));
events.addEventListener('changed', (e) => {
  const r = route();
  if (!r.list || e.data === '*' || e.data === r.list) render();
});
events.onerror = () => setStatus(false);

window.addEventListener('hashchange', render);
render();
