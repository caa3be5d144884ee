// A node `ws` pub/sub server, the peer of bench/compare's fan-out row: the same routes as
// examples/pubsub_server. /sub?topic=T (repeatable) subscribes; every message a client of
// /pub?topic=T sends goes to each subscriber of T, broadcast in a loop over them as ws's own
// broadcast example does, skipping (and counting as dropped) a subscriber that has more than
// 64 KiB unsent (ws.bufferedAmount): what a node application must do, or a slow subscriber
// grows its memory without bound (wring's drop-oldest does the same job). GET /stats answers
// the counts as JSON.
// Usage: node ws_pubsub.mjs PORT
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 8080);
const topics = new Map(); // name -> Set of sockets
let published = 0, delivered = 0, dropped = 0;
const MARK = 64 * 1024;

const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ published, delivered, dropped, conflated: 0 }) + '\n');
  } else {
    res.statusCode = 404;
    res.end();
  }
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false,
  maxPayload: 64 << 20 });
server.on('upgrade', (req, socket, head) => {
  const u = new URL(req.url, 'http://x');
  const names = u.searchParams.getAll('topic');
  if ((u.pathname !== '/sub' && u.pathname !== '/pub') || !names.length) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('error', () => {});
    if (u.pathname === '/sub') {
      for (const t of names) {
        if (!topics.has(t)) topics.set(t, new Set());
        topics.get(t).add(ws);
      }
      ws.on('close', () => { for (const t of names) topics.get(t)?.delete(ws); });
      return;
    }
    const t = names[0];
    ws.on('message', (data, isBinary) => {
      published++;
      const subs = topics.get(t);
      if (!subs) return;
      for (const s of subs) {
        if (s.bufferedAmount > MARK) { dropped++; continue; }
        s.send(data, { binary: isBinary });
        delivered++;
      }
    });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`Listening on port ${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
