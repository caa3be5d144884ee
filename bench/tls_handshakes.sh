#!/usr/bin/env bash
# TLS handshakes per second: ws-bench --connect-rate over wss:// (connect, TLS, upgrade, close,
# again, on -c 20 slots) against wring's examples/wss_echo_server and libwebsockets (OpenSSL)
# in bench/peers/lws_echo, one process each on one core's worth of threads, in the same run.
# Full handshakes, then resumed ones (--resume: each connection offers the ticket of the last
# one). Each row: handshakes/s and the server's CPU time per handshake (the honest figure when
# ws-bench shares the cores), median of RUNS (3) runs of 3 s. WR_BUILD: build dir (default build).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/tls_common.sh" tls_handshakes
lws=$build/bench/peers/lws_echo
wr_port=$(free_port)
WR_THREADS=1 "$build/examples/wss_echo_server" "$wr_port" "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/wr.out" 2>&1 &
wr_pid=$!; pids+=("$wr_pid")
servers=("wring (wolfSSL)|$wr_port|$wr_pid")
if [ -x "$lws" ]; then
	lws_port=$(free_port)
	"$lws" "$lws_port" "$tmp/cert.pem" "$tmp/key.pem" >/dev/null 2>&1 &
	lws_pid=$!; pids+=("$lws_pid")
	servers+=("libwebsockets (OpenSSL)|$lws_port|$lws_pid")
fi
for s in "${servers[@]}"; do IFS='|' read -r _ port _ <<<"$s"; wait_port "$port"; done

run() { # url pid args... -> "handshakes/s server-us-per-handshake resumed-fraction"
	local url=$1 pid=$2; shift 2
	"$bench" -q --json --ca "$tmp/cert.pem" --server-pid "$pid" --connect-rate "$@" "$url" 2>"$tmp/err" >"$tmp/out.json" || true
	got_json "$tmp/out.json"
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); h=j["handshakes"] or 1; print(j["handshakes_per_s"], (j["cpu"]["server_ns_per"] or 0)/1000, j.get("resumed", 0)/h)' "$tmp/out.json"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { local k=$1; shift; printf '%s\n' "$@" | awk -v k="$k" '{print $k}' | median; }

grep '^TLS:' "$tmp/wr.out" || true
printf '%-26s %-8s %14s %18s %9s\n' "server" "kind" "handshakes/s" "server CPU/hs (us)" "resumed"
for s in "${servers[@]}"; do
	IFS='|' read -r name port pid <<<"$s"
	for kind in full resumed; do
		extra=(-c 20 -d 3 -w 0.5)
		[ "$kind" = resumed ] && extra+=(--resume)
		r=()
		for _ in $(seq "$runs"); do r+=("$(run "wss://127.0.0.1:$port/ws" "$pid" "${extra[@]}")"); done
		printf '%-26s %-8s %14.0f %18.0f %8.0f%%\n' "$name" "$kind" "$(col 1 "${r[@]}")" \
			"$(col 2 "${r[@]}")" "$(python3 -c "print(100*$(col 3 "${r[@]}"))")"
	done
done
echo "(median of $runs runs of 3 s, 20 connects in flight; ws-bench (wolfSSL client) on the same machine)"
