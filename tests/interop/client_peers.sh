#!/usr/bin/env bash
# Our blocking client (tests/peer_client) against other implementations' echo servers: node
# `ws` and python3 `websockets`, each started here on a free loopback port and stopped by PID.
# Every peer serves: any path echoes (same type back); /close closes at once with 4003 "bye";
# /hdr first sends the Authorization header it saw; subprotocol "chat" is accepted.
. "$(dirname "$0")/lib.sh"

PEER="$WR_BUILD/tests/peer_client"
if [ ! -x "$PEER" ]; then
	echo "1..0 # SKIP $PEER not built"
	exit 0
fi

cat >"$WR_TMP/echo_ws.js" <<'EOF'
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({
	host: '127.0.0.1', port: Number(process.argv[2]), maxPayload: 64 * 1024 * 1024,
	handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
	perMessageDeflate: { threshold: 0 },
});
wss.on('connection', (ws, req) => {
	if (req.url === '/close') { ws.close(4003, 'bye'); return; }
	if (req.url === '/hdr') ws.send(req.headers['authorization'] || '');
	ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
process.on('SIGTERM', () => { wss.close(); process.exit(0); });
EOF

cat >"$WR_TMP/echo_websockets.py" <<'EOF'
import asyncio, signal, sys
import websockets

async def handler(ws, path=None):
    path = path or ws.path
    if path == "/close":
        await ws.close(4003, "bye")
        return
    if path == "/hdr":
        await ws.send(ws.request_headers.get("Authorization", ""))
    async for m in ws:
        await ws.send(m)

async def main():
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=None,
                                subprotocols=["chat"]):
        await stop

asyncio.run(main())
EOF

M16=$((16 * 1024 * 1024))

# run_suite NAME PORT: the same checks against whichever peer listens on PORT.
run_suite() {
	local name=$1 port=$2
	local u="ws://127.0.0.1:$port"
	check "$name: text sizes 0..65536" "$PEER" "$u/echo" t:0 t:1 t:125 t:126 t:127 t:65535 t:65536
	check "$name: binary sizes 0..65536" "$PEER" "$u/echo" b:0 b:1 b:125 b:126 b:127 b:65535 b:65536
	check "$name: 16 MiB text" "$PEER" "$u/echo" t:$M16
	check "$name: 16 MiB binary" "$PEER" "$u/echo" b:$M16
	check "$name: multi-byte UTF-8 text" "$PEER" "$u/echo" u:1 u:13 u:6554 u:1677721
	check "$name: many messages on one connection" "$PEER" "$u/echo" \
		$(for i in $(seq 1 100); do echo "t:$((i * 37)) b:$((i * 53))"; done)
	check "$name: ping answered, pong passed" "$PEER" "$u/echo" ping t:5 ping
	check "$name: close 1000 echoed" "$PEER" "$u/echo" t:3 close:1000
	check "$name: close 4001 echoed" "$PEER" "$u/echo" b:3 close:4001
	check "$name: close 1001 echoed" "$PEER" "$u/echo" close:1001
	check "$name: server closes with 4003 bye" "$PEER" "$u/close" closed:4003:bye
	check "$name: subprotocol chat" "$PEER" -p chat "$u/echo" proto:chat t:4 close:1000
	check "$name: no subprotocol" "$PEER" "$u/echo" proto: t:4 close:1000
	check "$name: Authorization header" "$PEER" -H "Authorization: Bearer abc" "$u/hdr" \
		"recv:Bearer abc" t:2 close:1000
	check "$name: query string" "$PEER" "$u/echo?a=1&b=%20" t:10 close:1000
	# permessage-deflate, our client offering it: default, no context takeover, small windows.
	check "$name: permessage-deflate echoes" "$PEER" -z on "$u/echo" deflate:1 t:100000 \
		u:6554 b:70000 t:5 t:100000 close:1000
	check "$name: permessage-deflate without context takeover" "$PEER" -z nct "$u/echo" \
		deflate:1 t:100000 t:100000 u:100 close:1000
	check "$name: permessage-deflate with 9-bit windows" "$PEER" -z bits:9 "$u/echo" \
		deflate:1 t:100000 b:70000 t:100000 close:1000
	check "$name: permessage-deflate 16 MiB text" "$PEER" -z on "$u/echo" deflate:1 t:$M16
}

# node ws
if need_node_ws >/dev/null 2>&1 && command -v node >/dev/null; then
	port=$(free_port)
	NODE_PATH="$WR_SRC/tests/interop/node_modules" start node_ws node "$WR_TMP/echo_ws.js" "$port"
	node_pid=$LAST_PID
	if wait_port "$port" 20; then
		run_suite "node ws" "$port"
	else
		not_ok "node ws: echo server did not start"
		sed 's/^/# /' "$WR_TMP/node_ws.log"
	fi
	stop "$node_pid"
else
	not_ok "node ws: could not install the ws package"
fi

# python3 websockets
if need_pkg python3-websockets >/dev/null 2>&1 && $PY -c 'import websockets' 2>/dev/null; then
	port=$(free_port)
	start py_websockets $PY "$WR_TMP/echo_websockets.py" "$port"
	py_pid=$LAST_PID
	if wait_port "$port" 20; then
		run_suite "python websockets" "$port"
	else
		not_ok "python websockets: echo server did not start"
		sed 's/^/# /' "$WR_TMP/py_websockets.log"
	fi
	stop "$py_pid"
else
	not_ok "python websockets: python3-websockets missing"
fi

tap_end
