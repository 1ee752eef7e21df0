// The page of `shoplist-cli ui`, end to end: two people (homes A and B,
// each with its own `shoplist-cli ui`) share a list through a local
// cluster, in Debian's Chromium driven by playwright-core. Run by
// ui_e2e_test.sh, which starts everything and passes it in the environment.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

function env(name) {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set (run tests/ui/ui_e2e_test.sh)`);
  return value;
}
const A_URL = env('UI_A_URL');
const B_URL = env('UI_B_URL');
const CLI = env('SHOPLIST_CLI');
const HOME_A = env('HOME_A');
const HOME_B = env('HOME_B');
const PROXY = env('SHOPLIST_PROXY_ADDR');
const CLUSTER_DIR = env('CLUSTER_DIR');
const PROXY_BIN = env('SHOPLIST_PROXY_BIN');
const ARTIFACTS = env('ARTIFACT_DIR');
const PROFILE = env('BROWSER_PROFILE');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// An offline edit, after the proxy is back. The client waits for the proxy
// with gRPC's back-off reset, and every watch re-attaches as soon as any call
// of the home gets through, so this is normally far below the limit; the
// test prints the figures, it does not assert them. 15 s leaves room for a
// loaded CI.
const RECONNECT_LIMIT_MS = 15000;

class Failure extends Error {}
function check(ok, message) {
  if (!ok) throw new Failure(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The CLI on a home, as a person would type it: resolves with
// { code, stdout, stderr }, whatever the exit code.
async function cli(home, ...args) {
  try {
    const { stdout, stderr } = await run(
      CLI,
      [`--home=${home}`, `--proxy=${PROXY}`, ...args],
      { timeout: 20000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    if (typeof e.code !== 'number') throw e;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// What the CLI prints for a refused command, without its "shoplist-cli: ".
async function cliError(home, ...args) {
  const r = await cli(home, ...args);
  check(
    r.code !== 0,
    `shoplist-cli ${args.join(' ')} was expected to fail, but exited 0`,
  );
  return r.stderr
    .trim()
    .split('\n')[0]
    .replace(/^shoplist-cli: /, '');
}

// --- reading the page ---------------------------------------------------

function itemSelector(name) {
  return `li[data-item="${name.replace(/["\\]/g, '\\$&')}"]`;
}

// Polls in the page until fn(arg) is truthy; a Failure with `message` (and
// what `describe` says about the page then) if not within `timeout` ms.
async function waitInPage(page, fn, arg, timeout, message, describe) {
  try {
    await page.waitForFunction(fn, arg, { polling: 10, timeout });
  } catch (e) {
    if (!/Timeout/i.test(String(e))) throw e;
    const state = describe ? ` (${await describe()})` : '';
    throw new Failure(`${message}, after ${timeout} ms${state}`);
  }
}

// An item's count as "bought/wanted", read from what the page says ("6",
// "2 of 6 bought", "6 bought").
async function meta(page, name) {
  const li = page.locator(itemSelector(name));
  if ((await li.count()) === 0) return null;
  const shown = (await li.locator('.meta').textContent()).trim();
  let m = /^(\d+)$/.exec(shown);
  if (m) return `0/${m[1]}`;
  m = /^(\d+) of (\d+) bought$/.exec(shown);
  if (m) return `${m[1]}/${m[2]}`;
  m = /^(\d+) bought$/.exec(shown);
  if (m) return `${m[1]}/${m[1]}`;
  return shown;
}

async function items(page) {
  return page.$$eval(
    'li[data-item]',
    (lis) =>
      lis
        .map(
          (li) => `${li.dataset.item}=${li.querySelector('.meta').textContent}`,
        )
        .join(', ') || 'no items',
  );
}

// What the page says of "bought/wanted": "6", "2 of 6 bought", "6 bought".
function said(want) {
  const [bought, wanted] = want.split('/').map(Number);
  if (bought === 0) return `${wanted}`;
  if (bought >= wanted) return `${wanted} bought`;
  return `${bought} of ${wanted} bought`;
}

// Until the item shows `bought/wanted` as given (null: until it is gone).
async function waitItem(page, who, name, want, timeout) {
  await waitInPage(
    page,
    ([sel, want]) => {
      const li = document.querySelector(sel);
      if (want === null) return !li;
      return li && li.querySelector('.meta').textContent.trim() === want;
    },
    [itemSelector(name), want === null ? null : said(want)],
    timeout,
    want === null
      ? `${who}: ${name} is still shown`
      : `${who}: ${name} does not show ${want}`,
    async () => `${who} shows ${await items(page)}`,
  );
}

