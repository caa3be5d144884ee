#!/usr/bin/env bash
# Real subscribers against examples/pubsub_server (two reactors, permessage-deflate accepted,
# the ticker thread publishing): python3-websockets plain and deflate subscribers, then a stop
# by SIGTERM.
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")

need_pkg python3-websockets >/dev/null || true
PORT=$(free_port)
start pubsub env WR_THREADS=2 WR_DEFLATE=1 WR_TICKER_MS=50 "$WR_BUILD/examples/pubsub_server" "$PORT"
PID=$LAST_PID
if ! wait_port "$PORT"; then
	not_ok "pubsub_server listens"
	tap_end
	exit
fi
if "$PY" -c 'import websockets' 2>/dev/null; then
	tap_from timeout -k 5 120 "$PY" "$HERE/peer_pubsub.py" "$PORT"
else
	not_ok "python3-websockets available"
fi
if stop "$PID"; then ok "pubsub_server exits 0 on SIGTERM"; else not_ok "pubsub_server exits 0 on SIGTERM"; fi
tap_end
