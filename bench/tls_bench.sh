#!/usr/bin/env bash
# wss:// against ws:// in one run: the same echo server code, one reactor each, without and
# with TLS (examples/echo_server and examples/wss_echo_server), driven by the same ws-bench
# runs: 16 B ping-pong over 100 connections, 16 KiB and 64 KiB messages over 4 connections.
# Each row: msgs/s and the server's CPU time per message (ws-bench --server-pid: the honest
# figure when ws-bench shares the cores), and MB/s for 64 KiB; median of RUNS (3) runs each,
# with wss/ws ratios. WR_BUILD: build dir (default build); WR_TLS_ASM passes through to both
# ends (none: wolfSSL without its assembly).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/tls_common.sh" tls_bench
ws_port=$(free_port)
WR_THREADS=1 "$build/examples/echo_server" "$ws_port" >/dev/null 2>&1 &
ws_pid=$!; pids+=("$ws_pid")
wss_port=$(free_port)
WR_THREADS=1 "$build/examples/wss_echo_server" "$wss_port" "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/wss.out" 2>&1 &
wss_pid=$!; pids+=("$wss_pid")
wait_port "$ws_port" && wait_port "$wss_port"

# run URL PID ARGS... -> "msgs/s MB/s server-ns-per-message" of one ws-bench run
run() {
	local url=$1 pid=$2; shift 2
	ca_for "$url"
	"$bench" -q --json "${ca_opt[@]}" --server-pid "$pid" "$@" "$url" 2>"$tmp/err" >"$tmp/out.json" || true
	got_json "$tmp/out.json"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["rate"], j["mb_per_s"], j["cpu"]["server_ns_per"] or 0, j["cpu"]["self_ns_per"] or 0)' "$tmp/out.json"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { local k=$1; shift; printf '%s\n' "$@" | awk -v k="$k" '{print $k}' | median; }

grep '^TLS:' "$tmp/wss.out" || true
printf '%-26s %12s %12s %7s %14s %14s %7s\n' "scenario" "ws msgs/s" "wss msgs/s" "ratio" \
	"ws srv ns/msg" "wss srv ns/msg" "ratio"
for sc in "16 B ping-pong, 100 conns|-c 100 -s 16 -d 3 -w 0.5" \
          "16 KiB ping-pong, 4 conns|-c 4 -s 16k -d 3 -w 0.5" \
          "64 KiB ping-pong, 4 conns|-c 4 -s 64k -d 3 -w 0.5"; do
	name=${sc%%|*}; args=${sc#*|}
	a=(); b=()
	for _ in $(seq "$runs"); do
		# shellcheck disable=SC2086
		a+=("$(run "ws://127.0.0.1:$ws_port/ws" "$ws_pid" $args)")
		# shellcheck disable=SC2086
		b+=("$(run "wss://127.0.0.1:$wss_port/ws" "$wss_pid" $args)")
	done
	ra=$(col 1 "${a[@]}"); rb=$(col 1 "${b[@]}")
	ma=$(col 2 "${a[@]}"); mb=$(col 2 "${b[@]}")
	ca=$(col 3 "${a[@]}"); cb=$(col 3 "${b[@]}")
	printf '%-26s %12.0f %12.0f %7.2f %14.0f %14.0f %7.2f\n' "$name" "$ra" "$rb" \
		"$(python3 -c "print($rb/$ra if $ra else 0)")" "$ca" "$cb" "$(python3 -c "print($cb/$ca if $ca else 0)")"
	case $name in 64*) printf '%-26s %12.1f %12.1f %7.2f   (MB/s each way)\n' "" "$ma" "$mb" \
		"$(python3 -c "print($mb/$ma if $ma else 0)")"
		ws64_srv=$ca ws64_cli=$(col 4 "${a[@]}") ;; esac
done
# The ceiling TLS leaves at 64 KiB on these cores: each echo is 4 full records each way, and
# each side pays wolfSSL's in-memory cost of a 16 KiB record pair (decrypt one, encrypt one;
# bench/tls_records) on top of its ws cost. With both ends sharing the cores, wss/ws cannot
# pass (ws CPU per message) / (ws CPU per message + that cost), taken for the busier side
# (one ws-bench thread against one reactor) and for the two together (ws-bench -t 2).
if [ -x "$build/bench/tls_records" ]; then
	sp=() cp=()
	for _ in $(seq "$runs"); do
		out=$("$build/bench/tls_records" 20000 16384 "$tmp/cert.pem" "$tmp/key.pem" 2>&1)
		sp+=("$(awk '$1 == "server" {print $2}' <<<"$out")")
		cp+=("$(awk '$1 == "client" {print $2}' <<<"$out")")
	done
	spair=$(printf '%s\n' "${sp[@]}" | median); cpair=$(printf '%s\n' "${cp[@]}" | median)
	python3 - "$ws64_srv" "$ws64_cli" "$spair" "$cpair" <<'PY'
import sys
ws_s, ws_c, sp, cp = map(float, sys.argv[1:])
busy = max(ws_s, ws_c) / max(ws_s + 4 * sp, ws_c + 4 * cp)
total = (ws_s + ws_c) / (ws_s + ws_c + 4 * (sp + cp))
print(f"{'64 KiB TLS ceiling':26s} wolfSSL per 16 KiB record pair: server {sp/1000:.1f} us, client {cp/1000:.1f} us "
      f"(bench/tls_records); ws CPU per message: server {ws_s/1000:.1f} us, ws-bench {ws_c/1000:.1f} us")
print(f"{'':26s} -> wss/ws at most {busy:.2f} (busier side) / {total:.2f} (both sides on 2 cores)")
PY
fi
# Memory: IDLE (1000) connections held open, the server's RSS growth per connection. Each run
# uses a fresh server, so that one run's freed memory does not hide the next run's growth.
idle=${IDLE:-1000}
idle_run() { # ws|wss -> bytes per connection
	local kind=$1 port pid
	port=$(free_port)
	if [ "$kind" = ws ]; then
		WR_THREADS=1 "$build/examples/echo_server" "$port" >/dev/null 2>&1 &
	else
		WR_THREADS=1 "$build/examples/wss_echo_server" "$port" "$tmp/cert.pem" "$tmp/key.pem" >/dev/null 2>&1 &
	fi
	pid=$!
	wait_port "$port"
	ca_for "$kind:"
	"$bench" -q --json "${ca_opt[@]}" --server-pid "$pid" --idle -c "$idle" -d 2 -w 0 \
		"$kind://127.0.0.1:$port/ws" 2>"$tmp/err" >"$tmp/idle.json" || true
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	got_json "$tmp/idle.json"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["server_rss"]["bytes_per_conn"] or 0)' "$tmp/idle.json"
}
a=(); b=()
for _ in $(seq "$runs"); do a+=("$(idle_run ws)"); b+=("$(idle_run wss)"); done
ia=$(printf '%s\n' "${a[@]}" | median); ib=$(printf '%s\n' "${b[@]}" | median)
printf '%-26s %12.0f %12.0f   (server RSS bytes per connection; wss - ws = %.0f)\n' \
	"$idle idle connections" "$ia" "$ib" "$(python3 -c "print($ib-$ia)")"
echo "(median of $runs runs each, each figure's median taken on its own; one reactor per server;"
echo " ws-bench on the same machine; srv ns/msg = server CPU time (user+sys) per echoed message)"
