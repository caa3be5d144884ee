#!/usr/bin/env bash
# ws-bench tells the truth: the messages it says it sent are the ones a counting server saw
# (within 2%), it spends less CPU per message than the server, and it fails loudly (non-zero
# exit, a clear message) on a refused port, a non-101 answer and a bad URL.
. "$(dirname "$0")/lib.sh"

BENCH=$WR_BUILD/bench/ws-bench/ws-bench
COUNT=$WR_BUILD/bench/peers/count_server
HELLO=$WR_BUILD/examples/hello
for f in "$BENCH" "$COUNT" "$HELLO"; do
	if [ ! -x "$f" ]; then echo "1..0 # SKIP $f not built"; exit 0; fi
done

# --- counts agree ---
port=$(free_port)
# the server as deployed: one reactor per CPU (ws-bench runs one thread)
start count "$COUNT" "$port"
srv=$LAST_PID
wait_port "$port"
"$BENCH" -q -c 50 -d 3 -w 1 --json --server-pid "$srv" "ws://127.0.0.1:$port/ws" \
	>"$WR_TMP/run.json" 2>"$WR_TMP/run.err"
rc=$?
stop "$srv"
server_count=$(sed -n 's/^messages //p' "$WR_TMP/count.log")

check "ws-bench ran cleanly against count_server (exit $rc)" test "$rc" -eq 0
check "count_server reported its count" test -n "$server_count"

# compare KEY OP...: evaluates a Python expression over the JSON report `j` and the server's
# count `n`; prints the figures when it fails.
judge() {
	local what=$1
	$PY - "$WR_TMP/run.json" "${server_count:-0}" "$what" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); n = int(sys.argv[2]); what = sys.argv[3]
sent, recv = j["sent_total"], j["received_total"]
cpu = j["cpu"]
if what == "total":
    ok = sent > 0 and abs(n - sent) <= 0.02 * sent
    print(f"server counted {n}, ws-bench sent {sent}, echoed {recv}")
elif what == "rate":
    # the rate is messages in the window over the window: it cannot exceed what the server saw
    # per second over the whole run by more than 2%
    ok = j["rate"] > 0 and j["messages"] <= recv and abs(j["messages"] / j["window_s"] - j["rate"]) <= 0.02 * j["rate"] \
        and j["rate"] * j["window_s"] <= n * 1.02
    print(f"rate {j['rate']:.0f}/s over {j['window_s']} s; messages {j['messages']}; server {n}")
elif what == "cpu":
    ok = cpu["self_ns_per"] is not None and cpu["server_ns_per"] is not None \
        and cpu["self_ns_per"] < cpu["server_ns_per"]
    print(f"ws-bench {cpu['self_ns_per']} ns/msg, server {cpu['server_ns_per']} ns/msg")
else:
    ok = j["errors"]["total"] == 0 and sent == recv
    print(j["errors"])
sys.exit(0 if ok else 1)
PY
}
check "server count within 2% of messages ws-bench sent" judge total
check "reported rate consistent with window and server count" judge rate
check "no errors, every message echoed" judge errors
check "ws-bench CPU per message below the server's" judge cpu

# --- failures are loud ---
dead=$(free_port)
refused() {
	"$BENCH" -q -c 2 -d 1 -w 0 "ws://127.0.0.1:$dead/ws" >"$WR_TMP/refused.out" 2>&1
	local rc=$?
	cat "$WR_TMP/refused.out"
	[ "$rc" -ne 0 ] && grep -qi "refused" "$WR_TMP/refused.out"
}
check "refused port: non-zero exit naming the refusal" refused

hport=$(free_port)
start hello "$HELLO" "$hport"
wait_port "$hport"
non101() {
	"$BENCH" -q -c 2 -d 1 -w 0 "ws://127.0.0.1:$hport/" >"$WR_TMP/non101.out" 2>&1
	local rc=$?
	cat "$WR_TMP/non101.out"
	[ "$rc" -ne 0 ] && grep -q "HTTP 200" "$WR_TMP/non101.out"
}
check "HTTP answer without 101: non-zero exit printing the status" non101
stop "$LAST_PID"

badurl() {
	local out rc
	out=$("$BENCH" -q -d 1 "$1" 2>&1)
	rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] && grep -q "$2" <<<"$out"
}
check "bad URL (http scheme) refused" badurl "http://127.0.0.1:$dead/" "bad URL"
check "bad URL (no host) refused" badurl "ws:///path" "bad URL"
check "bad URL (port out of range) refused" badurl "ws://127.0.0.1:70000/" "bad URL"

# wss://: a self-signed server is refused without its CA, and benchmarked with it.
if [ -x "$WR_BUILD/examples/wss_echo_server" ]; then
	bash "$WR_SRC/examples/make-cert.sh" "$WR_TMP" >/dev/null 2>&1
	tport=$(free_port)
	start wss_server "$WR_BUILD/examples/wss_echo_server" "$tport" "$WR_TMP/cert.pem" "$WR_TMP/key.pem"
	tpid=$LAST_PID
	wait_port "$tport"
	check "wss:// without the CA: certificate rejected, non-zero exit" \
		badurl "wss://127.0.0.1:$tport/ws" "certificate rejected"
	wss_ok() {
		local out
		out=$("$BENCH" -q -c 4 -d 1 -w 0 --ca "$WR_TMP/cert.pem" "wss://127.0.0.1:$tport/ws" 2>&1) || { echo "$out"; return 1; }
		echo "$out"
		grep -qE 'errors +0' <<<"$out" && ! grep -qE 'messages +0 ' <<<"$out"
	}
	check "wss:// with the CA: echoes verified, no errors" wss_ok
	stop "$tpid"
else
	ok "wss:// checks # SKIP built without TLS"
fi

tap_end
