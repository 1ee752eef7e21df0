// The phone app end to end: the proxy's web front door serving the app
// built on the wasm core, in Debian's Chromium emulating a phone (390×844,
// touch), a real cluster, and a CLI home sharing the list. Run by
// phone_e2e_test.sh, which starts everything and passes it in the
// environment. Prints the figures it measures; asserts behaviour only.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run phone_e2e_test.sh)`);
  return value;
}
const APP = env('APP_URL');
const CLI = env('SHOPLIST_CLI');
const HOME = env('CLI_HOME');
const PROXY = env('SHOPLIST_PROXY_ADDR');
const ARTIFACTS = env('ARTIFACT_DIR');
const PROXY_PID = Number(env('PROXY_PID'));
const RESTART_PROXY = env('RESTART_PROXY');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SYNC_LIMIT_MS = 15000; // a loaded CI; the figures are printed

class Failure extends Error {}
function check(ok, message) {
  if (!ok) throw new Failure(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function cli(...args) {
  const { stdout } = await run(
    CLI,
    [`--home=${HOME}`, `--proxy=${PROXY}`, ...args],
    { timeout: 20000 },
  );
  return stdout;
}

// What the CLI home shows of the list after pulling from the cloud.
async function cliSees() {
  await run(CLI, [`--home=${HOME}`, `--proxy=${PROXY}`, 'sync', 'phone'], {
    timeout: 20000,
  }).catch(() => {});
  return cli('show', 'phone');
}

// Polls `probe` until it is true; the time it took.
async function until(probe, limit, message) {
  const start = Date.now();
  while (!(await probe())) {
    check(Date.now() - start < limit, message);
    await sleep(100);
  }
  return Date.now() - start;
}

async function phone(browser) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    hasTouch: true,
    isMobile: true,
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  return { context, page };
}

const text = (page) => page.locator('main').innerText();

// What the first load moved over the network: every response's bytes as
// sent (compressed), headers included.
function transferred(page) {
  return page.evaluate(() =>
    [
      ...performance.getEntriesByType('navigation'),
      ...performance.getEntriesByType('resource'),
    ].reduce((sum, e) => sum + e.transferSize, 0),
  );
}

async function createAndAdd(page) {
  const start = Date.now();
  await page.goto(APP);
  await page.waitForSelector('#create');
  console.log(
    `phone: first load to the lists ${Date.now() - start} ms, ` +
      `${await transferred(page)} bytes transferred`,
  );
  await page.fill('#create input[name=title]', 'Phone groceries');
  await page.click('#create button[type=submit]');
  await page.click('a:has-text("Phone groceries")');
  await page.fill('#add input[name=item]', 'eggs');
  await page.fill('#add input[name=count]', '6');
  await page.click('#add button[type=submit]');
  await page.waitForSelector('text=eggs');
}

// The share dialog: the link as an address that opens the app, a copy
// button, the system share sheet where the browser has one, and a QR code
// that a scanner (Debian's zbarimg) reads back as the same address.
async function shareDialog(context, page) {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.click('#sharing > summary');
  await page.click('#sharing button[data-gives=edit]');
  await page.waitForSelector('#shared .qr svg path');
  const url = (await page.textContent('#shared .link')).trim();
  check(url.startsWith(`${APP}#join=`), `the dialog shows ${url}`);
  await page.click('#shared button.copy');
  await page.waitForSelector('#shared button.copy:has-text("Copied")');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(copied === url, `copied '${copied}', not the link`);
  const sheet = await page.evaluate(() => !!navigator.share);
  check(
    (await page.locator('#shared button:has-text("Share…")').count()) ===
      (sheet ? 1 : 0),
    'the share sheet button does not follow navigator.share',
  );
  // The undo toast of the last change may cover the code: a person waits
  // for it to go; the test hides it.
  await page.evaluate(() => {
    document.getElementById('toast').hidden = true;
  });
  const image = path.join(ARTIFACTS, 'phone-qr.png');
  await page.locator('#shared .qr').screenshot({ path: image });
  const { stdout } = await run('zbarimg', ['-q', '--raw', image]);
  check(stdout.trim() === url, `the QR code reads '${stdout.trim()}'`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone-share.png') });
  return decodeURIComponent(url.slice(`${APP}#join=`.length));
}

async function shareLink(page, gives) {
  await page.goto(APP);
  await page.waitForSelector('#create');
  return page.evaluate(async (as) => {
    const lists = await window.shoplistBackend.request('GET', '/api/lists');
    const id = lists.lists[0].id;
    const path = `/api/lists/${id}/share`;
    return (await window.shoplistBackend.request('POST', path, { gives: as }))
      .link;
  }, gives);
}

// The list's items as the page has them: name → {done, note}.
function shownItems(page) {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('li[data-item]')].map((li) => [
        li.dataset.item,
        {
          done: li.classList.contains('done'),
          note: li.querySelector('.note')?.textContent ?? '',
        },
      ]),
    ),
  );
}

