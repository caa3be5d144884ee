#!/usr/bin/env bash
# What a loop turn costs, and how many messages share it: wring's echo server (one reactor)
# under ws-bench ping-pong with 1, 4 and 100 connections (one message in flight each) and the
# issue-16 loads (16 B pipelined 8 deep, 1 KiB and 64 KiB with 100 connections). Per load,
# medians of RUNS runs (default 3) of:
#   msgs/turn   messages echoed ÷ loop turns (wring_loop_turn_seconds_count, /metrics)
#   enter/msg   io_uring_enter calls ÷ messages (perf, tracepoint syscalls:sys_enter_io_uring_enter)
#   cpu/msg     server task-clock ÷ messages (perf: finer than /proc's 10 ms ticks)
#   msgs/s      ws-bench's rate (noisy when other work shares the cores)
# Given a second build (BASE=dir), both servers run the same loads in turn, the same
# ws-bench (from WR_BUILD) driving both, and each figure gets its ratio new ÷ base.
# BASE_ENV="VAR=value ..." runs the base with those variables set (the same build as new when
# BASE is not given), e.g. BASE_ENV=WR_SETTLE_US=off WR_SETTLE_US=1000 for the settling wait.
#   bench/turn_cost.sh [RUNS]      WR_BUILD=build-dev BASE=/path/to/other/build
# Every server is stopped by its PID; every run is bounded (-d 3 s, 30 s at most).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
runs=${1:-3}
bench=$build/bench/ws-bench/ws-bench
[ -x "$bench" ] || { echo "turn_cost: $bench not built" >&2; exit 2; }
command -v perf >/dev/null || { echo "turn_cost: needs perf (linux-perf)" >&2; exit 2; }
builds=(new); declare -A server=([new]=$build/examples/echo_server)
if [ -n "${BASE:-}" ]; then builds=(base new); server[base]=$BASE/examples/echo_server; fi
if [ -n "${BASE_ENV:-}" ] && [ -z "${BASE:-}" ]; then builds=(base new); server[base]=${server[new]}; fi
declare -A senv=([new]="" [base]="${BASE_ENV:-}")

tmp=$(mktemp -d /tmp/wring-turn.XXXXXX)
spid='' ppid=''
cleanup() {
	[ -n "$ppid" ] && kill -INT "$ppid" 2>/dev/null || true
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
turns() { curl -s "127.0.0.1:$1/metrics" | awk '/^wring_loop_turn_seconds_count/ { s += $2 } END { print s + 0 }'; }

loads=("pp1|-c 1 -s 16" "pp4|-c 4 -s 16" "pp100|-c 100 -s 16" "pipe8|-c 100 -s 16 --pipeline 8"
       "1k|-c 100 -s 1k" "64k|-c 100 -s 64k")
one_run() { # build, load args -> "msgs_per_turn enter_per_msg cpu_ns_per_msg rate"
	local port; port=$(free_port)
	# shellcheck disable=SC2086
	env WR_THREADS=1 ${senv[$1]} "${server[$1]}" "$port" >"$tmp/server.log" 2>&1 &
	spid=$!
	for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
	local t0; t0=$(turns "$port")
	perf stat -x, -e task-clock,syscalls:sys_enter_io_uring_enter -p "$spid" -o "$tmp/perf.txt" &
	ppid=$!
	# shellcheck disable=SC2086
	timeout 30 "$bench" -q --json -d 3 -w 0.5 $2 "ws://127.0.0.1:$port/ws" >"$tmp/run.json" 2>/dev/null || true
	kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true; ppid=''
	local t1; t1=$(turns "$port")
	kill -TERM "$spid"; wait "$spid" 2>/dev/null || true; spid=''
	python3 - "$tmp/run.json" "$tmp/perf.txt" "$((t1 - t0))" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
tc = en = 0.0
for l in open(sys.argv[2]):
    f = l.split(',')
    if 'task-clock' in l: tc = float(f[0]) * 1e6
    if 'io_uring_enter' in l: en = float(f[0])
n = max(j['received_total'], 1)
print(f"{n / max(int(sys.argv[3]), 1):.2f} {en / n:.3f} {tc / n:.0f} {j['rate']:.0f}")
PY
}

printf '%-6s %-5s %10s %10s %10s %10s\n' load build msgs/turn enter/msg cpu_ns/msg msgs/s
for l in "${loads[@]}"; do
	name=${l%%|*} args=${l#*|}
	for b in "${builds[@]}"; do : >"$tmp/$b"; done
	for _ in $(seq "$runs"); do
		for b in "${builds[@]}"; do one_run "$b" "$args" >>"$tmp/$b"; done
	done
	for b in "${builds[@]}"; do
		python3 - "$name" "$b" "$tmp/$b" "$tmp/base" <<'PY'
import statistics as st, sys, os
def med(path):
    rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
    return [st.median(c) for c in zip(*rows)]
m = med(sys.argv[3])
out = f"{sys.argv[1]:<6} {sys.argv[2]:<5} {m[0]:10.2f} {m[1]:10.3f} {m[2]:10.0f} {m[3]:10.0f}"
if sys.argv[2] == 'new' and os.path.exists(sys.argv[4]) and os.path.getsize(sys.argv[4]):
    b = med(sys.argv[4])
    out += "   ratio new/base: " + " ".join(f"{x / y:.2f}" if y else "-" for x, y in zip(m, b))
print(out)
PY
	done
done
