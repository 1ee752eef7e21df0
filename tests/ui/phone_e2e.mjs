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

async function createAndAdd(page) {
  const start = Date.now();
  await page.goto(APP);
  await page.waitForSelector('#create');
  console.log(`phone: first load to the lists ${Date.now() - start} ms`);
  await page.fill('#create input[name=title]', 'Phone groceries');
  await page.click('#create button[type=submit]');
  await page.click('a:has-text("Phone groceries")');
  await page.fill('#add input[name=item]', 'eggs');
  await page.fill('#add input[name=count]', '6');
  await page.click('#add button[type=submit]');
  await page.waitForSelector('text=eggs');
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

async function offlineAndBack(context, page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  await page.goto(APP);
  await page.click('a:has-text("Phone groceries")');
  await page.fill('#add input[name=item]', 'bread');
  await page.click('#add button[type=submit]');
  await page.waitForSelector('text=bread');
  // Closed and opened again, still offline: from the service worker and
  // IndexedDB.
  await page.close();
  const again = await context.newPage();
  await again.goto(APP);
  await again.click('a:has-text("Phone groceries")');
  const shown = await text(again);
  check(/bread/.test(shown) && /eggs/.test(shown), `offline reopen: ${shown}`);
  await again.screenshot({ path: path.join(ARTIFACTS, 'phone-offline.png') });
  await context.setOffline(false);
  const took = await until(
    async () => /bread/.test(await cliSees()),
    SYNC_LIMIT_MS,
    'the CLI home never saw the change made offline',
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
  await page.waitForSelector(`text=${item}`);
}

async function openList(page, url) {
  await page.goto(url);
  await page.click('a:has-text("Phone groceries")');
  await page.waitForSelector('text=eggs');
}

// Two phones and the CLI home change the list while offline, then
// converge once the network is back.
async function offlineTogether(browser, a, link) {
  const b = await phone(browser);
  await openList(b.page, `${APP}#join=${link}`);
  await a.context.setOffline(true);
  await b.context.setOffline(true);
  await addItem(a.page, 'apples');
  await addItem(b.page, 'tea');
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
    ['apples', 'tea', 'coffee'].every((i) => shown.includes(i));
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
  const { context, page } = await phone(browser);
  await page.goto(`${APP}#join=${link}`);
  await page.click('a:has-text("Phone groceries")');
  await page.waitForSelector('text=eggs');
  check(
    (await page.locator('#add').count()) === 0,
    'a read-only link offers #add',
  );
  check(!page.url().includes(link), 'the link stayed in the address');
  await context.close();
}

const browser = await chromium.launch({ executablePath: CHROMIUM });
try {
  const { context, page } = await phone(browser);
  await createAndAdd(page);
  await page.screenshot({ path: path.join(ARTIFACTS, 'phone-list.png') });
  const edit = await shareLink(page, 'edit');
  await cli('join', edit);
  check(/eggs/.test(await cli('show', 'phone')), 'the CLI home lacks eggs');
  const again = await offlineAndBack(context, page);
  await cliToPhone(again);
  await readOnly(browser, await shareLink(again, 'read'));
  await openList(again, APP);
  await offlineTogether(browser, { context, page: again }, edit);
  await proxyKilled(again);
  console.log('phone_e2e: all checks passed');
} catch (e) {
  console.error(`phone_e2e: FAIL: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
