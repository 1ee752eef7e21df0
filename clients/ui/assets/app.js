// shoplist's page: lists and items of a home, through a backend: the small
// JSON API of `shoplist-cli ui` (below), or, in the phone app, the client
// core running in the browser (clients/web/backend.mjs, which installs
// itself as window.shoplistBackend before this script runs). Every change
// goes to the home at once; the backend tells of changes (its own and
// others') so the page re-reads only when told.
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

// The local page's backend: `shoplist-cli ui`'s HTTP API, and its
// server-sent events.
const httpBackend = {
  async request(method, path, params) {
    const options = { method };
    if (params) {
      options.body = new URLSearchParams(params);
      options.headers = {
        'Content-Type': 'application/x-www-form-urlencoded',
      };
    }
    const res = await fetch(path, options);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new Error(body.error || `request failed (${res.status})`);
    }
    return body;
  },
  subscribe(onStatus, onChanged) {
    const events = new EventSource('/events');
    events.addEventListener('status', (e) => onStatus(e.data === 'online'));
    events.addEventListener('changed', (e) => onChanged(e.data));
    events.onerror = () => onStatus(false);
  },
};
const backend = window.shoplistBackend || httpBackend;

async function api(method, path, params) {
  const body = await backend.request(method, path, params);
  if (method !== 'GET' || errorFromRead) showError('');
  return body;
}

// A form whose submit stays on the page and runs `submit`, showing what
// fails.
function form(id, submit, ...children) {
  const onsubmit = async (e) => {
    e.preventDefault();
    try {
      await submit();
    } catch (err) {
      showError(err.message);
    }
  };
  return el('form', { id, onsubmit }, ...children);
}

// A folded section; replaceApp keeps it open across re-renders.
function folded(key, summary, ...body) {
  return el(
    'details',
    { 'data-key': key, id: key },
    el('summary', {}, summary),
    ...body,
  );
}

// What a change's sync tells a person: the cloud refused it, or someone
// deleted the list meanwhile (it is gone from this home: back to all lists).
// True when the list is gone.
function reportSync(body) {
  const sync = body.sync;
  if (sync && sync.outcome === 'failed') {
    showError(sync.error || `sync of ${sync.id} failed`);
  }
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
  const parent = input.closest('form');
  return parent ? `${parent.id}/${input.name}` : null;
}

// Fields filled from the list itself: a re-render shows the new value unless
// the person is typing in one. Other fields keep their text regardless.
const FILLED_FIELDS = ['title', 'note', 'category', 'aisles', 'person'];

// Renders overlap when changes arrive quickly; only the newest may draw,
// or an older answer could overwrite a newer one.
let renderGeneration = 0;

// What the person is doing in the page: text typed in form fields, the
// focused field, and which folded sections are open.
function readWork() {
  const typed = new Map();
  for (const input of app.querySelectorAll('form input[name]')) {
    if (
      !FILLED_FIELDS.includes(input.name) ||
      input === document.activeElement
    ) {
      typed.set(fieldKey(input), input.value);
    }
  }
  const active = document.activeElement;
  const focused = active && active.name ? fieldKey(active) : null;
  const open = new Set(
    [...app.querySelectorAll('details[data-key][open]')].map(
      (d) => d.dataset.key,
    ),
  );
  return { typed, focused, open };
}

function restoreWork({ typed, focused, open }) {
  for (const d of app.querySelectorAll('details[data-key]')) {
    if (open.has(d.dataset.key)) d.open = true;
  }
  for (const input of app.querySelectorAll('form input[name]')) {
    const key = fieldKey(input);
    if (typed.has(key)) input.value = typed.get(key);
    if (key === focused) input.focus();
  }
}

