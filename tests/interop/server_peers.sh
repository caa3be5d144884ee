#!/usr/bin/env bash
# Real clients against wring's example servers: python3-websockets and node ws against
# examples/echo_server (sizes to 16 MiB, fragments, pings, close codes both ways, SIGTERM),
# python3-websockets against examples/auth_server (the seed's 1008 and the 401 refusal), and
# examples/echo_client printing the seed's line. The sequential examples the same way:
# fiber_echo_server and fiber_auth_server against the same peers, fiber_echo_client printing
# the line (and 100 conversations on one thread), and fiber_proxy relaying real peers to an
# upstream: node ws and python3-websockets through it to examples/echo_server, and node ws
# through it to a python3-websockets echo server.
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
EX=$WR_BUILD/examples

need_pkg python3-websockets >/dev/null || true
need_node_ws || true

# serve NAME BINARY [args]: start an example on a free port; sets PORT and PID.
serve() {
	local name=$1 bin=$2; shift 2
	PORT=$(free_port)
	start "$name" "$bin" "$PORT" "$@"
	PID=$LAST_PID
	wait_port "$PORT"
}
# stopped DESC PID: one TAP line, the process must exit 0 on SIGTERM (stop waits for it,
# so it cannot run inside check's subshell).
stopped() {
	if stop "$2"; then ok "$1"; else not_ok "$1"; fi
}

if ! serve echo "$EX/echo_server"; then
	not_ok "echo_server listens"
	tap_end
	exit
fi
echo_port=$PORT echo_pid=$PID

if "$PY" -c 'import websockets' 2>/dev/null; then
	tap_from timeout -k 5 120 "$PY" "$HERE/peer_websockets.py" echo "$echo_port"
	tap_from timeout -k 5 120 "$PY" "$HERE/peer_websockets.py" deflate "$echo_port"
else
	not_ok "python3-websockets available"
fi

if [ -d "$WR_SRC/tests/interop/node_modules/ws" ]; then
	tap_from timeout -k 5 120 node "$HERE/peer_ws.cjs" "$echo_port"
else
	not_ok "node ws available"
fi

if [ -x "$EX/echo_client" ]; then
	check "echo_client prints \"Hello, WebSocket!\"" \
		test "$(timeout 10 "$EX/echo_client" "ws://127.0.0.1:$echo_port/ws")" = "Hello, WebSocket!"
else
	ok "echo_client prints \"Hello, WebSocket!\" # SKIP examples/echo_client not built yet"
fi

check "echo_server still running after the peers" kill -0 "$echo_pid"
stopped "echo_server exits 0 on SIGTERM" "$echo_pid"

# SIGTERM with clients connected: each gets close 1001, then the server exits 0.
if serve echo_stop "$EX/echo_server"; then
	tap_from timeout -k 5 30 "$PY" "$HERE/peer_websockets.py" stop "$PORT" "$PID"
	stopped "echo_server exits 0 after SIGTERM with clients connected" "$PID"
else
	not_ok "second echo_server listens"
fi

if serve auth "$EX/auth_server"; then
	tap_from timeout -k 5 60 "$PY" "$HERE/peer_websockets.py" auth "$PORT"
	stopped "auth_server exits 0 on SIGTERM" "$PID"
else
	not_ok "auth_server listens"
fi

# ---- the sequential style ----
have_py() { "$PY" -c 'import websockets' 2>/dev/null; }
have_node() { [ -d "$WR_SRC/tests/interop/node_modules/ws" ]; }

if serve fiber_echo "$EX/fiber_echo_server"; then
	fe_port=$PORT fe_pid=$PID
	if have_py; then
		tap_from timeout -k 5 120 "$PY" "$HERE/peer_websockets.py" echo "$fe_port"
	else
		not_ok "python3-websockets available"
	fi
	if have_node; then
		tap_from timeout -k 5 120 node "$HERE/peer_ws.cjs" "$fe_port"
	else
		not_ok "node ws available"
	fi
	stopped "fiber_echo_server exits 0 on SIGTERM" "$fe_pid"
else
	not_ok "fiber_echo_server listens"
fi

if serve fiber_auth "$EX/fiber_auth_server"; then
	tap_from timeout -k 5 60 "$PY" "$HERE/peer_websockets.py" auth "$PORT"
	stopped "fiber_auth_server exits 0 on SIGTERM" "$PID"
