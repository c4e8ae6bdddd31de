// Debian's Chromium, driven by Playwright, as a moderator's browser on the console. Commands come
// as JSON lines on stdin and each gets one JSON line on stdout ({"ok": true, ...} or {"ok": false,
// "error": ...}), so tests/integration/test_console.py can act in the browser and in LiveKit in
// turn. Every request the page makes to another host is reported ({"offsite": url}).
//   node e2e/driver.mjs <console url>
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [consoleUrl] = process.argv.slice(2);
const TIMEOUT = 30000;
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');
const axeSource = await readFile(fileURLToPath(new URL('../node_modules/axe-core/axe.min.js', import.meta.url)), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
});
const pages = new Map(); // name -> page: several people at once (a moderator of another room)
const problems = []; // CSP violations, page errors

async function open(name, { width = 1280, height = 800, locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`${name} pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${name} console: ${message.text()}`);
  });
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['127.0.0.1', 'localhost'].includes(url.hostname) && !['data:', 'blob:'].includes(url.protocol)) {
      print({ offsite: request.url() });
    }
  });
  await page.goto(consoleUrl, { waitUntil: 'load', timeout: TIMEOUT });
  pages.set(name, page);
  return {};
}

const page = (name) => {
  const found = pages.get(name);
  if (!found) throw new Error(`no page ${name}`);
  return found;
};
const row = (p, identity) => p.locator(`[data-testid="participants"] li[data-identity="${identity}"]`);