// Replaces the page's content, keeping what the person is doing in it.
// Read just before replacing, so a push that lands while someone types or
// opens an item eats nothing.
function replaceApp(...children) {
  const work = readWork();
  app.replaceChildren(...children);
  restoreWork(work);
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

// What each capability may do (docs/sharing.md); the server decides, the
// page only hides what would be refused.
const ACCESS_WORDS = {
  owner:
    'You own this list: you can change it, delete it, and give or revoke links.',
  edit: 'You can change this list and give read-only links.',
  read: 'Read-only: you can see and follow this list, not change it.',
  revoked: 'Your link was revoked: you keep what you had; ask for a new link.',
  open: 'Anyone with its ID can change this list (it predates links); close it to give read-only links.',
};
const ACCESS_NOTE = {
  read: 'read-only',
  revoked: 'link revoked',
  open: 'open to its ID',
};
// The links each capability may give.
const LINKS_TO_GIVE = {
  owner: ['edit', 'read', 'owner'],
  edit: ['edit', 'read'],
  read: ['read'],
  open: ['edit'],
};
const mayEdit = (l) => ['open', 'owner', 'edit'].includes(l.access);
const mayOwn = (l) => ['open', 'owner'].includes(l.access);

async function renderHome(generation) {
  const [{ lists }, { name: person }] = await Promise.all([
    api('GET', '/api/lists'),
    api('GET', '/api/name'),
  ]);
  if (generation !== renderGeneration) return;
  replaceApp(
    el('h1', {}, 'Your lists'),
    createForm(),
    joinForm(),
    lists.length
      ? el('ul', { id: 'lists' }, ...lists.map(listRow))
      : el(
          'p',
          { class: 'meta' },
          'No lists yet: create one or join one by its link.',
        ),
    sharedBox(),
    el('h2', {}, 'Your name on changes'),
    nameForm(person),
  );
}

function nameForm(person) {
  const who = el('input', {
    name: 'person',
    value: person,
    placeholder: 'Your name',
    'aria-label': 'Your name',
    required: '',
  });
  const save = async () => {
    await api('POST', '/api/name', { name: who.value });
    render();
  };
  return form('name', save, who, el('button', { type: 'submit' }, 'Save name'));
}

function createForm() {
  const title = el('input', {
    name: 'title',
    placeholder: 'New list title',
    'aria-label': 'New list title',
    required: '',
  });
  const create = async () => {
    reportSync(await api('POST', '/api/lists', { title: title.value }));
    title.value = '';
    render();
  };
  const button = el('button', { class: 'primary', type: 'submit' }, 'Create');
  return form('create', create, title, button);
}

function joinForm() {
  const link = el('input', {
    name: 'link',
    placeholder: 'Link to join',
    'aria-label': 'Link to join',
    required: '',
  });
  const join = async () => {
    reportSync(await api('POST', '/api/join', { link: link.value.trim() }));
    link.value = '';
    render();
  };
  return form('join', join, link, el('button', { type: 'submit' }, 'Join'));
}

// One list on the home page: its title (a link to it), how much is on it,
// and what this home may do with it.
function listRow(l) {
  const n = l.items.length;
  const meta =
    `${n} item${n === 1 ? '' : 's'}, ${l.to_buy} to buy` +
    (l.unsynced ? `, ${l.unsynced} unsynced` : '') +
    (ACCESS_NOTE[l.access] ? `, ${ACCESS_NOTE[l.access]}` : '');
  return el(
    'li',
    { 'data-list': l.id },
    el('a', { class: 'name', href: `#/list/${l.id}` }, displayTitle(l)),
    el('span', { class: 'meta' }, meta),
    el('span', { class: 'actions' }, ...listActions(l)),
  );
}

function listActions(l) {
  const button = (attrs, text) =>
    el('button', { ...attrs, 'aria-label': `${text} ${l.title}` }, text);
  return [
    l.access !== 'revoked'
      ? button({ onclick: () => share(l.id, '') }, 'Share')
      : '',
    button({ onclick: () => forget(l) }, 'Forget'),
    mayOwn(l)
      ? button({ class: 'danger', onclick: () => remove(l) }, 'Delete')
      : '',
  ];
}

// The links last shown ({ what, link }), kept across re-renders (a push
// may re-render the page while a share is on its way).
let shown = null;

function sharedBox() {
  const box = el('div', { id: 'shared', hidden: '' });
  if (shown) {
    box.hidden = false;
    box.replaceChildren(...shown.map(linkCard));
  }
  return box;
}

function showLinks(links) {
  shown = links;
  const box = document.getElementById('shared');
  if (box) box.replaceWith(sharedBox());
}

// One link to give: as text, a button to copy it, the system's share
// sheet where the browser has one, and a QR code to scan from this screen.
function linkCard({ what, link }) {
  const copy = el('button', { type: 'button', class: 'copy' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      copy.textContent = 'Copied';
    } catch {
      showError('The browser refused to copy: select the link instead.');
    }
  });
  // The phone app's links are addresses; the local page's are to paste
  // into `shoplist-cli join` or a join field.
  const shareData = /^https?:/.test(link)
    ? { title: 'shoplist', url: link }
    : { title: 'shoplist', text: link };
  const sheet =
    navigator.share && navigator.canShare?.(shareData) !== false
      ? el(
          'button',
          {
            type: 'button',
            onclick: () => navigator.share(shareData).catch(() => {}),
          },
          'Share…',
        )
      : '';
  return el(
    'div',
    { class: 'link-card' },
    el('div', { class: 'link share' }, link),
    what ? el('div', { class: 'meta' }, what) : '',
    el('div', { class: 'actions' }, copy, sheet),
    qrBox(link),
  );
}