async function statusText(page) {
  return (await page.locator('#status').textContent()).trim();
}

async function waitStatus(page, who, want, timeout) {
  await waitInPage(
    page,
    (want) => document.getElementById('status').textContent.trim() === want,
    want,
    timeout,
    `${who}: #status does not say ${want}`,
    async () => `it says '${await statusText(page)}'`,
  );
}

async function errorText(page) {
  const box = page.locator('#error');
  return (await box.isVisible()) ? (await box.textContent()).trim() : '';
}

// Adds an item through the #add form, as a click would.
async function addItem(page, name, count) {
  await page.fill('#add input[name=item]', name);
  await page.fill('#add input[name=count]', String(count));
  await page.click('#add button[type=submit]');
}

// Opens a <details> as a tap on its summary would, unless it is open.
async function unfold(page, selector) {
  if (!(await page.locator(selector).evaluate((d) => d.open))) {
    await page.click(`${selector} > summary`);
  }
}

async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}

// --- the proxy, stopped and started as scripts/cluster-up.sh does -------

const pidsFile = path.join(CLUSTER_DIR, 'pids');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopProxy() {
  const pid = Number(fs.readFileSync(pidsFile, 'utf8').split('\n')[0]);
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  check(
    cmdline.includes('shoplist-proxy'),
    `the first PID in ${pidsFile} (${pid}) is not the proxy: ${cmdline}`,
  );
  process.kill(pid, 'SIGTERM');
  for (let i = 0; alive(pid); ++i) {
    check(
      i < 300,
      `the proxy (pid ${pid}) did not stop within 30 s of SIGTERM`,
    );
    await sleep(100);
  }
  console.log(`stopped the proxy (pid ${pid})`);
}

function startProxy() {
  // The command line of scripts/cluster-up.sh; its PID replaces the old
  // one in the pids file, so cluster-down.sh stops it.
  const log = fs.openSync(path.join(CLUSTER_DIR, 'proxy.log'), 'a');
  const child = spawn(
    PROXY_BIN,
    [
      `--listen=${PROXY}`,
      `--data=${CLUSTER_DIR}/proxy`,
      `--cluster-token-file=${CLUSTER_DIR}/token`,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  child.unref();
  const pids = fs.readFileSync(pidsFile, 'utf8').split('\n');
  pids[0] = String(child.pid);
  fs.writeFileSync(pidsFile, pids.join('\n'));
  console.log(`started the proxy again (pid ${child.pid})`);
}

// --- the scenarios --------------------------------------------------------

const results = [];
const pageErrors = [];

async function scenario(name, fn) {
  console.log(`--- ${name}`);
  note('test', `--- ${name}`);
  const start = Date.now();
  await fn();
  results.push(name);
  console.log(`ok: ${name} (${Date.now() - start} ms)`);
}

// One browser for each person, each with a new, empty profile: both pages
// are in front (a page in a background tab gets no animation frames).
async function launch(who) {
  const profile = path.join(PROFILE, who);
  fs.rmSync(profile, { recursive: true, force: true });
  fs.mkdirSync(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1000, height: 700 },
  });
  context.setDefaultTimeout(10000);
  await context.addInitScript(logEvents);
  return context;
}

// What each page saw and asked, with times: printed when a scenario fails.
const timeline = [];
const began = performance.now();
function note(who, what) {
  timeline.push(
    `${String(Math.round(performance.now() - began)).padStart(6)} ms ${who}: ${what}`,
  );
}

function watch(who, page) {
  page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
  page.on('console', (m) => {
    if (m.text().startsWith('e2e-sse '))
      note(who, `event ${m.text().slice(8)}`);
    // The only resource the page lacks is /favicon.ico.
    else if (m.type() === 'error' && !/404 \(Not Found\)/.test(m.text()))
      console.log(`[${who} console] ${m.text()}`);
  });
  page.on('request', (r) => {
    if (r.url().includes('/api/'))
      note(who, `${r.method()} ${new URL(r.url()).pathname}`);
  });
  page.on('response', async (r) => {
    if (!r.url().includes('/api/')) return;
    let body = '';
    try {
      const json = await r.json();
      body = json.lists
        ? json.lists.map((l) => l.title).join(', ')
        : json.list
          ? json.list.items
              .map((i) => `${i.name}=${i.bought}/${i.wanted}`)
              .join(', ') || 'no items'
          : JSON.stringify(json);
    } catch {
      /* no body */
    }
    note(who, `${r.status()} ${new URL(r.url()).pathname} ${body}`);
  });
}