// The items of the CLI home's copy of the list, after it pulled.
async function cliItems() {
  await cliSees();
  const { list } = JSON.parse(await cli('--json', 'show', 'phone'));
  return Object.fromEntries(list.items.map((i) => [i.name, i]));
}

async function noteOn(page, item, note) {
  await page.click(`summary[aria-label="More for ${item}"]`);
  await page.fill(`input[aria-label="Note for ${item}"]`, note);
  await page.click(`form:has(input[aria-label="Note for ${item}"]) button`);
  await page.waitForSelector(`li[data-item="${item}"] .note`);
}

// Offline: add, buy, note and undo; the page closed and opened again, still
// offline (the service worker and IndexedDB): all there. Back online, the
// CLI home has every change.
async function offlineAndBack(context, page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  await page.goto(APP);
  await page.click('a:has-text("Phone groceries")');
  await addItem(page, 'bread');
  await page.click('button[aria-label="Bought eggs"]');
  await page.waitForSelector('li[data-item="eggs"].done', {
    state: 'attached',
  });
  await noteOn(page, 'bread', 'sliced');
  await addItem(page, 'tea');
  await page.click('#undo');
  await page.waitForSelector('li[data-item="tea"]', { state: 'detached' });
  await page.close();
  const again = await context.newPage();
  const start = Date.now();
  await again.goto(APP);
  await again.waitForSelector('#lists');
  console.log(
    `phone: reopened offline (the service worker) to the lists ${Date.now() - start} ms`,
  );
  await again.click('a:has-text("Phone groceries")');
  await again.waitForSelector('li[data-item="bread"]');
  const shown = await shownItems(again);
  check(
    shown.bread?.note === 'sliced' && shown.eggs?.done && !shown.tea,
    `offline reopen: ${JSON.stringify(shown)}`,
  );
  await again.screenshot({ path: path.join(ARTIFACTS, 'phone-offline.png') });
  await context.setOffline(false);
  const took = await until(
    async () => {
      const items = await cliItems();
      return items.bread?.note === 'sliced' && items.eggs?.done && !items.tea;
    },
    SYNC_LIMIT_MS,
    'the CLI home never saw every change made offline',
  );
  console.log(
    `phone: an offline change reached a CLI home ${took} ms after the network returned`,
  );
  return again;
}

async function cliToPhone(page) {
  await cli('add', 'phone', 'milk', '2');
  const took = await until(
    async () => /milk/.test(await text(page)),
    SYNC_LIMIT_MS,
    "the phone never showed the CLI home's change",
  );
  console.log(
    `phone: a CLI home's change showed on the phone after ${took} ms`,
  );
}

async function addItem(page, item) {
  await page.fill('#add input[name=item]', item);
  await page.click('#add button[type=submit]');
  await page.waitForSelector(`li[data-item="${item}"]`);
}