// Debian's qrcode-generator (served as /qrcode.js), loaded when a link is
// first shown.
let qrLibrary = null;

function loadQr() {
  qrLibrary ??= new Promise((resolve, reject) => {
    const script = el('script', { src: '/qrcode.js' });
    script.addEventListener('load', () => resolve(window.qrcode));
    script.addEventListener('error', reject);
    document.head.append(script);
  });
  return qrLibrary;
}

function qrBox(link) {
  const box = el('div', {
    class: 'qr',
    role: 'img',
    'aria-label': 'QR code of the link',
  });
  loadQr()
    .then((qrcode) => box.append(qrSvg(qrcode, link)))
    .catch(() => {
      qrLibrary = null; // offline, say: tried again with the next link
      box.remove();
    });
  return box;
}

// The code as one SVG path, with the quiet zone of four modules scanners
// need.
function qrSvg(qrcode, text) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
    }
  }
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${n + 8} ${n + 8}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

// Asks the home for a link (`gives`: '' for the default, 'read', 'edit' or
// 'owner') and shows it.
async function share(id, gives) {
  try {
    const path = `/api/lists/${id}/share`;
    const body = await api('POST', path, gives ? { gives } : {});
    // The phone app gives a link that opens it: https://HOST/#join=<link>.
    const link = backend.joinUrl ? backend.joinUrl(body.link) : body.link;
    showLinks([{ what: LINK_WORDS[body.gives], link }]);
  } catch (e) {
    showError(e.message);
  }
}

// What a link lets its holder do, under it.
const LINK_WORDS = {
  owner: 'Owner link: whoever opens it can do everything you can.',
  edit: 'Edit link: whoever opens it can change the list.',
  read: 'Read-only link: whoever opens it can see the list.',
  open: 'Anyone with this can change the list.',
};

async function revoke(id) {
  const question =
    'Make every earlier read and edit link stop working? Owner links stay.';
  if (!confirm(question)) return;
  try {
    const body = await api('POST', `/api/lists/${id}/revoke`);
    reportSync(body);
    const url = (link) => (backend.joinUrl ? backend.joinUrl(link) : link);
    shown = [
      { what: LINK_WORDS.edit, link: url(body.links.edit) },
      { what: LINK_WORDS.read, link: url(body.links.read) },
    ];
    await render();
  } catch (e) {
    showError(e.message);
  }
}

async function forget(l) {
  if (!confirm(`Forget '${l.title}' on this device? Others keep it.`)) return;
  try {
    await api('POST', `/api/lists/${l.id}/forget`);
    render();
  } catch (e) {
    showError(e.message);
  }
}

async function remove(l) {
  if (!confirm(`Delete '${l.title}' for everyone, for good?`)) return;
  try {
    reportSync(await api('POST', `/api/lists/${l.id}/delete`));
    location.hash = '#/';
    render();
  } catch (e) {
    showError(e.message);
  }
}

