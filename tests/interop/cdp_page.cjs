// Drive a running headless Chromium over the DevTools protocol (node `ws`): open URL in its
// page, wait until the page sets window.wrResult, print that as JSON. Bounded by TIMEOUT_MS.
// Usage: node cdp_page.cjs DEVTOOLS_PORT URL [TIMEOUT_MS]
'use strict';
const WebSocket = require('ws');

const [devPort, url, timeoutArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg || 30000);

function fail(why) {
  console.error(why);
  process.exit(1);
}
setTimeout(() => fail('timed out'), deadline - Date.now()).unref();

async function pageTarget() {
  while (Date.now() < deadline) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${devPort}/json/list`)).json();
      const page = list.find((t) => t.type === 'page');
      if (page) return page.webSocketDebuggerUrl;
    } catch (e) { /* DevTools not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('no page target');
}

async function main() {
  const ws = new WebSocket(await pageTarget());
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  let id = 0;
  const pending = new Map();
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const call = (method, params) => new Promise((res) => {
    pending.set(++id, res);
    ws.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expression) =>
    (await call('Runtime.evaluate', { expression, returnByValue: true })).result?.result?.value;

  const nav = await call('Page.navigate', { url });
  if (nav.error || nav.result?.errorText)
    fail(`navigate: ${JSON.stringify(nav.error || nav.result.errorText)}`);
  while (Date.now() < deadline) {
    const r = await evaluate('window.wrResult ? JSON.stringify(window.wrResult) : ""');
    if (r) {
      process.stdout.write(r + '\n');
      process.exit(0);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  fail(`no result; page log: ${await evaluate("document.getElementById('log')?.textContent")}`);
}
main().catch((e) => fail(String(e)));
