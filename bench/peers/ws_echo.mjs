// A node `ws` echo server, the JavaScript peer ws-bench compares wring against.
// Usage: node ws_echo.mjs PORT. Serves /ws on 127.0.0.1, echoes text as text and binary as
// binary, messages up to 64 MiB.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 8080);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', maxPayload: 64 << 20,
  perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`Listening on port ${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