// "14:02" today, "3 Dec" before: when an item last changed.
function changedAt(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  const today = new Date().toDateString() === t.toDateString();
  return today
    ? t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : t.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

// The last change, in words, for the toast that offers to undo it.
function describe(e) {
  switch (e.kind) {
    case 'add':
      return `Added ${e.count} ${e.item}`;
    case 'remove':
      return `${e.count} fewer ${e.item}`;
    case 'take_off':
      return `Took ${e.item} off`;
    case 'buy':
      return `Bought ${e.item}`;
    case 'unbuy':
      return `${e.item} not bought`;
    case 'note':
      return e.text ? `Noted ${e.item}` : `Cleared the note of ${e.item}`;
    case 'category':
      return `${e.item} in ${e.text}`;
    case 'rename':
      return `Renamed to ${e.text}`;
    case 'aisles':
      return 'Aisle order saved';
    case 'access':
      return 'Links revoked';
    default:
      return 'Changed';
  }
}

let toastTimer = null;

// After every change: what it did, and a button that takes it back.
function showToast(id, body, undone) {
  const toast = document.getElementById('toast');
  const events = body.events || [];
  if (!events.length) {
    toast.hidden = true;
    return;
  }
  const text =
    (undone ? 'Undone: ' : '') +
    describe(events[0]) +
    (events.length > 1 ? ` (+${events.length - 1})` : '');
  const parts = [el('span', {}, text)];
  if (!undone && body.list && body.list.undoable > 0) {
    parts.push(el('button', { id: 'undo', onclick: () => undo(id) }, 'Undo'));
  }
  toast.replaceChildren(...parts);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 8000);
}

async function undo(id) {
  try {
    const body = await api('POST', `/api/lists/${id}/undo`);
    if (!reportSync(body)) showToast(id, body, true);
    render();
  } catch (e) {
    showError(e.message);
  }
}

// A change to list `id` as a click handler: act(action, params) sends it,
// shows what it did, and re-reads.
function actor(id) {
  return (action, params) => async () => {
    try {
      const body = await api('POST', `/api/lists/${id}/${action}`, params);
      if (!reportSync(body)) showToast(id, body, false);
      // A change made from an item's "⋯" is done with it: fold it away (a
      // push from elsewhere keeps it open).
      for (const d of app.querySelectorAll('details.more[open]')) {
        d.open = false;
      }
      render();
    } catch (e) {
      showError(e.message);
    }
  };
}

// One item: a big tap target that marks it bought (or not), a stepper for
// the quantity, and the rest (note, aisle, remove) behind "⋯". Read-only,
// the same without the buttons.
function itemRow(i, act, editable) {
  const who = [i.changed_by, changedAt(i.changed_at)]
    .filter(Boolean)
    .join(', ');
  const row = (...children) =>
    el('li', { 'data-item': i.name, class: i.done ? 'done' : '' }, ...children);
  if (!editable) {
    return row(el('span', { class: 'tap' }, ...itemText(i, who)), itemCount(i));
  }
  return row(tapButton(i, act, who), stepper(i, act), itemMore(i, act));
}

// The check mark, then the name, the note and who changed the item last.
function itemText(i, who) {
  return [
    el('span', { class: 'check', 'aria-hidden': 'true' }, i.done ? '✓' : ''),
    el(
      'span',
      { class: 'text' },
      el('span', { class: 'name' }, i.name),
      i.note ? el('span', { class: 'note' }, i.note) : '',
      who ? el('span', { class: 'who' }, who) : '',
    ),
  ];
}

// As a shopper reads it: "6" to buy, "2 of 6 bought", "6 bought".
function countText(i) {
  if (i.bought === 0) return `${i.wanted}`;
  if (i.bought >= i.wanted) return `${i.wanted} bought`;
  return `${i.bought} of ${i.wanted} bought`;
}

function itemCount(i) {
  return el('span', { class: 'meta' }, countText(i));
}

