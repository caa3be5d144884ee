#!/usr/bin/env bash
# WSS/HTTPS against real TLS peers: python3 websockets and node ws (trusting our self-signed
# CA) echo through examples/wss_echo_server; openssl s_client completes a verified handshake,
# negotiates ALPN http/1.1 and TLS 1.3; plain HTTP and garbage to the TLS port are refused
# while the server keeps serving. TAP; every process is stopped by PID.
. "$(dirname "$0")/lib.sh"

SERVER=$WR_BUILD/examples/wss_echo_server
CLIENT=$WR_BUILD/examples/wss_echo_client
if [ ! -x "$SERVER" ]; then
	echo "1..0 # SKIP built without TLS (no examples/wss_echo_server)"
	exit 0
fi
need_pkg openssl python3-websockets curl
command -v npm >/dev/null && need_node_ws

CERT=$WR_TMP/cert.pem
KEY=$WR_TMP/key.pem
check "make-cert.sh makes a localhost certificate" "$WR_SRC/examples/make-cert.sh" "$WR_TMP"

PORT=$(free_port)
start server "$SERVER" "$PORT" "$CERT" "$KEY"
SERVER_PID=$LAST_PID
check "wss_echo_server listens on $PORT" wait_port "$PORT"

py_echo() {
	"$PY" - "$1" "$CERT" <<'EOF'
import asyncio, ssl, sys
import websockets

async def main(url, ca):
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(url, ssl=ctx, open_timeout=5, close_timeout=2) as ws:
        await ws.send("hello from python")
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == "hello from python", got
        blob = bytes(range(256)) * 400       # 100 kB: several TLS records each way
        await ws.send(blob)
        got = await asyncio.wait_for(ws.recv(), 5)
        assert got == blob, len(got)
        for i in range(200):                  # small frames, pipelined
            await ws.send(f"m{i}")
        for i in range(200):
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == f"m{i}", got

asyncio.run(main(sys.argv[1], sys.argv[2]))
EOF
}
check "python3 websockets: wss echo (text, 100 kB binary, 200 pipelined), CA verified" \
	py_echo "wss://localhost:$PORT/ws"

py_refused() {
	"$PY" - "wss://localhost:$PORT/ws" <<'EOF'
import asyncio, ssl, sys
import websockets
async def main(url):
    try:
        async with websockets.connect(url, ssl=ssl.create_default_context(), open_timeout=5):
            pass
    except ssl.SSLCertVerificationError:
        return
    raise SystemExit("self-signed certificate accepted without the CA")
asyncio.run(main(sys.argv[1]))
EOF
}
check "python3 websockets: refuses our self-signed certificate without the CA" py_refused

node_echo() {
	NODE_PATH="$WR_SRC/tests/interop/node_modules" timeout 20 node - "$1" "$CERT" <<'EOF'
const fs = require('fs');
const WebSocket = require('ws');
const [url, ca] = process.argv.slice(2);
const ws = new WebSocket(url, { ca: fs.readFileSync(ca) });
const big = Buffer.alloc(70000, 7);
let step = 0;
const t = setTimeout(() => { console.error('timeout'); process.exit(1); }, 10000);
ws.on('open', () => ws.send('hello from node'));
ws.on('message', (data, isBinary) => {
  if (step === 0) {
    if (isBinary || data.toString() !== 'hello from node') { console.error('bad text echo'); process.exit(1); }
    step = 1;
    ws.send(big);
  } else {
    if (!isBinary || !Buffer.from(data).equals(big)) { console.error('bad binary echo'); process.exit(1); }
    ws.close(1000, 'done');
  }
});
ws.on('close', (code) => { clearTimeout(t); process.exit(step === 1 && code === 1000 ? 0 : 1); });
ws.on('error', (e) => { console.error(String(e)); process.exit(1); });
EOF
}
if [ -d "$WR_SRC/tests/interop/node_modules/ws" ]; then
	check "node ws: wss echo (text, 70 kB binary) with the ca option" node_echo "wss://localhost:$PORT/ws"
else
	not_ok "node ws: npm ws could not be installed"
fi

check "wss_echo_client --ca: echo" timeout 10 "$CLIENT" "wss://localhost:$PORT/ws" --ca "$CERT"
check "wss_echo_client: refuses the self-signed cert without --ca" \
	bash -c "! timeout 10 '$CLIENT' 'wss://localhost:$PORT/ws'"

s_client() { # s_client extra-args... : handshake output on stdout
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$CERT" "$@" 2>&1
}
handshake_ok() {
	local out
	out=$(s_client "$@")
	printf '%s\n' "$out" | grep -q "Verify return code: 0 (ok)" || { printf '%s\n' "$out"; return 1; }
	printf '%s\n' "$out" | grep -Eq "^ *Protocol *: TLSv1\.[23]|^New, TLSv1\.[23]" || { printf '%s\n' "$out"; return 1; }
}
check "openssl s_client: verified handshake" handshake_ok
alpn_ok() {
	s_client -alpn http/1.1 | grep -q "ALPN protocol: http/1.1"
}
check "openssl s_client: ALPN http/1.1 negotiated when offered" alpn_ok
check "openssl s_client: TLS 1.3" bash -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -CAfile '$CERT' -tls1_3 2>&1 | grep -q 'TLSv1.3'"
check "openssl s_client: TLS 1.2" bash -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -CAfile '$CERT' -tls1_2 2>&1 | grep -Eq 'Protocol *: TLSv1.2'"
tickets_ok() { # the 1.3 ticket comes after the handshake: keep stdin open a moment
	(sleep 0.5) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		-CAfile "$CERT" -tls1_3 -sess_out "$WR_TMP/sess" 2>&1 | grep -q "TLS session ticket" || return 1
	s_client -tls1_3 -sess_in "$WR_TMP/sess" | grep -q "^Reused"
}
check "openssl s_client: session ticket issued and resumed" tickets_ok
check "openssl s_client: TLS 1.1 refused (protocol version alert)" bash -c "echo | timeout 10 openssl s_client -connect 127.0.0.1:$PORT -tls1_1 2>&1 | grep -q 'Cipher is (NONE)'"

plain_http() {
	"$PY" - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
data = b""
while True:
    k = s.recv(4096)
    if not k:
        break
    data += k
assert data.startswith(b"HTTP/1.1 400"), data
EOF
}
check "plain HTTP to the TLS port: 400 and close" plain_http
garbage() {
	"$PY" - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(bytes((0x80 + i * 13) & 0xff for i in range(4096)))
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
EOF
}
check "garbage to the TLS port: closed" garbage
check "still serving after bad input (curl https /health)" \
	bash -c "curl -sS --max-time 5 --cacert '$CERT' https://localhost:$PORT/health | grep -qx ok"

# Not through check: wait(1) needs the process to be a child of this shell.
if stop "$SERVER_PID"; then ok "wss_echo_server exits 0 on SIGTERM"; else not_ok "wss_echo_server exits 0 on SIGTERM"; fi
tap_end
