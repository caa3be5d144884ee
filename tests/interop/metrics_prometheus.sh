#!/usr/bin/env bash
# Metrics against the real thing: examples/echo_server's GET /metrics checked by `promtool
# check metrics` (idle, then after traffic), and scraped by a Prometheus server (Debian
# `prometheus`, on loopback, every second) while ws-bench drives the echo server. Prometheus'
# HTTP API then must say: the target is up, wring_messages_received_total (text and binary)
# equals what ws-bench sent, histogram_quantile over wring_handler_seconds gives a value, and
# the README's other queries (messages/s, cut-offs per minute) answer.
. "$(dirname "$0")/lib.sh"
ECHO=$WR_BUILD/examples/echo_server
BENCH=$WR_BUILD/bench/ws-bench/ws-bench
for f in "$ECHO" "$BENCH"; do
	if [ ! -x "$f" ]; then echo "1..0 # SKIP $f not built"; exit 0; fi
done
need_pkg prometheus curl
T=$WR_TMP

# wait_log NAME TEXT [seconds]
wait_log() {
	for _ in $(seq $((${3:-10} * 20))); do
		grep -q -- "$2" "$T/$1.log" 2>/dev/null && return 0
		sleep 0.05
	done
	sed 's/^/# /' "$T/$1.log" >&2
	return 1
}

PORT=$(free_port)
WR_THREADS=2 start echo "$ECHO" "$PORT"
EPID=$LAST_PID
wait_log echo "Listening on port" || { not_ok "echo_server started"; tap_end; exit 1; }

curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/idle.txt"
check "promtool accepts /metrics of an idle server" promtool check metrics <"$T/idle.txt"

# Prometheus on loopback, scraping every second.
PPORT=$(free_port)
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: wring
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$PORT']
YML
start prometheus prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn
PPID_=$LAST_PID
wait_port "$PPORT" 20 || { not_ok "prometheus listens"; tap_end; exit 1; }

# q PROMQL: the API's answer (JSON) in $T/q.json; 0 when it answered "success".
q() {
	curl -sf --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/query" \
		--data-urlencode "query=$1" >"$T/q.json" && grep -q '"status":"success"' "$T/q.json"
}
# value PROMQL: the first result's value, or nothing.
value() {
	q "$1" || return 1
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["result"]; print(r[0]["value"][1] if r else "")' "$T/q.json"
}

# The target up (bounded: a scrape a second).
up=""
for _ in $(seq 40); do
	up=$(value 'up{job="wring"}') && [ "$up" = "1" ] && break
	sleep 0.25
done
check "prometheus: the echo server target is up" test "$up" = "1"

# Load, bounded in count and time: 4 connections for 3 s.
timeout -k 5 60 "$BENCH" -q -c 4 -d 3 -w 0.5 --json "ws://127.0.0.1:$PORT/ws" >"$T/bench.json" 2>"$T/bench.err"
BRC=$?
check "ws-bench ran clean" test "$BRC" -eq 0
SENT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent_total"])' "$T/bench.json" 2>/dev/null)
echo "# ws-bench sent $SENT messages"

# Prometheus sees the count once it scraped after the run ended (a scrape a second).
got=""
for _ in $(seq 40); do
	got=$(value 'sum(wring_messages_received_total{type=~"text|binary"})')
	[ -n "$SENT" ] && [ "$got" = "$SENT" ] && break
	sleep 0.25
done
check "prometheus: wring_messages_received_total = ws-bench's sent count ($got = $SENT)" \
	test -n "$SENT" -a "$got" = "$SENT" -a "${SENT:-0}" -gt 0

curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/busy.txt"
check "promtool accepts /metrics after traffic" promtool check metrics <"$T/busy.txt"

# A number, finite and positive.
positive() { $PY -c 'import math,sys; v=float(sys.argv[1]); sys.exit(0 if math.isfinite(v) and v > 0 else 1)' "$1" 2>/dev/null; }
p99=$(value 'histogram_quantile(0.99, sum by (le) (rate(wring_handler_seconds_bucket[30s])))')
echo "# p99 handler time: $p99 s"
check "prometheus: histogram_quantile over wring_handler_seconds returns a value ($p99)" positive "$p99"
mps=$(value 'sum(rate(wring_messages_received_total{type=~"text|binary"}[30s]))')
echo "# messages/s over 30 s: $mps"
check "prometheus: the README's messages/s query answers ($mps)" positive "$mps"
cut=$(value 'sum(increase(wring_backpressure_cutoffs_total[1m]))')
check "prometheus: the README's cut-offs per minute query answers ($cut, none expected)" \
	test "$cut" = "0"

stop "$PPID_"
stop "$EPID"
ERC=$?
check "echo_server stops cleanly on SIGTERM (exit $ERC)" test "$ERC" -eq 0
tap_end
