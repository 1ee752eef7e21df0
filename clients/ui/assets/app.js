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

// Replaces the page's content, keeping what the person is doing in it:
// text typed in form fields (and the focus), and which folded sections are
// open. Read just before replacing, so a push that lands while someone
// types or opens an item eats nothing.
function replaceApp(...children) {
  const typed = new Map();
  for (const input of app.querySelectorAll('form input[name]')) {
    if (!['title', 'note', 'category', 'aisles', 'person'].includes(input.name) || input === document.activeElement) {
      typed.set(fieldKey(input), input.value);
    }
  }
  const focused = document.activeElement && document.activeElement.name
    ? fieldKey(document.activeElement) : null;
  const open = new Set([...app.querySelectorAll('details[data-key][open]')].map((d) => d.dataset.key));
  app.replaceChildren(...children);
  for (const d of app.querySelectorAll('details[data-key]')) {
    if (open.has(d.dataset.key)) d.open = true;
  }
  for (const input of app.querySelectorAll('form input[name]')) {
    const key = fieldKey(input);
    if (typed.has(key)) input.value = typed.get(key);
    if (key === focused) input.focus();
  }
}

async function render() {
  const generation = ++renderGeneration;
  try {
    const r = route();
    if (r.list) await renderList(r.list, generation);
    else await renderHome(generation);
  } catch (e) {
    if (generation === renderGeneration) showError(e.message, true);
  }
}

async function renderHome(generation) {
  const [{ lists }, { name: person }] = await Promise.all([api('GET', '/api/lists'), api('GET', '/api/name')]);
  if (generation !== renderGeneration) return;
  const who = el('input', { name: 'person', value: person, placeholder: 'Your name', 'aria-label': 'Your name', required: '' });
  const naming = el('form', { id: 'name', onsubmit: async (e) => {
    e.preventDefault();
    try { await api('POST', '/api/name', { name: who.value }); render(); } catch (err) { showError(err.message); }
  } }, who, el('button', { type: 'submit' }, 'Save name'));
  const title = el('input', { name: 'title', placeholder: 'New list title', 'aria-label': 'New list title', required: '' });
  const create = el('form', { id: 'create', onsubmit: async (e) => {
    e.preventDefault();
    try { reportSync(await api('POST', '/api/lists', { title: title.value })); title.value = ''; render(); }
    catch (err) { showError(err.message); }
  } }, title, el('button', { class: 'primary', type: 'submit' }, 'Create'));
  const id = el('input', { name: 'link', placeholder: 'Link to join', 'aria-label': 'Link to join', required: '' });
  const join = el('form', { id: 'join', onsubmit: async (e) => {
    e.preventDefault();
    try { reportSync(await api('POST', '/api/join', { link: id.value.trim() })); id.value = ''; render(); }
    catch (err) { showError(err.message); }
  } }, id, el('button', { type: 'submit' }, 'Join'));
  const items = lists.map((l) => el('li', { 'data-list': l.id },
    el('a', { class: 'name', href: `#/list/${l.id}` }, displayTitle(l)),
    el('span', { class: 'meta' }, `${l.items.length} item(s), ${l.to_buy} to buy` +
      (l.unsynced ? `, ${l.unsynced} unsynced` : '') + (ACCESS_NOTE[l.access] ? `, ${ACCESS_NOTE[l.access]}` : '')),
    el('span', { class: 'actions' },
      l.access !== 'revoked' ? el('button', { onclick: () => share(l.id, ''), 'aria-label': `Share ${l.title}` }, 'Share') : '',
      el('button', { onclick: () => forget(l), 'aria-label': `Forget ${l.title}` }, 'Forget'),
      mayOwn(l) ? el('button', { class: 'danger', onclick: () => remove(l), 'aria-label': `Delete ${l.title}` }, 'Delete') : '')));
  replaceApp(el('h1', {}, 'Your lists'), create, join,
    items.length ? el('ul', { id: 'lists' }, ...items) : el('p', { class: 'meta' }, 'No lists yet: create one or join one by its link.'),
    sharedBox(),
    el('h2', {}, 'Your name on changes'), naming);
}