function tapButton(i, act, who) {
  const attrs = {
    class: 'tap',
    'aria-pressed': i.done ? 'true' : 'false',
    'aria-label': i.done ? `Not bought ${i.name}` : `Bought ${i.name}`,
    onclick: act(i.done ? 'unbuy' : 'buy', { item: i.name }),
  };
  return el(
    'button',
    attrs,
    ...itemText(i, i.done && who ? `bought · ${who}` : who),
  );
}

function stepper(i, act) {
  const fewer = el(
    'button',
    {
      onclick: act('remove', { item: i.name, count: 1 }),
      'aria-label': `One fewer ${i.name}`,
      disabled: i.wanted > 0 ? null : '',
    },
    '−',
  );
  const more = el(
    'button',
    {
      onclick: act('add', { item: i.name, count: 1 }),
      'aria-label': `One more ${i.name}`,
    },
    '+',
  );
  return el('span', { class: 'stepper' }, fewer, itemCount(i), more);
}

// What an item's "⋯" unfolds: its note, its aisle, and taking it off.
function itemMore(i, act) {
  return el(
    'details',
    { class: 'more', 'data-key': `more/${i.name}` },
    el('summary', { 'aria-label': `More for ${i.name}` }, '⋯'),
    noteForm(i, act),
    categoryForm(i, act),
    el(
      'button',
      {
        class: 'danger',
        onclick: act('remove', { item: i.name }),
        'aria-label': `Remove ${i.name}`,
      },
      'Remove from list',
    ),
  );
}

function noteForm(i, act) {
  const note = el('input', {
    name: 'note',
    value: i.note,
    placeholder: 'Note, e.g. the blue one',
    'aria-label': `Note for ${i.name}`,
    maxlength: '1024',
  });
  const save = () => act('note', { item: i.name, note: note.value })();
  const id = `note-${encodeURIComponent(i.name)}`;
  return form(id, save, note, el('button', { type: 'submit' }, 'Save note'));
}

function categoryForm(i, act) {
  const category = el('input', {
    name: 'category',
    value: i.category === 'Other' ? '' : i.category,
    placeholder: 'Aisle, e.g. Dairy',
    'aria-label': `Aisle of ${i.name}`,
  });
  const set = () =>
    act('category', { item: i.name, category: category.value })();
  const id = `category-${encodeURIComponent(i.name)}`;
  const button = el('button', { type: 'submit' }, 'Set aisle');
  return form(id, set, category, button);
}

// Who did what, newest first: the home's history of the list.
function historyItems(events) {
  return events.slice(0, 30).map((e) => {
    const who = [e.by_me ? 'you' : e.by || 'someone', changedAt(e.at)];
    return el(
      'li',
      { class: 'event' },
      el('span', { class: 'who' }, who.filter(Boolean).join(', ')),
      el('span', {}, describe(e)),
    );
  });
}

function historySection(events) {
  const body =
    events === null
      ? el('p', { class: 'meta' }, 'Loading…')
      : events.length
        ? el('ul', { id: 'events' }, ...historyItems(events))
        : el('p', { class: 'meta' }, 'No changes yet.');
  const d = folded('history', 'History', body);
  // Opened without its events (by hand, or kept open by a re-render that
  // began before): read them now. Opened with them: nothing to do.
  d.addEventListener('toggle', () => {
    if (d.open && events === null) render();
  });
  return d;
}

async function renderList(id, generation) {
  // The history is read only while its section is open.
  const withHistory = !!document.getElementById('history')?.open;
  const [{ list }, { events }, again] = await Promise.all([
    api('GET', `/api/lists/${id}`),
    withHistory ? api('GET', `/api/lists/${id}/log`) : { events: null },
    // Offers, not the list: the list shows without them.
    api('GET', `/api/lists/${id}/again`).catch(() => ({ items: [] })),
  ]);
  if (generation !== renderGeneration) return;
  const act = actor(id);
  const editable = mayEdit(list);
  replaceApp(
    el('p', {}, el('a', { href: '#/' }, '← All lists')),
    el('h1', { id: 'title' }, displayTitle(list)),
    listMeta(list),
    editable ? addForm(id) : '',
    editable ? suggestBox() : '',
    editable ? againSection(again.items, act) : '',
    list.items.length
      ? el('div', { id: 'items' }, ...itemSections(list, act, editable))
      : el('p', { class: 'meta' }, 'Nothing on this list yet.'),
    historySection(events),
    sharingSection(id, list),
    editable ? settingsSection(list, act) : '',
  );
  // A push re-rendered the page while someone typed: offer again.
  if (editable) suggestNames(id);
}