// What was bought comes back in one tap once cleared, with its count and
// its aisle (given by the CLI home: the phone knows it from the history it
// merged); typing offers names used before (tea was added, then undone).
async function buyAgainAndSuggest(page) {
  await cli('category', 'phone', 'eggs', 'Dairy');
  await until(
    () =>
      page.evaluate(async () => {
        const lists = await window.shoplistBackend.request('GET', '/api/lists');
        return lists.lists[0].items.some((i) => i.category === 'Dairy');
      }),
    SYNC_LIMIT_MS,
    "the phone never got the CLI home's aisle for eggs",
  );
  await page.click('#bought > summary');
  await page.click('#clear');
  const eggs = '#again button[aria-label="Add eggs"]';
  await page.waitForSelector(eggs);
  const offered = await page.textContent(eggs);
  check(/6 eggs/.test(offered) && /Dairy/.test(offered), `offered: ${offered}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone-again.png') });
  await page.click(eggs);
  await page.waitForSelector('li[data-item="eggs"]:not(.done)');
  check(
    (await page.textContent('li[data-item="eggs"] .stepper .meta')) === '6',
    'eggs came back without their count',
  );
  await page.fill('#add input[name=item]', 'TE');
  const tea = '#suggest button[aria-label="Add tea"]';
  await page.waitForSelector(tea);
  await page.click(tea);
  await page.waitForSelector('li[data-item="tea"]');
  check(
    (await page.inputValue('#add input[name=item]')) === '',
    'the add field kept the suggestion',
  );
}

// A tap on an item until its change is committed to IndexedDB (the
// backend's 'shoplist:stored' mark), 20 taps.
async function tapToStored(page) {
  const times = [];
  for (let i = 0; i < 20; i++) {
    const label = i % 2 ? 'Not bought tea' : 'Bought tea';
    const button = `button[aria-label="${label}"]`;
    await page.waitForSelector(button, { state: 'attached' });
    times.push(
      await page.evaluate(
        (selector) =>
          new Promise((resolve) => {
            const start = performance.now();
            const seen = new PerformanceObserver((marks) => {
              for (const m of marks.getEntriesByName('shoplist:stored')) {
                if (m.startTime < start) continue;
                seen.disconnect();
                resolve(m.startTime - start);
              }
            });
            seen.observe({ entryTypes: ['mark'] });
            document.querySelector(selector).click();
          }),
        button,
      ),
    );
  }
  times.sort((a, b) => a - b);
  const at = (q) =>
    times[Math.min(times.length - 1, Math.floor(q * times.length))];
  console.log(
    `phone: tap to stored in IndexedDB p50 ${at(0.5).toFixed(1)} ms, ` +
      `p90 ${at(0.9).toFixed(1)} ms (20 taps)`,
  );
}

// Two tabs of one browser add at once: each tab's store, reloaded, and the
// CLI home end with every item (Web Locks and BroadcastChannel).
async function twoTabs(context) {
  const tabs = [await context.newPage(), await context.newPage()];
  await Promise.all(tabs.map((tab) => openList(tab, APP)));
  const names = (t) => [0, 1, 2, 3, 4].map((i) => `tab${t} item${i}`);
  await Promise.all(
    tabs.map(async (tab, t) => {
      for (const name of names(t)) await addItem(tab, name);
    }),
  );
  const all = [...names(0), ...names(1)];
  for (const tab of tabs) {
    await tab.reload(); // the list's own address
    await tab.waitForSelector('li[data-item="eggs"]');
    const shown = await shownItems(tab);
    const missing = all.filter((n) => !shown[n]);
    check(!missing.length, `a tab lost ${missing} after a reload`);
  }
  await until(
    async () => {
      const items = await cliItems();
      return all.every((n) => items[n]);
    },
    SYNC_LIMIT_MS,
    "the CLI home never got both tabs' items",
  );
  console.log('phone: two tabs added 10 items at once; none lost');
  await Promise.all(tabs.map((tab) => tab.close()));
}

async function openList(page, url) {
  await page.goto(url);
  await page.click('a:has-text("Phone groceries")');
  await page.waitForSelector('li[data-item="eggs"]');
}

// Two phones and the CLI home change the list while offline, then
// converge once the network is back.
async function offlineTogether(browser, a, link) {
  const b = await phone(browser);
  await openList(b.page, `${APP}#join=${link}`);
  await a.context.setOffline(true);
  await b.context.setOffline(true);
  await addItem(a.page, 'apples');
  await addItem(b.page, 'juice');
  // The CLI home, offline: no proxy at that address.
  await run(CLI, [
    `--home=${HOME}`,
    '--proxy=127.0.0.1:1',
    'add',
    'phone',
    'coffee',
  ]);
  await a.context.setOffline(false);
  await b.context.setOffline(false);
  const all = (shown) =>
    ['apples', 'juice', 'coffee'].every((i) => shown.includes(i));
  const took = await until(
    async () =>
      all(await cliSees()) &&
      all(await text(a.page)) &&
      all(await text(b.page)),
    SYNC_LIMIT_MS * 2,
    'two phones and a CLI home did not converge',
  );
  console.log(
    `phone: two phones and a CLI home converged ${took} ms after going online`,
  );
  await b.context.close();
}

// The proxy killed (SIGKILL) while the phone has a change pending, and
// started again: nothing is lost.
async function proxyKilled(page) {
  process.kill(PROXY_PID, 'SIGKILL');
  await addItem(page, 'butter');
  check(
    /unsynced/.test(await text(page)),
    'the change is not shown as pending',
  );
  await run(RESTART_PROXY, []);
  const took = await until(
    async () => /butter/.test(await cliSees()),
    SYNC_LIMIT_MS * 2,
    'the change made while the proxy was down never arrived',
  );
  console.log(
    `phone: a change made while the proxy was down arrived ${took} ms after its restart`,
  );
}

// A read-only link opened as the app's join URL (the secret in the
// fragment): the list shows, with no way to change it.
async function readOnly(browser, link) {
  const reader = await phone(browser);
  const { page } = reader;
  await page.goto(`${APP}#join=${link}`);
  await page.click('a:has-text("Phone groceries")');
  await page.waitForSelector('li[data-item="eggs"]');
  check(
    (await page.locator('#add, #again, .stepper, #clear').count()) === 0,
    'a read-only link offers a way to change the list',
  );
  check(!page.url().includes(link), 'the link stayed in the address');
  return reader;
}

// The owner revokes the links: the reader keeps its copy and receives
// nothing new; reopened, it says its link was revoked.
async function revoked(owner, reader) {
  owner.once('dialog', (d) => d.accept());
  await owner.click('#sharing > summary');
  await owner.click('#revoke');
  await owner.waitForSelector('#list-meta:has-text("all changes synced")');
  await addItem(owner, 'cheese');
  await owner.waitForSelector('#list-meta:has-text("all changes synced")');
  await sleep(3000); // more than a push takes (see the figures)
  let shown = await shownItems(reader.page);
  check(!shown.cheese, 'a revoked reader received a change');
  await reader.page.reload(); // the list's own address
  await reader.page.waitForSelector('#list-meta:has-text("link revoked")');
  shown = await shownItems(reader.page);
  check(shown.eggs && !shown.cheese, `revoked: ${JSON.stringify(shown)}`);
  await reader.context.close();
}

const browser = await chromium.launch({ executablePath: CHROMIUM });
try {
  const { context, page } = await phone(browser);
  await createAndAdd(page);
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone-list.png') });
  const edit = await shareDialog(context, page);
  await cli('join', edit);
  check(/eggs/.test(await cli('show', 'phone')), 'the CLI home lacks eggs');
  const again = await offlineAndBack(context, page);
  await cliToPhone(again);
  await buyAgainAndSuggest(again);
  await tapToStored(again);
  const reader = await readOnly(browser, await shareLink(again, 'read'));
  await openList(again, APP);
  await offlineTogether(browser, { context, page: again }, edit);
  await proxyKilled(again);
  await twoTabs(context);
  await openList(again, APP);
  await revoked(again, reader);
  // The same app on a desktop's window.
  await again.setViewportSize({ width: 1280, height: 800 });
  await again.evaluate(() => window.scrollTo(0, 0));
  await again.screenshot({ path: path.join(ARTIFACTS, 'phone-desktop.png') });
  console.log('phone_e2e: all checks passed');
} catch (e) {
  console.error(`phone_e2e: FAIL: ${e.message}`);
  process.exitCode = 1;
  // What each open page showed, to see why.
  let n = 0;
  for (const c of browser.contexts()) {
    for (const p of c.pages()) {
      const file = path.join(ARTIFACTS, `phone-failed-${n++}.png`);
      await p.screenshot({ path: file }).catch(() => {});
      console.error(`  ${p.url()}: ${file}`);
    }
  }
} finally {
  await browser.close();
}
