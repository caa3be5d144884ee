#!/usr/bin/env bash
# wss:// against ws:// in one run: the same echo server code, one reactor each, without and
# with TLS (examples/echo_server and examples/wss_echo_server), driven by the same ws-bench
# runs: 16 B ping-pong over 100 connections (msgs/s) and 64 KiB messages over 4 connections
# (MB/s). Median of 3 runs each, printed as wss/ws ratios. WR_BUILD: build dir (default build).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
runs=${RUNS:-3}
bench=$build/bench/ws-bench/ws-bench
[ -x "$build/examples/wss_echo_server" ] || { echo "tls_bench: TLS examples not built" >&2; exit 2; }
tmp=$(mktemp -d /tmp/wring-tls.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
bash "$src/examples/make-cert.sh" "$tmp" >/dev/null 2>&1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 200); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ws_port=$(free_port)
WR_THREADS=1 "$build/examples/echo_server" "$ws_port" >/dev/null 2>&1 &
ws_pid=$!; pids+=("$ws_pid")
wss_port=$(free_port)
WR_THREADS=1 "$build/examples/wss_echo_server" "$wss_port" "$tmp/cert.pem" "$tmp/key.pem" >/dev/null 2>&1 &
wss_pid=$!; pids+=("$wss_pid")
wait_port "$ws_port" && wait_port "$wss_port"

# run URL PID FIELD ARGS... -> the figure (rate: msgs/s; mb_per_s: MB/s)
run() {
	local url=$1 pid=$2 field=$3; shift 3
	"$bench" -q --json --ca "$tmp/cert.pem" --server-pid "$pid" "$@" "$url" 2>/dev/null >"$tmp/out.json" || true
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/out.json" "$field"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-28s %14s %14s %8s\n' "scenario" "ws://" "wss://" "wss/ws"
for sc in "16 B ping-pong, 100 conns|rate|-c 100 -s 16 -d 3 -w 0.5" \
          "64 KiB, 4 conns|mb_per_s|-c 4 -s 64k -d 3 -w 0.5"; do
	name=${sc%%|*}; rest=${sc#*|}; field=${rest%%|*}; args=${rest#*|}
	a=(); b=()
	for _ in $(seq "$runs"); do
		# shellcheck disable=SC2086
		a+=("$(run "ws://127.0.0.1:$ws_port/ws" "$ws_pid" "$field" $args | cut -d' ' -f1)")
		# shellcheck disable=SC2086
		b+=("$(run "wss://127.0.0.1:$wss_port/ws" "$wss_pid" "$field" $args | cut -d' ' -f1)")
	done
	ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
	printf '%-28s %14.1f %14.1f %8.2f\n' "$name" "$ma" "$mb" "$(python3 -c "print($mb/$ma)")"
done
echo "(median of $runs runs each; one reactor per server; ws-bench on the same machine)"