// Logs every server-sent event the page gets, for the timeline.
function logEvents() {
  const Original = window.EventSource;
  window.EventSource = class extends Original {
    constructor(...args) {
      super(...args);
      for (const type of ['status', 'changed']) {
        this.addEventListener(type, (e) =>
          console.debug(`e2e-sse ${type} ${e.data}`),
        );
      }
      this.addEventListener('error', () => console.debug('e2e-sse error'));
    }
  };
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browsers = [];
  const pages = {};
  try {
    for (const [who, url] of [
      ['A', A_URL],
      ['B', B_URL],
    ]) {
      const context = await launch(who);
      browsers.push(context);
      const page = context.pages()[0] || (await context.newPage());
      watch(who, page);
      await page.goto(url);
      pages[who] = page;
    }
    await run_scenarios(pages, browsers[0]);
  } catch (e) {
    const file = path.join(ARTIFACTS, 'timeline.txt');
    fs.writeFileSync(file, `${timeline.join('\n')}\n`);
    console.log(`the pages' requests and events, last first (all in ${file}):`);
    console.log(timeline.slice(-40).reverse().join('\n'));
    for (const [who, page] of Object.entries(pages)) {
      await page
        .screenshot({
          path: path.join(ARTIFACTS, `failure-${who}.png`),
          fullPage: true,
        })
        .then(() =>
          console.log(
            `screenshot of ${who} at the failure: ${ARTIFACTS}/failure-${who}.png`,
          ),
        )
        .catch(() => {});
    }
    throw e;
  } finally {
    for (const context of browsers) await context.close();
  }
}