// What each capability may do (docs/sharing.md); the server decides, the
// page only hides what would be refused.
const ACCESS_WORDS = {
  owner: 'You own this list: you can change it, delete it, and give or revoke links.',
  edit: 'You can change this list and give read-only links.',
  read: 'Read-only: you can see and follow this list, not change it.',
  revoked: 'Your link was revoked: you keep what you had; ask for a new link.',
  open: 'Anyone with its ID can change this list (it predates links); close it to give read-only links.',
};
const ACCESS_NOTE = { read: 'read-only', revoked: 'link revoked', open: 'open to its ID' };
const mayEdit = (l) => ['open', 'owner', 'edit'].includes(l.access);
const mayOwn = (l) => ['open', 'owner'].includes(l.access);

// Asks the home for a link (`gives`: '' for the default, 'read', 'edit' or
// 'owner') and shows it, copied when the browser allows.
// The links last shown, kept across re-renders (a push may re-render the
// page while a share is on its way).
let shown = null;

function sharedBox() {
  const box = el('p', { id: 'shared', class: 'share', hidden: '' });
  if (shown) {
    box.hidden = false;
    box.replaceChildren(...shown.map((line) => el('div', {}, line)));
  }
  return box;
}

function showLinks(lines) {
  shown = lines;
  const box = document.getElementById('shared');
  if (box) box.replaceWith(sharedBox());
}

async function share(id, gives) {
  try {
    const { link } = await api('POST', `/api/lists/${id}/share`, gives ? { gives } : {});
    showLinks([link]);
    try { await navigator.clipboard.writeText(link); showLinks([`${link} (copied)`]); } catch (e) { /* shown to copy by hand */ }
  } catch (e) { showError(e.message); }
}

async function revoke(id) {
  if (!confirm('Make every earlier read and edit link stop working? Owner links stay.')) return;
  try {
    const body = await api('POST', `/api/lists/${id}/revoke`);
    reportSync(body);
    shown = [`edit: ${body.links.edit}`, `read: ${body.links.read}`];
    await render();
  } catch (e) { showError(e.message); }
}

async function forget(l) {
  if (!confirm(`Forget '${l.title}' on this device? Others keep it.`)) return;
  try { await api('POST', `/api/lists/${l.id}/forget`); render(); } catch (e) { showError(e.message); }
}

async function remove(l) {
  if (!confirm(`Delete '${l.title}' for everyone, for good?`)) return;
  try { reportSync(await api('POST', `/api/lists/${l.id}/delete`)); location.hash = '#/'; render(); } catch (e) { showError(e.message); }
}

// "14:02" today, "3 Dec" before: when an item last changed.
function when(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  const today = new Date().toDateString() === t.toDateString();
  return today ? t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : t.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

// The last change, in words, for the toast that offers to undo it.
function describe(e) {
  switch (e.kind) {
    case 'add': return `Added ${e.count} ${e.item}`;
    case 'remove': return `${e.count} fewer ${e.item}`;
    case 'take_off': return `Took ${e.item} off`;
    case 'buy': return `Bought ${e.item}`;
    case 'unbuy': return `${e.item} not bought`;
    case 'note': return e.text ? `Noted ${e.item}` : `Cleared the note of ${e.item}`;
    case 'category': return `${e.item} in ${e.text}`;
    case 'rename': return `Renamed to ${e.text}`;
    case 'aisles': return 'Aisle order saved';
    case 'access': return 'Links revoked';
    default: return 'Changed';
  }
}

let toastTimer = null;

// After every change: what it did, and a button that takes it back.
function showToast(id, body, undone) {
  const toast = document.getElementById('toast');
  const events = body.events || [];
  if (!events.length) { toast.hidden = true; return; }
  const text = (undone ? 'Undone: ' : '') + describe(events[0]) + (events.length > 1 ? ` (+${events.length - 1})` : '');
  const parts = [el('span', {}, text)];
  if (!undone && body.list && body.list.undoable > 0) {
    parts.push(el('button', { id: 'undo', onclick: () => undo(id) }, 'Undo'));
  }
  toast.replaceChildren(...parts);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, 8000);
}

async function undo(id) {
  try {
    const body = await api('POST', `/api/lists/${id}/undo`);
    if (!reportSync(body)) showToast(id, body, true);
    render();
  } catch (e) { showError(e.message); }
}

