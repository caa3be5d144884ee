// node `ws` as a client of examples/echo_server. One line per case, "ok<TAB>desc" or
// "not<TAB>desc<TAB>why" (see lib.sh tap_from). Usage: node peer_ws.cjs PORT
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');

const port = Number(process.argv[2]);
const url = `ws://127.0.0.1:${port}/ws`;
const MIB = 1 << 20;
const T = 20000; // ms per case

function say(ok, desc, why) {
  process.stdout.write(ok ? `ok\t${desc}\n` : `not\t${desc}\t${why}\n`);
}

function withTimeout(p, ms) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout ${ms} ms`)), ms); }),
  ]);
}

async function runCase(desc, fn) {
  try {
    await withTimeout(fn(), T);
    say(true, desc);
  } catch (e) {
    say(false, desc, String(e && e.message || e));
  }
}

function open() {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { maxPayload: 0, handshakeTimeout: 5000 });
    ws.once('open', () => res(ws));
    ws.once('error', rej);
  });
}

// The next message as { data, isBinary }.
function next(ws) {
  return new Promise((res, rej) => {
    const onClose = (code) => rej(new Error(`closed ${code} instead of a message`));
    ws.once('message', (data, isBinary) => { ws.off('close', onClose); res({ data, isBinary }); });
    ws.once('close', onClose);
  });
}

function closed(ws) {
  return new Promise((res) => ws.once('close', (code, reason) => res({ code, reason: reason.toString() })));
}

function assert(cond, why) {
  if (!cond) throw new Error(why);
}

function textOf(n) {
  const s = Buffer.from('wring ✓ κόσμε 😀 '.repeat(Math.ceil(n / 10) + 1)).subarray(0, n).toString();
  const trimmed = s.replace(/\uFFFD+$/, '');
  return trimmed + 'a'.repeat(n - Buffer.byteLength(trimmed));
}

async function main() {
  const ws = await open();
  for (const n of [0, 1, 125, 126, 65535, 65536, MIB, 16 * MIB]) {
    await runCase(`node ws: text and binary of ${n} bytes echoed`, async () => {
      const t = textOf(n);
      ws.send(t);
      let m = await next(ws);
      assert(!m.isBinary && m.data.toString() === t, `text echo differs (${m.data.length} bytes)`);
      const b = crypto.randomBytes(n);
      ws.send(b);
      m = await next(ws);
      assert(m.isBinary && Buffer.compare(m.data, b) === 0, 'binary echo differs');
    });
  }

  await runCase('node ws: fragmented text (fin: false) echoed', async () => {
    const parts = ['κό', 'σμε ', '', '😀'.repeat(5000)];
    parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
    const m = await next(ws);
    assert(!m.isBinary && m.data.toString() === parts.join(''), 'fragmented text differs');
  });

  await runCase('node ws: fragmented binary of 1 MiB in 64 KiB frames echoed', async () => {
    const b = crypto.randomBytes(MIB);
    for (let i = 0; i < b.length; i += 65536)
      ws.send(b.subarray(i, i + 65536), { binary: true, fin: i + 65536 >= b.length });
    const m = await next(ws);
    assert(m.isBinary && Buffer.compare(m.data, b) === 0, 'fragmented binary differs');
  });

  await runCase('node ws: ping with a payload answered by the same pong', async () => {
    const p = crypto.randomBytes(125);
    const got = new Promise((res) => ws.once('pong', res));
    ws.ping(p);
    assert(Buffer.compare(await got, p) === 0, 'pong payload differs');
  });

  await runCase('node ws: ping between fragments answered, message intact', async () => {
    const got = new Promise((res) => ws.once('pong', res));
    ws.send('first ', { fin: false });
    ws.ping('mid');
    ws.send('second', { fin: true });
    const m = await next(ws);
    assert(m.data.toString() === 'first second', 'message differs');
    assert((await got).toString() === 'mid', 'pong differs');
  });

  await runCase('node ws: client close 4001 answered with 4001', async () => {
    const c = closed(ws);
    ws.close(4001, 'node says bye');
    const { code } = await c;
    assert(code === 4001, `close code ${code}`);
  });

  await runCase('node ws: server closes 16 MiB + 1 with 1009', async () => {
    const w = await open();
    const c = closed(w);
    w.send(Buffer.alloc(16 * MIB + 1));
    const { code } = await c;
    assert(code === 1009, `close code ${code}`);
  });

  await runCase('node ws: 50 clients at once each echo 20 messages', async () => {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const w = await open();
      for (let j = 0; j < 20; j++) {
        const s = `client ${i} message ${j}`;
        w.send(s);
        assert((await next(w)).data.toString() === s, 'echo differs');
      }
      const c = closed(w);
      w.close(1000);
      assert((await c).code === 1000, 'close');
    }));
  });
}

// permessage-deflate, with and without context takeover on each side: the extension is
// agreed as asked and large JSON echoes (several times, so that kept context is used).
function bigJson(n) {
  const items = [];
  for (let k = 0; JSON.stringify(items).length < n; k++)
    items.push({ id: k, user: `user${k % 97}`, price: k * 1.25, ok: k % 3 === 0 });
  return JSON.stringify(items).slice(0, n);
}

async function deflateCases() {
  const msg = bigJson(300000);
  const settings = [
    {},
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    { serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
  ];
  for (const pmd of settings) {
    await runCase(`node ws: permessage-deflate ${JSON.stringify(pmd)} echoes 300 KB JSON`, async () => {
      const w = await new Promise((res, rej) => {
        const s = new WebSocket(url, { maxPayload: 0, perMessageDeflate: { threshold: 0, ...pmd } });
        s.once('open', () => res(s));
        s.once('error', rej);
      });
      assert(w.extensions === 'permessage-deflate', `extensions "${w.extensions}"`);
      // What the server answered (ws keeps the accepted parameters here).
      const params = w._extensions['permessage-deflate'].params;
      if (pmd.serverNoContextTakeover)
        assert(params.server_no_context_takeover, 'server_no_context_takeover not agreed');
      if (pmd.serverMaxWindowBits)
        assert(params.server_max_window_bits === 10, `server_max_window_bits ${params.server_max_window_bits}`);
      for (const m of [msg, msg.slice(0, 1000), msg, 'short']) {
        w.send(m);
        const got = (await next(w)).data.toString();
        assert(got === m, `echo differs (${got.length} of ${m.length})`);
      }
      const c = closed(w);
      w.close(1000);
      assert((await c).code === 1000, 'close');
    });
  }
}

main().then(deflateCases).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
