#!/usr/bin/env bash
# permessage-deflate against no deflate, same server, same run: CPU-µs per 1 KiB JSON-like
# message (server utime+stime from /proc / messages, ping-pong), compression ratio, and the
# server's RSS per connection held idle in each mode. Medians of 3.
# Usage: bench/deflate_bench.sh [BUILD_DIR] [MESSAGES] [CONNS]
set -euo pipefail
build=${1:-build}
n=${2:-20000}
conns=${3:-300}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start_server() { # $1: WR_DEFLATE value
	WR_THREADS=1 WR_DEFLATE=$1 "$build/examples/echo_server" 0 >"$tmp/out" 2>&1 &
	spid=$!
	pids+=("$spid")
	for _ in $(seq 100); do grep -q 'port' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
	port=$(grep -o 'port [0-9]*' "$tmp/out" | grep -o '[0-9]*')
}
stop_server() { kill "$spid"; wait "$spid" 2>/dev/null || true; }
median() { sort -n | sed -n 2p; }

start_server 1
url="ws://127.0.0.1:$port/ws"
for mode in plain deflate; do
	for i in 1 2 3; do "$build/bench/deflate_bench" echo "$url" "$spid" "$n" "$mode"; done >"$tmp/$mode"
	cpu=$(awk '{print $2}' "$tmp/$mode" | median)
	ratio=$(awk '{print $4}' "$tmp/$mode" | median)
	echo "echo 1 KiB JSON, $mode: server CPU ${cpu} us/msg, ratio ${ratio}"
done
stop_server

for setting in "1 plain" "1 quiet" "1 deflate" "1 deflate-nct" "shared deflate-nct"; do
	set -- $setting
	for i in 1 2 3; do
		start_server "$1"
		"$build/bench/deflate_bench" idle "ws://127.0.0.1:$port/ws" "$spid" "$conns" "$2"
		stop_server
	done >"$tmp/idle"
	rss=$(awk '{print $2}' "$tmp/idle" | median)
	echo "idle after one message, server WR_DEFLATE=$1, client $2: ${rss} bytes RSS per connection"
done