// One item: a big tap target that marks it bought (or not), a stepper for
// the quantity, and the rest (note, aisle, remove) behind "⋯".
function itemRow(id, i, act, editable) {
  const who = [i.changed_by, when(i.changed_at)].filter(Boolean).join(', ');
  if (!editable) {
    return el('li', { 'data-item': i.name, class: i.done ? 'done' : '' },
      el('span', { class: 'tap' },
        el('span', { class: 'check', 'aria-hidden': 'true' }, i.done ? '✓' : ''),
        el('span', { class: 'text' },
          el('span', { class: 'name' }, i.name),
          i.note ? el('span', { class: 'note' }, i.note) : '',
          who ? el('span', { class: 'who' }, who) : '')),
      el('span', { class: 'meta', title: 'bought/wanted' }, `${i.bought}/${i.wanted}`));
  }
  const tap = el('button', {
    class: 'tap', 'aria-pressed': i.done ? 'true' : 'false',
    'aria-label': i.done ? `Not bought ${i.name}` : `Bought ${i.name}`,
    onclick: act(i.done ? 'unbuy' : 'buy', { item: i.name }),
  },
  el('span', { class: 'check', 'aria-hidden': 'true' }, i.done ? '✓' : ''),
  el('span', { class: 'text' },
    el('span', { class: 'name' }, i.name),
    i.note ? el('span', { class: 'note' }, i.note) : '',
    who ? el('span', { class: 'who' }, i.done ? `bought · ${who}` : who) : ''));
  const stepper = el('span', { class: 'stepper' },
    el('button', { onclick: act('remove', { item: i.name, count: 1 }), 'aria-label': `One fewer ${i.name}`, disabled: i.wanted > 0 ? null : '' }, '−'),
    el('span', { class: 'meta', title: 'bought/wanted' }, `${i.bought}/${i.wanted}`),
    el('button', { onclick: act('add', { item: i.name, count: 1 }), 'aria-label': `One more ${i.name}` }, '+'));
  const note = el('input', { name: 'note', value: i.note, placeholder: 'Note, e.g. the blue one', 'aria-label': `Note for ${i.name}`, maxlength: '1024' });
  const category = el('input', { name: 'category', value: i.category === 'Other' ? '' : i.category, placeholder: 'Aisle, e.g. Dairy', 'aria-label': `Aisle of ${i.name}` });
  const key = encodeURIComponent(i.name);
  const more = el('details', { class: 'more', 'data-key': `more/${i.name}` },
    el('summary', { 'aria-label': `More for ${i.name}` }, '⋯'),
    el('form', { id: `note-${key}`, onsubmit: (e) => { e.preventDefault(); act('note', { item: i.name, note: note.value })(); } },
      note, el('button', { type: 'submit' }, 'Save note')),
    el('form', { id: `category-${key}`, onsubmit: (e) => { e.preventDefault(); act('category', { item: i.name, category: category.value })(); } },
      category, el('button', { type: 'submit' }, 'Set aisle')),
    el('button', { class: 'danger', onclick: act('remove', { item: i.name }), 'aria-label': `Remove ${i.name}` }, 'Remove from list'));
  return el('li', { 'data-item': i.name, class: i.done ? 'done' : '' }, tap, stepper, more);
}


// Who did what, newest first: the home's history of the list.
function historyItems(events) {
  return events.slice(0, 30).map((e) => el('li', { class: 'event' },
    el('span', { class: 'who' }, [e.by_me ? 'you' : (e.by || 'someone'), when(e.at)].filter(Boolean).join(', ')),
    el('span', {}, describe(e))));
}

function history(events) {
  const body = events === null ? el('p', { class: 'meta' }, 'Loading…')
    : events.length ? el('ul', { id: 'events' }, ...historyItems(events))
      : el('p', { class: 'meta' }, 'No changes yet.');
  const d = el('details', { 'data-key': 'history', id: 'history' }, el('summary', {}, 'History'), body);
  // Opened without its events (by hand, or kept open by a re-render that
  // began before): read them now. Opened with them: nothing to do.
  d.addEventListener('toggle', () => { if (d.open && events === null) render(); });
  return d;
}