else
	not_ok "fiber_auth_server listens"
fi

if serve echo_up "$EX/echo_server"; then
	up_port=$PORT up_pid=$PID
	check "fiber_echo_client prints \"Hello, WebSocket!\"" \
		test "$(timeout 10 "$EX/fiber_echo_client" "ws://127.0.0.1:$up_port/ws")" = "Hello, WebSocket!"
	check "fiber_echo_client: 100 conversations on one thread" \
		test "$(timeout 20 "$EX/fiber_echo_client" "ws://127.0.0.1:$up_port/ws" 100)" = "100 of 100 conversations echoed"
	check "fiber_echo_client fails on a closed port" \
		bash -c "! timeout 10 '$EX/fiber_echo_client' ws://127.0.0.1:1/ws"
	if serve proxy "$EX/fiber_proxy" "ws://127.0.0.1:$up_port/ws"; then
		px_port=$PORT px_pid=$PID
		check "fiber_proxy relays echo_client's line" \
			test "$(timeout 10 "$EX/echo_client" "ws://127.0.0.1:$px_port/ws")" = "Hello, WebSocket!"
		if have_py; then
			tap_from timeout -k 5 180 "$PY" "$HERE/peer_websockets.py" echo "$px_port"
		else
			not_ok "python3-websockets available"
		fi
		if have_node; then
			tap_from timeout -k 5 180 node "$HERE/peer_ws.cjs" "$px_port"
		else
			not_ok "node ws available"
		fi
		stopped "fiber_proxy exits 0 on SIGTERM" "$px_pid"
	else
		not_ok "fiber_proxy listens"
	fi
	stopped "echo_server (upstream) exits 0 on SIGTERM" "$up_pid"
else
	not_ok "upstream echo_server listens"
fi

# Sequential HTTP against curl: uploads of 5 MiB with Content-Length and chunked (the FNV-1a
# of the body checked), past max_body_bytes, and a streamed 3 MiB download.
if serve upload "$EX/fiber_upload_server"; then
	head -c $((5 << 20)) /dev/urandom > "$WR_TMP/body"
	want=$("$PY" -c 'import sys
h = 0xcbf29ce484222325
for c in open(sys.argv[1], "rb").read():
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
print(f"5242880 bytes, fnv1a {h:016x}")' "$WR_TMP/body")
	check "curl: 5 MiB upload with Content-Length read in pieces" \
		test "$(curl -sS -T "$WR_TMP/body" -X POST "http://127.0.0.1:$PORT/upload")" = "$want"
	check "curl: 5 MiB chunked upload read in pieces" \
		test "$(curl -sS -T - -X POST "http://127.0.0.1:$PORT/upload" < "$WR_TMP/body")" = "$want"
	check "curl: the buffered route refuses the same body with 413" \
		test "$(curl -sS -o /dev/null -w '%{http_code}' -T "$WR_TMP/body" -X POST "http://127.0.0.1:$PORT/upload-buffered")" = 413
	check "curl: a 3 MiB streamed download, chunked" \
		bash -c "curl -sS -D '$WR_TMP/h' 'http://127.0.0.1:$PORT/download/3' | cmp -s - <(head -c 3145728 /dev/zero | tr '\\0' w) && grep -qi '^transfer-encoding: chunked' '$WR_TMP/h'"
	stopped "fiber_upload_server exits 0 on SIGTERM" "$PID"
else
	not_ok "fiber_upload_server listens"
fi

# A real peer as the upstream: python3-websockets' own echo server behind fiber_proxy.
if have_py && have_node; then
	py_port=$(free_port)
	start py_upstream "$PY" "$HERE/peer_websockets.py" serve "$py_port"
	py_pid=$LAST_PID
	if wait_port "$py_port" && serve proxy_py "$EX/fiber_proxy" "ws://127.0.0.1:$py_port/ws"; then
		tap_from timeout -k 5 180 node "$HERE/peer_ws.cjs" "$PORT"
		stopped "fiber_proxy (to python3-websockets) exits 0 on SIGTERM" "$PID"
	else
		not_ok "fiber_proxy to python3-websockets listens"
	fi
	stop "$py_pid" || true
else
	not_ok "python3-websockets and node ws available for the proxied pair"
fi
tap_end