async function run_scenarios(pages, contextA) {
  const a = pages.A;
  const b = pages.B;
  let id;

  await scenario(
    '1. A creates a list, B joins it by the link shown on A',
    async () => {
      await waitStatus(a, 'A', 'online', 5000);
      await waitStatus(b, 'B', 'online', 5000);
      await a.fill('#create input[name=title]', 'Groceries');
      await a.click('#create button[type=submit]');
      const entry = a.locator('li[data-list]', { hasText: 'Groceries' });
      await entry.waitFor({ timeout: 5000 });
      const fromLink = (
        await entry.locator('a.name').getAttribute('href')
      ).replace('#/list/', '');
      // What a person copies: the edit link that Share shows.
      await a.click('button[aria-label="Share Groceries"]');
      await a.locator('#shared .link').waitFor({ timeout: 5000 });
      const shared = (await a.locator('#shared .link').textContent()).trim();
      const m = shared.match(/^(([a-z2-7]{26})_e_[a-z2-7]{26})\b/);
      check(m, `A: Share shows '${shared}', not an edit link`);
      id = m[2];
      check(
        id === fromLink,
        `A: Share shows ${id} but the list links to ${fromLink}`,
      );
      console.log(`list ID ${id}`);

      await b.fill('#join input[name=link]', `  ${m[1]} `); // pasted with stray blanks
      await b.click('#join button[type=submit]');
      await b
        .locator(`li[data-list="${id}"]`)
        .waitFor({ timeout: 5000 })
        .catch(async () => {
          throw new Failure(
            `B: the joined list ${id} is not shown (error: '${await errorText(b)}')`,
          );
        });
      const title = (
        await b.locator(`li[data-list="${id}"] a.name`).textContent()
      ).trim();
      check(
        title === 'Groceries',
        `B: the joined list is called '${title}', not 'Groceries'`,
      );
      check(
        (await a.locator(`li[data-list="${id}"]`).count()) === 1,
        `A: the list ${id} is not shown`,
      );
      // A second list, on A only.
      await a.fill('#create input[name=title]', 'Hardware store');
      await a.click('#create button[type=submit]');
      await a
        .locator('li[data-list]', { hasText: 'Hardware store' })
        .waitFor({ timeout: 5000 });
      check(
        (await b.locator('li[data-list]').count()) === 1,
        'B: shows lists it did not join',
      );
    },
  );

  await scenario(
    '2. edits reach the other page within 1 s, without reloading it',
    async () => {
      note('test', 'A and B open the list page');
      await a.goto(`${A_URL}#/list/${id}`);
      await b.goto(`${B_URL}#/list/${id}`);
      for (const [who, page] of [
        ['A', a],
        ['B', b],
      ]) {
        await waitInPage(
          page,
          () =>
            /Groceries/.test(
              document.getElementById('title')?.textContent || '',
            ),
          null,
          5000,
          `${who}: the list page has no title 'Groceries'`,
        );
      }
      // B must not poll: no requests while nothing changes.
      await b.evaluate(() => {
        window.e2eMarker = 'not reloaded';
      });
      const bRequests = [];
      const onRequest = (r) => bRequests.push(r.url());
      b.on('request', onRequest);
      await sleep(1500);
      check(
        bRequests.length === 0,
        `B polls while nothing changes: ${bRequests.join(', ')}`,
      );

      await a.fill('#add input[name=item]', 'milk');
      await a.fill('#add input[name=count]', '3');
      const seenOnB = waitItem(b, 'B', 'milk', '0/3', 5000);
      const start = performance.now();
      note('test', 'A adds milk x3');
      await a.click('#add button[type=submit]');
      await seenOnB;
      const addLatency = Math.round(performance.now() - start);
      b.off('request', onRequest);
      console.log(`propagation A -> B (add milk x3): ${addLatency} ms`);
      check(
        (await b.evaluate(() => window.e2eMarker)) === 'not reloaded',
        'B was reloaded',
      );
      check(
        !bRequests.some((u) => /\/api\/lists\/[a-z2-7]+\/add/.test(u)),
        'B sent an add itself',
      );
      await waitItem(a, 'A', 'milk', '0/3', 2000);

      const seenOnA = waitItem(a, 'A', 'milk', '3/3', 5000);
      const buyStart = performance.now();
      note('test', 'B buys milk');
      await b.click('button[aria-label="Bought milk"]');
      await seenOnA;
      const buyLatency = Math.round(performance.now() - buyStart);
      console.log(`propagation B -> A (buy milk): ${buyLatency} ms`);
      check(
        (await a.locator(`${itemSelector('milk')}.done`).count()) === 1,
        'A: milk is bought but not shown as done',
      );

      // The CLI on A's home while its page is served: the server opens the
      // home per request, so both work.
      const shown = await cli(HOME_A, '--json', 'show', id);
      check(
        shown.code === 0,
        `shoplist-cli show on A's home failed while the page runs: ${shown.stderr}`,
      );
      const { list } = JSON.parse(shown.stdout);
      const milk = list.items.find((i) => i.name === 'milk');
      check(
        milk && milk.wanted === 3 && milk.bought === 3,
        `shoplist-cli show on A's home: milk is ${JSON.stringify(milk)}, not 3 wanted, 3 bought`,
      );
      const plain = await cli(HOME_A, 'show', id);
      check(
        plain.code === 0 && /milk\s+3 of 3/.test(plain.stdout),
        `shoplist-cli show on A's home printed: ${plain.stdout}${plain.stderr}`,
      );
    },
  );

  await scenario("3. bad input shows the CLI's message in #error", async () => {
    const long = 'x'.repeat(300);
    const expectLong = await cliError(HOME_A, 'add', id, long);
    check(
      expectLong === 'item name is 300 bytes; the limit is 256',
      `the CLI says '${expectLong}' for a 300-byte name`,
    );
    check(
      (await errorText(a)) === '',
      `A: #error already shows '${await errorText(a)}'`,
    );
    await addItem(a, long, 1);
    await waitInPage(
      a,
      (want) => {
        const box = document.getElementById('error');
        return !box.hidden && box.textContent.trim() === want;
      },
      expectLong,
      5000,
      `A: #error does not show '${expectLong}'`,
      async () => `#error: '${await errorText(a)}'`,
    );
    check(
      (await a.getAttribute('#error', 'role')) === 'alert',
      '#error is not role=alert',
    );
    check(
      (await a.locator(itemSelector(long)).count()) === 0,
      'A: the 300-byte item is shown',
    );

    // An empty name: the form's `required` stops it in the browser, so no
    // request is made; the server would answer as the CLI does.
    const expectEmpty = await cliError(HOME_A, 'add', id, '');
    check(
      expectEmpty === 'item name is empty',
      `the CLI says '${expectEmpty}' for an empty name`,
    );
    const adds = [];
    const onRequest = (r) => {
      if (r.method() === 'POST') adds.push(r.url());
    };
    a.on('request', onRequest);
    await a.fill('#add input[name=item]', '');
    await a.click('#add button[type=submit]');
    // Not a pause: a refresh of the page's list is a later request, so once
    // it went out an add of the empty name would have gone before it.
    await Promise.all([
      a.waitForRequest(
        (r) => r.method() === 'GET' && /\/api\/lists/.test(r.url()),
        { timeout: 5000 },
      ),
      a.evaluate(() => fetch('/api/lists')),
    ]);
    a.off('request', onRequest);
    check(adds.length === 0, `A: an empty name was sent: ${adds.join(', ')}`);
    check(
      await a.$eval('#add input[name=item]', (i) => i.validity.valueMissing),
      'A: the empty name field is not reported as missing',
    );
    const answer = await a.evaluate(async (id) => {
      const res = await fetch(`/api/lists/${id}/add`, {
        method: 'POST',
        body: new URLSearchParams({ item: '', count: '1' }),
      });
      return { status: res.status, body: await res.json() };
    }, id);
    check(
      answer.status >= 400 && answer.body.error === expectEmpty,
      `the server answers an empty name with ${answer.status} ${JSON.stringify(answer.body)}, not '${expectEmpty}'`,
    );
    check(
      (await meta(a, 'milk')) === '3/3',
      'A: the list changed after refused input',
    );

    // A name of blanks only: `required` lets it through, the server trims it
    // to nothing and refuses it as the CLI does.
    const expectBlank = await cliError(HOME_A, 'add', id, '   ');
    check(
      expectBlank === 'item name is only blanks',
      `the CLI says '${expectBlank}' for a name of blanks`,
    );
    const before = await items(a);
    const blankAdds = [];
    const onBlankRequest = (r) => {
      if (r.method() === 'POST') blankAdds.push(r.url());
    };
    a.on('request', onBlankRequest);
    await addItem(a, '   ', 1);
    await waitInPage(
      a,
      (want) => {
        const box = document.getElementById('error');
        return !box.hidden && box.textContent.trim() === want;
      },
      expectBlank,
      5000,
      `A: #error does not show '${expectBlank}'`,
      async () => `#error: '${await errorText(a)}'`,
    );
    a.off('request', onBlankRequest);
    check(
      blankAdds.length === 1 && /\/add$/.test(blankAdds[0]),
      `A: a name of blanks was not sent as one add: ${blankAdds.join(', ') || 'no request'}`,
    );
    check(
      (await items(a)) === before,
      `A: shows ${await items(a)} after a name of blanks, not ${before}`,
    );

    // The next change that works clears the message.
    await addItem(a, 'butter', 2);
    await waitItem(a, 'A', 'butter', '0/2', 5000);
    check(
      (await errorText(a)) === '',
      `A: #error still shows '${await errorText(a)}' after a change that worked`,
    );
    await waitItem(b, 'B', 'butter', '0/2', 5000);
  });

  await scenario(
    '4. offline: an edit stays on A, and reaches B once the proxy is back',
    async () => {
      await stopProxy();
      await waitStatus(a, 'A', 'offline', 5000);
      await waitStatus(b, 'B', 'offline', 5000);
      await addItem(a, 'bread', 1);
      await waitItem(a, 'A', 'bread', '0/1', 10000);
      check(
        (await errorText(a)) === '',
        `A: an offline edit shows the error '${await errorText(a)}'`,
      );
      check(
        (await statusText(a)) === 'offline',
        `A: #status says '${await statusText(a)}' while the proxy is down`,
      );
      const idLine = await a.locator('#list-meta').textContent();
      check(
        /unsynced/.test(idLine),
        `A: the offline edit is not shown as unsynced ('${idLine}')`,
      );
      await sleep(1000);
      check(
        (await meta(a, 'bread')) === '0/1',
        'A: the offline edit went away',
      );
      check(
        (await meta(b, 'bread')) === null,
        'B: shows bread while the proxy is down',
      );

      startProxy();
      const start = performance.now();
      const after = (what) => () =>
        console.log(
          `${what} ${Math.round(performance.now() - start)} ms after the proxy started`,
        );
      // A has synced the offline edit when its page no longer counts it
      // unsynced; B has it when it shows bread.
      let aSynced;
      let bShows;
      await Promise.all([
        waitStatus(a, 'A', 'online', RECONNECT_LIMIT_MS).then(
          after('A says online'),
        ),
        waitStatus(b, 'B', 'online', RECONNECT_LIMIT_MS).then(
          after('B says online'),
        ),
        waitInPage(
          a,
          () =>
            !/unsynced/.test(
              document.getElementById('list-meta')?.textContent ?? 'unsynced',
            ),
          null,
          RECONNECT_LIMIT_MS,
          'A: still shows unsynced changes once online',
        )
          .then(() => {
            aSynced = performance.now();
          })
          .then(after('A synced the offline edit')),
        waitItem(b, 'B', 'bread', '0/1', RECONNECT_LIMIT_MS)
          .then(() => {
            bShows = performance.now();
          })
          .then(after('the offline edit reached B')),
      ]);
      console.log(
        `reconnect figure (page): the offline edit reached B ${Math.round(bShows - aSynced)} ms after A synced it; ` +
          `${Math.round(bShows - start)} ms after the proxy started`,
      );
    },
  );

  await scenario(
    '5. keyboard: the add form with Tab and Enter only',
    async () => {
      // A freshly opened page: Tab starts from the top.
      await a.reload();
      await waitItem(a, 'A', 'bread', '0/1', 5000);
      const focused = () =>
        a.evaluate(() => {
          const e = document.activeElement;
          return e && e !== document.body
            ? `${e.closest('form')?.id || ''} ${e.tagName.toLowerCase()}[name=${e.name || ''}]`
            : 'body';
        });
      let tabs = 0;
      while ((await focused()) !== 'add input[name=item]') {
        check(
          ++tabs <= 20,
          `Tab never reaches the item field (focus: ${await focused()})`,
        );
        await a.keyboard.press('Tab');
      }
      console.log(`the item field is ${tabs} Tab(s) from the top`);
      await a.keyboard.type('eggs');
      await a.keyboard.press('Tab');
      check(
        (await focused()) === 'add input[name=count]',
        `Tab from the item field goes to ${await focused()}`,
      );
      await a.keyboard.type('12'); // Tab selected the 1 that was there
      check(
        (await a.inputValue('#add input[name=count]')) === '12',
        `the count field holds '${await a.inputValue('#add input[name=count]')}' after typing 12`,
      );
      await a.keyboard.press('Enter');
      await waitItem(a, 'A', 'eggs', '0/12', 5000);
      await waitItem(b, 'B', 'eggs', '0/12', 5000);
      // The field is ready for the next item.
      await waitInPage(
        a,
        () => document.activeElement?.matches('#add input[name=item]'),
        null,
        2000,
        'A: after Enter the focus is not back in the item field',
        async () => `focus: ${await focused()}`,
      );
      await sleep(500); // and stays there when the page is re-read
      check(
        (await focused()) === 'add input[name=item]',
        `A: the focus moved to ${await focused()} after the add`,
      );
      await a.keyboard.type('apples');
      await a.keyboard.press('Enter');
      await waitItem(a, 'A', 'apples', '0/1', 5000);
      await waitItem(b, 'B', 'apples', '0/1', 5000);
    },
  );

  await scenario(
    '6. a phone-sized viewport (390x844) needs no horizontal scrolling',
    async () => {
      const phone = await contextA.newPage(); // A's browser, another tab
      watch('phone', phone);
      pages.phone = phone;
      await phone.setViewportSize({ width: 390, height: 844 });
      // A long name with no place to break must wrap, not widen the page.
      const long = 'Extra-virgin-olive-oil-from-the-farmers-market-on-Saturday';
      await addItem(a, long, 1);
      await waitItem(a, 'A', long, '0/1', 5000);
      for (const url of [`${A_URL}#/list/${id}`, A_URL]) {
        await phone.goto(url);
        await phone.waitForSelector(
          url.includes('#/list/')
            ? itemSelector(long)
            : `li[data-list="${id}"]`,
        );
        const { scrollWidth, innerWidth } = await phone.evaluate(() => ({
          scrollWidth: document.scrollingElement.scrollWidth,
          innerWidth: window.innerWidth,
        }));
        check(
          scrollWidth <= innerWidth,
          `${url} on a phone: scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`,
        );
        console.log(
          `phone ${url}: scrollWidth ${scrollWidth} <= innerWidth ${innerWidth}`,
        );
      }
      await phone.goto(`${A_URL}#/list/${id}`);
      await waitItem(phone, 'phone', long, '0/1', 5000);
      await screenshot(phone, 'phone-list');
      await phone.click(`summary[aria-label="More for ${long}"]`);
      await phone.click(`button[aria-label="Remove ${long}"]`);
      await waitItem(phone, 'phone', long, null, 5000);
      await waitItem(b, 'B', long, null, 5000);
      await phone.close();
      delete pages.phone;
      await a.bringToFront();
    },
  );

  await scenario(
    '7. in the store: aisles, one tap to buy, undo, offline taps, clear',
    async () => {
      const phone = await contextA.newPage();
      watch('phone', phone);
      pages.phone = phone;
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${A_URL}#/list/${id}`);
      await waitItem(phone, 'phone', 'eggs', '0/12', 5000);
      const aisleOrder = (page) =>
        page.$$eval('#items section.aisle', (s) =>
          s.map((x) => x.dataset.aisle).join(','),
        );

      // Aisles: each item's aisle behind "⋯", the order in the settings.
      for (const [item, aisle] of [
        ['eggs', 'Dairy'],
        ['bread', 'Bakery'],
      ]) {
        await phone.click(`summary[aria-label="More for ${item}"]`);
        await phone.fill(`input[aria-label="Aisle of ${item}"]`, aisle);
        await phone.click(`form[id="category-${item}"] button[type=submit]`);
        await waitInPage(
          phone,
          ([item, aisle]) =>
            document.querySelector(
              `section[data-aisle="${aisle}"] li[data-item="${item}"]`,
            ),
          [item, aisle],
          5000,
          `phone: ${item} is not under ${aisle}`,
        );
      }
      await unfold(phone, '#settings');
      await phone.fill('#aisles input[name=aisles]', 'Dairy, Bakery');
      await phone.click('#aisles button[type=submit]');
      await waitInPage(
        b,
        () =>
          [...document.querySelectorAll('#items section.aisle')]
            .map((x) => x.dataset.aisle)
            .join(',') === 'Dairy,Bakery,Other',
        null,
        5000,
        'B: the aisles are not in the order A set',
        async () => `B shows ${await aisleOrder(b)}`,
      );
      await waitInPage(
        phone,
        () =>
          [...document.querySelectorAll('#items section.aisle')]
            .map((x) => x.dataset.aisle)
            .join(',') === 'Dairy,Bakery,Other',
        null,
        5000,
        'phone: the aisles are not in the order it set',
        async () => `it shows ${await aisleOrder(phone)}`,
      );
      const cliAisles = JSON.parse(
        (await cli(HOME_B, '--json', 'aisles', id)).stdout,
      );
      check(
        cliAisles.aisles.join(',') === 'Dairy,Bakery',
        `shoplist-cli aisles on B's home: ${JSON.stringify(cliAisles)}`,
      );

      // One tap buys, and the item moves to the folded "Bought" section; the
      // toast takes it back.
      await phone.click('button[aria-label="Bought apples"]');
      await waitItem(phone, 'phone', 'apples', '1/1', 5000);
      check(
        (await phone.locator('#bought li[data-item="apples"]').count()) === 1,
        'phone: bought apples are not in the Bought section',
      );
      check(
        !(await phone.locator('#bought').evaluate((d) => d.open)),
        'phone: the Bought section is not folded',
      );
      await waitItem(b, 'B', 'apples', '1/1', 5000);
      const toast = (await phone.locator('#toast').textContent()).trim();
      check(/^Bought apples/.test(toast), `phone: the toast says '${toast}'`);
      await phone.click('#toast #undo');
      await waitItem(phone, 'phone', 'apples', '0/1', 5000);
      await waitItem(b, 'B', 'apples', '0/1', 5000);
      // Another tap on a bought item unbuys it.
      await phone.click('button[aria-label="Bought bread"]');
      await waitItem(phone, 'phone', 'bread', '1/1', 5000);
      await unfold(phone, '#bought');
      await phone.click('button[aria-label="Not bought bread"]');
      await waitItem(phone, 'phone', 'bread', '0/1', 5000);
      await waitItem(b, 'B', 'bread', '0/1', 5000);
      // The stepper.
      await phone.click('button[aria-label="One more eggs"]');
      await waitItem(b, 'B', 'eggs', '0/13', 5000);
      // A note shows under the name on the other page, with who changed it.
      await phone.click('summary[aria-label="More for eggs"]');
      await phone.fill(
        'input[aria-label="Note for eggs"]',
        'free range, size M',
      );
      await phone.click('form[id="note-eggs"] button[type=submit]');
      await waitInPage(
        b,
        () =>
          document.querySelector('li[data-item="eggs"] .note')?.textContent ===
          'free range, size M',
        null,
        5000,
        'B: the note of eggs does not show',
      );
      const who = await b.locator('li[data-item="eggs"] .who').textContent();
      check(
        /alice/.test(who),
        `B: eggs say '${who}', not who changed them (alice)`,
      );
      await waitInPage(
        phone,
        () => document.querySelector('li[data-item="eggs"] .note'),
        null,
        5000,
        'phone: the note of eggs does not show',
      );
      await screenshot(phone, 'phone-store');
      // B's page says who did it, in its history.
      await unfold(b, '#history');
      await waitInPage(
        b,
        () =>
          [...document.querySelectorAll('#events li')].some(
            (li) =>
              /alice/.test(li.textContent) && /Noted eggs/.test(li.textContent),
          ),
        null,
        5000,
        'B: the history does not say alice noted eggs',
        async () =>
          `B's history: ${await b
            .locator('#events')
            .textContent()
            .catch(() => 'none')}`,
      );

      // Offline: a tap is kept on A, and reaches B once the proxy is back.
      await stopProxy();
      await waitStatus(phone, 'phone', 'offline', 5000);
      await phone.click('button[aria-label="Bought butter"]');
      await waitItem(phone, 'phone', 'butter', '2/2', 5000);
      await sleep(500);
      check(
        (await meta(b, 'butter')) === '0/2',
        'B: shows butter bought while the proxy is down',
      );
      startProxy();
      await waitItem(b, 'B', 'butter', '2/2', RECONNECT_LIMIT_MS);

      // Clear bought: milk and butter go, in one change that one undo takes back.
      await unfold(phone, '#bought');
      await phone.locator('#clear').click();
      await waitItem(b, 'B', 'milk', null, 5000);
      await waitItem(b, 'B', 'butter', null, 5000);
      await phone.click('#toast #undo');
      await waitItem(b, 'B', 'milk', '3/3', 5000);
      await waitItem(b, 'B', 'butter', '2/2', 5000);
      await phone.close();
      delete pages.phone;
      await a.bringToFront();
    },
  );

  await scenario('screenshots', async () => {
    check(
      pageErrors.length === 0,
      `errors in the pages: ${pageErrors.join('; ')}`,
    );
    await a.goto(A_URL);
    // The name others see is set on the page too.
    await a.waitForSelector('#name input[name=person]');
    check(
      (await a.inputValue('#name input[name=person]')) === 'alice',
      'A: the page does not show the name alice',
    );
    await a.fill('#name input[name=person]', 'Alice A.');
    await Promise.all([
      a.waitForResponse(
        (r) => r.url().endsWith('/api/name') && r.request().method() === 'POST',
      ),
      a.click('#name button[type=submit]'),
    ]);
    const named = JSON.parse(
      (await cli(HOME_A, '--json', 'config', 'name')).stdout,
    );
    check(
      named.name === 'Alice A.',
      `shoplist-cli config name on A's home: ${JSON.stringify(named)}`,
    );
    await a.locator(`li[data-list="${id}"]`).waitFor();
    await screenshot(a, 'a-lists');
    await a.goto(`${A_URL}#/list/${id}`);
    await waitItem(a, 'A', 'apples', '0/1', 5000);
    await screenshot(a, 'a-list');
    await waitItem(b, 'B', 'apples', '0/1', 5000);
    await screenshot(b, 'b-list');
  });

  await scenario(
    "8. links: A revokes B's edit link, then gives a read-only one",
    async () => {
      a.on('dialog', (d) => d.accept());
      await a.goto(`${A_URL}#/list/${id}`);
      await unfold(a, '#sharing');
      check(
        (await a.locator('#access').textContent()).includes('own'),
        'A: the page does not say A owns the list',
      );
      await a.click('#revoke');
      await a.locator('#shared div').first().waitFor({ timeout: 5000 });
      // B's next change is refused by the cloud; the page then hides changes.
      await b.goto(`${B_URL}#/list/${id}`);
      await addItem(b, 'contraband', 1);
      await waitInPage(
        b,
        () => !document.querySelector('#add'),
        null,
        5000,
        'B: the add form is still shown after the revocation',
        async () => `error: '${await errorText(b)}'`,
      );
      check(
        (await b.locator('p.meta').first().textContent()).includes('revoked'),
        'B: the page does not say the link was revoked',
      );
      // A read-only link: B reads, and sees no way to change anything.
      await a.click('#sharing button[data-gives=read]');
      await waitInPage(
        a,
        () =>
          /^\s*[a-z2-7]{26}_r_/.test(
            document.querySelector('#shared .link')?.textContent,
          ),
        null,
        5000,
        'A: no read-only link is shown',
        async () => '',
      );
      const read = (await a.locator('#shared .link').textContent()).trim();
      await b.goto(B_URL);
      await b.fill('#join input[name=link]', read);
      await b.click('#join button[type=submit]');
      await b.goto(`${B_URL}#/list/${id}`);
      await waitInPage(
        b,
        () =>
          document.querySelector('p.meta')?.textContent.includes('read-only'),
        null,
        5000,
        'B: the page does not say read-only',
        async () => `error: '${await errorText(b)}'`,
      );
      check(
        (await b.locator('#add').count()) === 0,
        'B: a read-only page shows the add form',
      );
      check(
        (await b.locator('button.tap').count()) === 0,
        'B: a read-only page shows buy buttons',
      );
      check(
        (await b.locator('#revoke').count()) === 0,
        'B: a read-only page offers to revoke',
      );
      // ...and follows A's changes.
      await addItem(a, 'olives', 1);
      await waitItem(b, 'B', 'olives', '0/1', 5000);
    },
  );
}

const scenarios = 9;
main().then(
  () => {
    console.log(`ui_e2e: ${results.length} passed, 0 failed`);
  },
  (e) => {
    console.error(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
    console.log(
      `ui_e2e: ${results.length} passed, 1 failed, ${scenarios - results.length - 1} skipped`,
    );
    process.exitCode = 1;
  },
);