async function renderList(id, generation) {
  // The history is read only while its section is open.
  const withHistory = !!document.getElementById('history')?.open;
  const [{ list }, { events }] = await Promise.all([
    api('GET', `/api/lists/${id}`),
    withHistory ? api('GET', `/api/lists/${id}/log`) : { events: null }]);
  if (generation !== renderGeneration) return;
  const act = (action, params) => async () => {
    try {
      const body = await api('POST', `/api/lists/${id}/${action}`, params);
      if (!reportSync(body)) showToast(id, body, false);
      // A change made from an item's "⋯" is done with it: fold it away (a
      // push from elsewhere keeps it open).
      for (const d of app.querySelectorAll('details.more[open]')) d.open = false;
      render();
    } catch (e) { showError(e.message); }
  };
  const editable = mayEdit(list);
  const name = el('input', { name: 'item', placeholder: 'Add an item', 'aria-label': 'Item name', required: '' });
  const count = el('input', { name: 'count', type: 'number', min: '1', value: '1', 'aria-label': 'How many' });
  const add = el('form', { id: 'add', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const body = await api('POST', `/api/lists/${id}/add`, { item: name.value, count: count.value });
      const gone = reportSync(body);
      if (!gone) showToast(id, body, false);
      // A change pushed while the add was on its way may have re-rendered
      // the form, carrying the typed name into new fields: clear those too,
      // or the next item would be typed after this one.
      for (const [field, value] of [[name, ''], [count, '1'],
        [document.querySelector('#add input[name=item]'), ''],
        [document.querySelector('#add input[name=count]'), '1']]) {
        if (field) field.value = value;
      }
      await render();
      if (!gone) document.querySelector('#add input[name=item]').focus();
    }
    catch (err) { showError(err.message); }
  } }, name, count, el('button', { class: 'primary', type: 'submit' }, 'Add'));

  // To buy, grouped by aisle in the list's order (the server's order), then
  // the bought ones, folded away.
  const groups = [];
  const bought = [];
  for (const i of list.items) {
    if (i.done) { bought.push(i); continue; }
    if (!groups.length || groups[groups.length - 1].name !== i.category) groups.push({ name: i.category, items: [] });
    groups[groups.length - 1].items.push(i);
  }
  const sections = groups.map((g) => el('section', { class: 'aisle', 'data-aisle': g.name },
    el('h2', {}, g.name), el('ul', {}, ...g.items.map((i) => itemRow(id, i, act, editable)))));
  const details = (key, summary, ...body) => {
    return el('details', { 'data-key': key, id: key }, el('summary', {}, summary), ...body);
  };
  if (bought.length) {
    sections.push(details('bought', `Bought (${bought.length})`,
      el('ul', {}, ...bought.map((i) => itemRow(id, i, act, editable))),
      editable ? el('button', { id: 'clear', onclick: act('clear') }, 'Clear bought') : ''));
  }
  const order = el('input', { name: 'aisles', value: list.aisles.join(', '), placeholder: 'e.g. Produce, Bakery, Dairy', 'aria-label': 'Aisle order' });
  const aisles = el('form', { id: 'aisles', onsubmit: (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const a of order.value.split(',').map((s) => s.trim()).filter(Boolean)) params.append('category', a);
    act('aisles', params)();
  } }, order, el('button', { type: 'submit' }, 'Save order'));
  const title = el('input', { name: 'title', value: list.title, 'aria-label': 'List title' });
  const rename = el('form', { id: 'rename', onsubmit: async (e) => {
    e.preventDefault();
    act('rename', { title: title.value })();
  } }, title, el('button', { type: 'submit' }, 'Rename'));
  const gives = { owner: ['edit', 'read', 'owner'], edit: ['edit', 'read'], read: ['read'], open: ['edit'] }[list.access] || [];
  const sharing = details('sharing', 'Sharing',
    el('p', { class: 'meta', id: 'access' }, ACCESS_WORDS[list.access]),
    ...gives.map((g) => el('button', { onclick: () => share(id, g), 'data-gives': g }, `${g[0].toUpperCase()}${g.slice(1)} link`)),
    mayOwn(list) ? el('button', { class: 'danger', id: 'revoke', onclick: () => revoke(id) }, list.access === 'open' ? 'Close with links' : 'Revoke links') : '',
    sharedBox());
  replaceApp(
    el('p', {}, el('a', { href: '#/' }, '← All lists')),
    el('h1', { id: 'title' }, displayTitle(list)),
    el('p', { class: 'meta' }, 'ID ', el('span', { class: 'share' }, list.id),
      list.unsynced ? ` · ${list.unsynced} unsynced change(s)` : '',
      ACCESS_NOTE[list.access] ? ` · ${ACCESS_NOTE[list.access]}` : ''),
    editable ? add : '',
    list.items.length ? el('div', { id: 'items' }, ...sections) : el('p', { class: 'meta' }, 'Nothing on this list yet.'),
    history(events),
    sharing,
    editable ? details('settings', 'Aisles and title',
      el('p', { class: 'meta' }, 'Aisles in the order you walk the store; items show grouped that way.'),
      aisles, rename) : '');
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

window.addEventListener('hashchange', () => { shown = null; render(); });
render();
