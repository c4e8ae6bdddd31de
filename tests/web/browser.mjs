// Headless Debian Chromium, driven by Playwright, as a person's browser: prints JSON lines of
// {"stage": ...} as it goes and reads nothing; driven by test_web_clients.py.
//   node browser.mjs graphiql <service url> <room> <authorization> <identity to wait for>
//     opens GraphiQL, runs the README's subscription, waits for SNAPSHOT in the result pane
//     ("snapshot"), then for a live event naming <identity> ("live")
//   node browser.mjs livekit <livekit ws url> <token>
//     joins with livekit-client (served from node_modules by a local server, no CDN), publishes a
//     fake microphone ("published"), then waits until the server mutes it ("muted")
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [mode, ...args] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');
const TIMEOUT = 60000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', // as root, Chromium's sandbox refuses to start
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
  ],
});
const context = await browser.newContext();
const page = await context.newPage();
const consoleLines = [];
page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
page.on('request', (request) => {
  const url = new URL(request.url());
  if (!['127.0.0.1', 'localhost'].includes(url.hostname) && !url.protocol.startsWith('data')) {
    print({ stage: 'offsite', url: request.url() }); // a CDN: the test fails on it
  }
});

async function finish(code) {
  await browser.close();
  process.exit(code);
}

try {
  if (mode === 'graphiql') await graphiql(...args);
  else if (mode === 'livekit') await livekit(...args);
  else throw new Error(`unknown mode ${mode}`);
  await finish(0);
} catch (error) {
  print({ stage: 'failed', error: String(error?.stack ?? error), console: consoleLines.slice(-30) });
  await finish(1);
}

async function resultText() {
  return page.evaluate(() => {
    const pane = document.querySelector('.graphiql-response');
    return pane ? pane.innerText : '';
  });
}

async function graphiql(serviceUrl, room, authorization, identity) {
  const query = `subscription {
  roomEvents(room: "${room}") {
    kind sequence source actor at
    participant { identity state attributes tracks { source muted } }
    participants { identity }   # filled in for SNAPSHOT
  }
}`;
  const headers = JSON.stringify({ Authorization: authorization });
  const url = `${serviceUrl}/graphql?q=${encodeURIComponent(query)}&headers=${encodeURIComponent(headers)}`;
  await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
  await page.locator('.graphiql-execute-button').click({ timeout: TIMEOUT });
  await page.waitForFunction(() => document.querySelector('.graphiql-response')?.innerText.includes('SNAPSHOT'), null, {
    timeout: TIMEOUT,
  });
  print({ stage: 'snapshot', text: await resultText() });
  await page.waitForFunction(
    (who) => {
      const text = document.querySelector('.graphiql-response')?.innerText ?? '';
      return !text.includes('SNAPSHOT') && text.includes(who);
    },
    identity,
    { timeout: TIMEOUT },
  );
  print({ stage: 'live', text: await resultText() });
  await page.screenshot({ path: process.env.SCREENSHOT ?? '/dev/null' }).catch(() => {});
}

async function livekit(wsUrl, token) {
  const bundle = fileURLToPath(new URL('./node_modules/livekit-client/dist/livekit-client.umd.js', import.meta.url));
  const script = await readFile(bundle);
  const server = http.createServer((request, response) => {
    if (request.url === '/livekit-client.umd.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>gxrtc livekit-client</title><script src="/livekit-client.umd.js"></script>');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await page.goto(`http://127.0.0.1:${server.address().port}/`, { waitUntil: 'load', timeout: TIMEOUT });
    const published = await page.evaluate(
      async ({ wsUrl, token }) => {
        const { Room, RoomEvent } = window.LivekitClient;
        const room = new Room();
        window.__muted = null;
        room.on(RoomEvent.TrackMuted, (publication, participant) => {
          if (participant === room.localParticipant) window.__muted = publication.trackSid;
        });
        await room.connect(wsUrl, token);
        await room.localParticipant.setMicrophoneEnabled(true);
        const publication = [...room.localParticipant.trackPublications.values()][0];
        window.__room = room;
        return { identity: room.localParticipant.identity, sid: room.localParticipant.sid, trackSid: publication?.trackSid };
      },
      { wsUrl, token },
    );
    print({ stage: 'published', ...published });
    await page.waitForFunction(() => window.__muted !== null, null, { timeout: TIMEOUT });
    const muted = await page.evaluate(() => ({
      trackSid: window.__muted,
      isMuted: [...window.__room.localParticipant.trackPublications.values()][0].isMuted,
    }));
    print({ stage: 'muted', ...muted });
    await page.evaluate(() => window.__room.disconnect());
  } finally {
    server.close();
  }
}