// Whether the list's changes reached the cloud, and what this home may do
// with it; never its id (links carry it).
function listMeta(list) {
  const n = list.unsynced;
  const parts = [
    n ? `${n} unsynced change${n === 1 ? '' : 's'}` : 'all changes synced',
    ACCESS_NOTE[list.access],
  ];
  return el(
    'p',
    { class: 'meta', id: 'list-meta' },
    parts.filter(Boolean).join(' · '),
  );
}

function addForm(id) {
  const name = el('input', {
    name: 'item',
    placeholder: 'Add an item',
    'aria-label': 'Item name',
    required: '',
  });
  name.addEventListener('input', () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => suggestNames(id), 120);
  });
  const count = el('input', {
    name: 'count',
    type: 'number',
    min: '1',
    value: '1',
    'aria-label': 'How many',
  });
  const button = el('button', { class: 'primary', type: 'submit' }, 'Add');
  return form('add', () => addItem(id, name, count), name, count, button);
}

async function addItem(id, name, count) {
  const params = { item: name.value, count: count.value };
  const body = await api('POST', `/api/lists/${id}/add`, params);
  const gone = reportSync(body);
  if (!gone) showToast(id, body, false);
  // A change pushed while the add was on its way may have re-rendered the
  // form, carrying the typed name into new fields: clear those too, or the
  // next item would be typed after this one.
  for (const [field, value] of [
    [name, ''],
    [count, '1'],
    [document.querySelector('#add input[name=item]'), ''],
    [document.querySelector('#add input[name=count]'), '1'],
  ]) {
    if (field) field.value = value;
  }
  await render();
  if (!gone) document.querySelector('#add input[name=item]').focus();
}

// A round button to add an item in one tap: its name (or "6 eggs") and,
// smaller, its aisle.
function chip(text, aisle, item, onclick) {
  return el(
    'button',
    { type: 'button', class: 'chip', 'aria-label': `Add ${item}`, onclick },
    el('span', {}, text),
    aisle ? el('span', { class: 'aisle' }, aisle) : '',
  );
}

// Names this home used before that start like what is typed in the add
// form, under it; a tap adds one (with the count typed).
let suggestTimer = null;

function suggestBox() {
  return el('div', { id: 'suggest', class: 'chips' });
}

async function suggestNames(id) {
  const name = document.querySelector('#add input[name=item]');
  const box = document.getElementById('suggest');
  if (!name || !box) return;
  const text = name.value.trim();
  let found = [];
  if (text) {
    const query = new URLSearchParams({ text, list: id });
    try {
      ({ suggestions: found } = await api('GET', `/api/suggest?${query}`));
    } catch {
      return; // typing goes on; the add itself reports what fails
    }
  }
  // Typed on, or re-rendered, meanwhile: a newer call draws.
  if (name.value.trim() !== text || !box.isConnected) return;
  const add = (s) => () => {
    name.value = s.name;
    const count = document.querySelector('#add input[name=count]');
    addItem(id, name, count).catch((e) => showError(e.message));
  };
  box.replaceChildren(
    ...found.map((s) => chip(s.name, s.category, s.name, add(s))),
  );
}

// What was bought on the list and is off it now, to add back in one tap
// with the count bought.
function againSection(items, act) {
  if (!items.length) return '';
  const chips = items.map((s) =>
    chip(
      `${s.count} ${s.name}`,
      s.category,
      s.name,
      act('add', { item: s.name, count: s.count }),
    ),
  );
  return el(
    'section',
    { id: 'again' },
    el('h2', {}, 'Bought last time'),
    el('div', { class: 'chips' }, ...chips),
  );
}