const commands = {
  open: ({ name, ...options }) => open(name, options),
  async signIn({ name, credential }) {
    const p = page(name);
    await p.getByLabel(/Credential|凭据/).fill(credential);
    await p.getByRole('button', { name: /^(Sign in|登录)$/ }).click();
    return {};
  },
  async signedIn({ name }) {
    return { viewer: await page(name).getByTestId('viewer').innerText({ timeout: TIMEOUT }) };
  },
  async signInError({ name }) {
    const p = page(name);
    const error = await p.getByTestId('sign-in-error').innerText({ timeout: TIMEOUT });
    return { error, credentialField: await p.getByLabel(/Credential|凭据/).isVisible() };
  },
  async createRoom({ name, room }) {
    const p = page(name);
    const field = p.locator('#new-room');
    if ((await field.evaluate((element) => element.tagName)) === 'SELECT') await field.selectOption(room);
    else await field.fill(room);
    await p.getByRole('button', { name: /^(Create room|创建房间)$/ }).click();
    await p.locator(`[data-testid="rooms"] li[data-room="${room}"]`).waitFor({ timeout: TIMEOUT });
    return {};
  },
  async roomCount({ name, room, count }) {
    // The overview is paged: narrowed to the room, it is on the first page whatever else is open.
    await page(name).getByLabel(/^(Name starts with|名称开头为)$/).fill(room);
    const item = page(name).locator(`[data-testid="rooms"] li[data-room="${room}"] [data-testid="count"]`);
    await item.filter({ hasText: new RegExp(`^${count}\\D`) }).waitFor({ timeout: TIMEOUT });
    return { text: await item.innerText() };
  },
  async rooms({ name }) {
    const p = page(name);
    await p.getByRole('heading', { name: /^(Rooms|房间)$/ }).waitFor({ timeout: TIMEOUT });
    return { rooms: await p.locator('[data-testid="rooms"] li').evaluateAll((items) => items.map((i) => i.dataset.room)) };
  },
  async openRoom({ name, room }) {
    const p = page(name);
    await p.getByRole('button', { name: new RegExp(`^(Open|打开) ${room}$`) }).click();
    await p.getByRole('heading', { name: room, exact: true }).waitFor({ timeout: TIMEOUT });
    return {};
  },
  async back({ name }) {
    await page(name).getByRole('button', { name: /All rooms|所有房间/ }).click();
    return {};
  },
  /** Waits for a participant's row; `at` is the wall clock (ms) when it was there. */
  async waitRow({ name, identity, hasText }) {
    const r = row(page(name), identity);
    await (hasText ? r.filter({ hasText }) : r).waitFor({ timeout: TIMEOUT });
    return { at: Date.now(), text: await r.innerText() };
  },
  async waitGone({ name, identity }) {
    await row(page(name), identity).waitFor({ state: 'detached', timeout: TIMEOUT });
    return { at: Date.now() };
  },
  async click({ name, role = 'button', label }) {
    await page(name).getByRole(role, { name: label, exact: true }).click({ timeout: TIMEOUT });
    return {};
  },
  async fill({ name, label, value }) {
    await page(name).getByLabel(label, { exact: true }).fill(value, { timeout: TIMEOUT });
    return {};
  },
  async choose({ name, label, option }) {
    await page(name).getByLabel(label, { exact: true }).selectOption({ label: option }, { timeout: TIMEOUT });
    return {};
  },
  /** Waits until the element with this test id shows `hasText`; its text. */
  async waitText({ name, testId, hasText }) {
    const element = page(name).getByTestId(testId).filter({ hasText });
    await element.first().waitFor({ timeout: TIMEOUT });
    return { text: await element.first().innerText() };
  },
  /** The rooms the overview lists now (all pages shown), and its "n of m" line. */
  async roomPages({ name, count }) {
    const p = page(name);
    const items = p.locator('[data-testid="rooms"] li[data-room]');
    if (count !== undefined) await items.nth(count - 1).waitFor({ timeout: TIMEOUT });
    return {
      rooms: await items.evaluateAll((all) => all.map((i) => i.dataset.room)),
      shown: await p.getByTestId('rooms-shown').innerText({ timeout: TIMEOUT }),
    };
  },
  /** Waits for an audit trail row with this action (and identity); every row's text, newest first. */
  async auditRow({ name, action, identity, hasText }) {
    const p = page(name);
    let rows = p.locator(`[data-testid="audit"] tbody tr[data-action="${action}"]`);
    if (identity) rows = rows.and(p.locator(`tr[data-identity="${identity}"]`));
    if (hasText) rows = rows.filter({ hasText });
    await rows.first().waitFor({ timeout: TIMEOUT });
    return { row: await rows.first().innerText(), rows: await p.locator('[data-testid="audit"] tbody tr').allInnerTexts() };
  },
  async notice({ name, hasText }) {
    const notice = page(name).getByTestId('notices').locator('p').filter({ hasText });
    await notice.first().waitFor({ timeout: TIMEOUT });
    return { text: await notice.first().innerText() };
  },
  async bulkResults({ name, count }) {
    const items = page(name).getByTestId('bulk-results').locator('li');
    await items.nth(count - 1).waitFor({ timeout: TIMEOUT });
    return { results: await items.allInnerTexts() };
  },
  async banner({ name, shown }) {
    await page(name).getByTestId('reconnecting').waitFor({ state: shown ? 'visible' : 'detached', timeout: TIMEOUT });
    return {};
  },
  async feed({ name }) {
    const p = page(name);
    return { text: (await p.getByTestId('feed').count()) ? await p.getByTestId('feed').innerText() : '' };
  },
  async text({ name }) {
    return { text: await page(name).locator('body').innerText() };
  },
  /** Rows the virtualized list renders, and the count the room shows. */
  async listState({ name }) {
    const p = page(name);
    return {
      rendered: await p.locator('[data-testid="participants"] li').count(),
      count: await p.getByTestId('room-count').innerText(),
    };
  },
  /** Scrolls the list to its end in steps, timing frames; the last row's identity. */
  async scrollThrough({ name, steps = 30 }) {
    const p = page(name);
    return p.evaluate(async (steps) => {
      const list = document.querySelector('[data-testid="participants"]');
      const frames = [];
      let last = performance.now();
      for (let i = 1; i <= steps; i++) {
        list.scrollTop = (list.scrollHeight * i) / steps;
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((a, b) => a - b);
      const rows = [...list.querySelectorAll('li')];
      return {
        medianFrameMs: frames[Math.floor(frames.length / 2)],
        worstFrameMs: frames[frames.length - 1],
        lastIdentity: rows.at(-1)?.dataset.identity ?? null,
        rendered: rows.length,
      };
    }, steps);
  },
  async axe({ name }) {
    const p = page(name);
    // Evaluated through the DevTools protocol: the page's policy rightly refuses an injected <script>.
    if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(`${axeSource}\n;0`);
    const result = await p.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const report = await axe.run(document, { resultTypes: ['violations'] });
      return report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
    });
    return { violations: result };
  },
  async resize({ name, width, height }) {
    await page(name).setViewportSize({ width, height });
    return {};
  },
  async overflow({ name }) {
    // Readable on a narrow screen: nothing wider than the viewport.
    return page(name).evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
  },
  async screenshot({ name, path }) {
    await page(name).screenshot({ path, fullPage: false });
    return {};
  },
  async problems() {
    return { problems };
  },
  async quit() {
    await browser.close();
    print({ ok: true });
    process.exit(0);
  },
};

for await (const line of createInterface({ input: process.stdin })) {
  const { do: command, ...args } = JSON.parse(line);
  try {
    const run = commands[command];
    if (!run) throw new Error(`unknown command ${command}`);
    print({ ok: true, ...(await run(args)) });
  } catch (error) {
    // What each page showed when the command failed, for the test's message.
    const shown = {};
    for (const [name, p] of pages) shown[name] = (await p.locator('body').innerText().catch(() => '')).slice(0, 2000);
    print({ ok: false, error: String(error?.stack ?? error), problems, shown });
  }
}
await browser.close();
