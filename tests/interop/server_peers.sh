#!/usr/bin/env bash
# Real clients against wring's example servers: python3-websockets and node ws against
# examples/echo_server (sizes to 16 MiB, fragments, pings, close codes both ways, SIGTERM),
# python3-websockets against examples/auth_server (the seed's 1008 and the 401 refusal), and
# examples/echo_client printing the seed's line.
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
tap_end