// To buy, grouped by aisle in the list's order (the server's order), then
// the bought ones, folded away.
function itemSections(list, act, editable) {
  const rows = (items) => items.map((i) => itemRow(i, act, editable));
  const { groups, bought } = groupByAisle(list.items);
  const sections = groups.map((g) =>
    el(
      'section',
      { class: 'aisle', 'data-aisle': g.name },
      el('h2', {}, g.name),
      el('ul', {}, ...rows(g.items)),
    ),
  );
  if (bought.length) {
    const clear = editable
      ? el('button', { id: 'clear', onclick: act('clear') }, 'Clear bought')
      : '';
    const title = `Bought (${bought.length})`;
    sections.push(
      folded('bought', title, el('ul', {}, ...rows(bought)), clear),
    );
  }
  return sections;
}

// Items still to buy in runs of one aisle each (in the order given), and
// the bought ones.
function groupByAisle(items) {
  const groups = [];
  const bought = [];
  for (const i of items) {
    if (i.done) {
      bought.push(i);
      continue;
    }
    const last = groups[groups.length - 1];
    if (!last || last.name !== i.category) {
      groups.push({ name: i.category, items: [] });
    }
    groups[groups.length - 1].items.push(i);
  }
  return { groups, bought };
}

function sharingSection(id, list) {
  const gives = LINKS_TO_GIVE[list.access] || [];
  const giveButton = (g) =>
    el(
      'button',
      { onclick: () => share(id, g), 'data-gives': g },
      `${g[0].toUpperCase()}${g.slice(1)} link`,
    );
  const revokeButton = el(
    'button',
    { class: 'danger', id: 'revoke', onclick: () => revoke(id) },
    list.access === 'open' ? 'Close with links' : 'Revoke links',
  );
  return folded(
    'sharing',
    'Sharing',
    el('p', { class: 'meta', id: 'access' }, ACCESS_WORDS[list.access]),
    ...gives.map(giveButton),
    mayOwn(list) ? revokeButton : '',
    sharedBox(),
  );
}

function settingsSection(list, act) {
  return folded(
    'settings',
    'Aisles and title',
    el(
      'p',
      { class: 'meta' },
      'Aisles in the order you walk the store; items show grouped that way.',
    ),
    aislesForm(list, act),
    renameForm(list, act),
  );
}

function aislesForm(list, act) {
  const order = el('input', {
    name: 'aisles',
    value: list.aisles.join(', '),
    placeholder: 'e.g. Produce, Bakery, Dairy',
    'aria-label': 'Aisle order',
  });
  const save = () => {
    const params = new URLSearchParams();
    for (const a of order.value.split(',').map((s) => s.trim())) {
      if (a) params.append('category', a);
    }
    return act('aisles', params)();
  };
  const button = el('button', { type: 'submit' }, 'Save order');
  return form('aisles', save, order, button);
}

function renameForm(list, act) {
  const title = el('input', {
    name: 'title',
    value: list.title,
    'aria-label': 'List title',
  });
  const rename = () => act('rename', { title: title.value })();
  const button = el('button', { type: 'submit' }, 'Rename');
  return form('rename', rename, title, button);
}

function setStatus(online) {
  statusBox.textContent = online ? 'online' : 'offline';
  statusBox.className = `status ${online ? 'online' : 'offline'}`;
}

// Told by the backend: re-read when a list changes, show online/offline.
backend.subscribe(setStatus, (changed) => {
  const r = route();
  if (!r.list || changed === '*' || changed === r.list) render();
});

// A link opened as HOST/#join=<link>: joined at once. The secret is in the
// fragment, so it never reaches a request line or a server's log.
async function joinFromHash() {
  const m = /^#join=(.+)$/.exec(location.hash);
  if (!m) return;
  history.replaceState(null, '', '#/');
  try {
    const link = decodeURIComponent(m[1]);
    reportSync(await api('POST', '/api/join', { link }));
  } catch (e) {
    showError(e.message);
  }
}

window.addEventListener('hashchange', async () => {
  shown = null;
  await joinFromHash();
  render();
});
joinFromHash().finally(render);
