#!/usr/bin/env bash
# Kernel operations per echoed message, so that a regression shows as a number. For each load,
# perf's tracepoints count the server's system calls, io_uring_enter calls, submitted requests
# (SQEs), completions (CQEs), requests that had to wait on a poll (poll_arm: the socket was not
# ready) and requests punted to io-wq worker threads (async), over a whole ws-bench run
# (3 s), divided by the messages echoed in it; cqe/enter is the completions one loop
# turn handles. wring's echo_server (one reactor) and the raw io_uring echo (bench/peers/
# raw_echo, the limit) run under the same loads:
#   pp      100 connections, 16 B ping-pong (ws-bench; the raw echo under --raw)
#   pipe    the same with 16 messages in flight per connection
#   epoll   100 connections, 16 B, one in flight, the epoll client (--epoll; raw: --raw)
#   k1      100 connections, 1 KiB ping-pong
#   big64k  100 connections, 64 KiB echo
# --raw is ws-bench's epoll client: the raw echo's figures compare with wring's "epoll" row
# like for like; under pp/pipe/k1/big64k the clients differ (io_uring against epoll).
# Needs perf with tracepoint access (root, or kernel.perf_event_paranoid <= -1); as root it
# installs linux-perf if missing. WR_BUILD names the build (default build).
#   bench/ops_count.sh            LOADS="pp epoll" SERVERS="wring raw" pick rows
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
bench=$build/bench/ws-bench/ws-bench
if ! command -v perf >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "ops_count: perf not found: installing linux-perf (apt-get)" >&2
		apt-get install -y -q linux-perf >&2 || true
	fi
	command -v perf >/dev/null || { echo "ops_count: perf not found (apt-get install linux-perf)" >&2; exit 2; }
fi
for x in "$bench" "$build/examples/echo_server" "$build/bench/peers/raw_echo"; do
	[ -x "$x" ] || { echo "ops_count: $x not built (ninja -C $build)" >&2; exit 2; }
done

declare -A largs=(
	[pp]="-c 100 -s 16"
	[pipe]="-c 100 -s 16 --pipeline 16"
	[epoll]="-c 100 -s 16 --epoll"
	[k1]="-c 100 -s 1k"
	[big64k]="-c 100 -s 64k"
)
tmp=$(mktemp -d /tmp/wring-ops.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
	for _ in $(seq 100); do
		python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
events=raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,io_uring:io_uring_submit_req
events=$events,io_uring:io_uring_complete,io_uring:io_uring_poll_arm,io_uring:io_uring_queue_async_work

printf '%-7s %-6s %9s %9s %8s %8s %8s %8s %8s %9s\n' load server msgs/s syscalls enters sqes cqes \
	poll async cqe/enter
for load in ${LOADS:-pp pipe epoll k1 big64k}; do
	for server in ${SERVERS:-wring raw}; do
		port=$(free_port)
		args=${largs[$load]}
		if [ "$server" = wring ]; then
			WR_THREADS=1 "$build/examples/echo_server" "$port" >"$tmp/server.log" 2>&1 &
		else
			"$build/bench/peers/raw_echo" "$port" >"$tmp/server.log" 2>&1 &
			args="${args/ --epoll/} --raw"
		fi
		pid=$!
		pids+=("$pid")
		if ! wait_port "$port"; then
			echo "ops_count: $server did not start: $(tail -n 2 "$tmp/server.log")" >&2
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			pids=()
			continue
		fi
		# perf counts the server's events over the whole ws-bench run (ramp, warm-up, window,
		# drain); they are divided by every echo ws-bench received (received_total). Tracepoints
		# slow the server, so msgs/s here is lower than without perf; the counts per message
		# are what this measures.
		# shellcheck disable=SC2086
		perf stat -x, -e "$events" -p "$pid" -o "$tmp/perf.txt" -- \
			timeout 30 "$bench" -q --json -d 3 -w 0.5 $args "ws://127.0.0.1:$port/ws" \
			>"$tmp/run.json" 2>"$tmp/bench.err" ||
			echo "ops_count: ws-bench $args: $(tail -n 1 "$tmp/bench.err")" >&2
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pids=()
		python3 - "$tmp/run.json" "$tmp/perf.txt" "$load" "$server" <<'PY' || true
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    print(f"{sys.argv[3]:7} {sys.argv[4]:6} (no ws-bench result)"); sys.exit(0)
ev = {}
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if len(f) > 3 and f[0].replace(".", "").isdigit():
        ev[f[2].split(":")[-1]] = float(f[0])
if not ev:
    print(f"{sys.argv[3]:7} {sys.argv[4]:6} (perf counted nothing: {open(sys.argv[2]).read()[:80]!r})"); sys.exit(0)
msgs = j["received_total"] or 1
def per(k): return ev.get(k, 0) / msgs
enters = ev.get("sys_enter_io_uring_enter", 0)
print(f"{sys.argv[3]:7} {sys.argv[4]:6} {j['rate']:9,.0f} {per('sys_enter'):9.3f} "
      f"{per('sys_enter_io_uring_enter'):8.3f} {per('io_uring_submit_req'):8.3f} "
      f"{per('io_uring_complete'):8.3f} {per('io_uring_poll_arm'):8.3f} "
      f"{per('io_uring_queue_async_work'):8.3f} "
      f"{ev.get('io_uring_complete', 0) / enters if enters else 0:9.1f}")
PY
		sleep 0.3
	done
done
echo "per echoed message (all ws-bench received), server side, over the whole run; msgs/s from ws-bench under perf"
