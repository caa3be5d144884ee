#!/usr/bin/env bash
# ws-bench's scenario options, each checked against count_server: handshake headers,
# subprotocol and Origin as the server saw them; mutual TLS and SNI; payload from a file or a
# template; size distributions; text or binary; --open-rate and --reconnect; --bind over
# several source addresses; IPv6; --no-echo (latency from a timestamp the server copies back);
# --start-at for agents together; --out and `ws-bench merge`, which must equal one run over
# the combined data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bench_lib.sh"
for f in "$BENCH" "$COUNT"; do
	if [ ! -x "$f" ]; then echo "1..0 # SKIP $f not built"; exit 0; fi
done
T=$WR_TMP

# --- handshake: -H (twice), --subprotocol, --origin ---
server hs --protocol chat.v2
bench hs -q -c 2 -d 0.5 -w 0 --json -H 'Authorization: Bearer t0k3n' -H 'X-Tenant: blue' \
	--subprotocol chat.v1,chat.v2 --origin https://app.example "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "handshake options: clean run" exits 0
check "handshake options: the server saw both headers, the Origin, the offer and the Host" judge "port = $PORT"'
h = s["headers"]
want = ["Authorization: Bearer t0k3n", "X-Tenant: blue", "Origin: https://app.example",
        "Sec-WebSocket-Protocol: chat.v1, chat.v2", "Host: 127.0.0.1:%d" % port]
ok = all(w + "\n" in h for w in want)
print(h)' s="$T/hs.stats.json"
check "handshake options: the chosen subprotocol is reported" judge '
ok = j["protocol"] == "chat.v2" == s["protocol"]
print(j["protocol"], s["protocol"])' j="$T/hs.json" s="$T/hs.stats.json"
bench badh -q -d 0.5 -H 'no colon here' "ws://127.0.0.1:$PORT/ws"
check "-H without a colon: refused as bad usage (exit 2)" exits 2

# --- mutual TLS and SNI ---
if [ -x "$WR_BUILD/examples/wss_echo_server" ] && command -v openssl >/dev/null; then
	bash "$WR_SRC/examples/make-cert.sh" "$T/srv" >/dev/null 2>&1
	bash "$WR_SRC/examples/make-cert.sh" "$T/cli" >/dev/null 2>&1
	server mtls --tls "$T/srv/cert.pem" "$T/srv/key.pem" --client-ca "$T/cli/cert.pem"
	bench mtls_no -q -c 2 -d 0.5 -w 0 --ca "$T/srv/cert.pem" "wss://127.0.0.1:$PORT/ws"
	check "mutual TLS: without a client certificate, refused (exit 2)" exits 2
	bench mtls -q -c 2 -d 1 -w 0 --json --ca "$T/srv/cert.pem" --cert "$T/cli/cert.pem" \
		--key "$T/cli/key.pem" "wss://127.0.0.1:$PORT/ws"
	stop "$SPID"
	check "mutual TLS: with --cert/--key, a clean run" exits 0
	check "mutual TLS: the server counted every message sent" judge '
ok = s["messages"] == j["sent_total"] > 0 and s["opens"] == 2
print(s["messages"], j["sent_total"], s["opens"])' j="$T/mtls.json" s="$T/mtls.stats.json"

	# a certificate for bench.test only: reached by address, it verifies only with --sni
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
		-addext basicConstraints=critical,CA:TRUE -keyout "$T/sni.key" -out "$T/sni.pem" 2>/dev/null
	server sni --tls "$T/sni.pem" "$T/sni.key"
	bench sni_no -q -c 1 -d 0.5 -w 0 --ca "$T/sni.pem" "wss://127.0.0.1:$PORT/ws"
	check "SNI: the address alone does not match the certificate (exit 2)" exits 2
	bench sni -q -c 2 -d 0.5 -w 0 --json --ca "$T/sni.pem" --sni bench.test "wss://127.0.0.1:$PORT/ws"
	stop "$SPID"
	check "SNI: --sni bench.test verifies, a clean run" exits 0
	bench sni_ws -q -d 0.5 --sni x "ws://127.0.0.1:$PORT/ws"
	check "--sni with ws:// is bad usage (exit 2)" exits 2
else
	ok "mutual TLS and SNI # SKIP built without TLS or no openssl"
fi

# --- payload from a file: sent as is, echoes compared with it ---
printf '{"op":"quote","symbol":"WRNG","qty":100,"side":"buy"}' >"$T/payload.json"
server pay
bench pay -q -c 2 -d 1 -w 0 --json --text --payload "$T/payload.json" "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--payload: clean run" exits 0
check "--payload: the server got the file's bytes as text messages, every one timed" judge '
n = s["messages"]
ok = n == j["sent_total"] > 0 and s["bytes"] == n * 53 and s["text"] == n and \
    j["latency_ns"]["count"] > 0 and j["type"] == "text" and j["payload"] == "file"
print(n, s["bytes"], s["text"], j["latency_ns"]["count"])' j="$T/pay.json" s="$T/pay.stats.json"
server cut --reply head:10
bench cut -q -c 1 -d 0.5 -w 0 --json --payload "$T/payload.json" "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--payload: a server that does not echo it whole is reported (mismatches, exit 1)" judge '
ok = j["errors"]["mismatches"] > 0 and "differs" in j["errors"]["first"]
print(j["errors"])' j="$T/cut.json"

# --- template: {seq} and {ts} filled per message ---
printf '{"ts":{ts},"seq":{seq},"room":"bench","text":"hello"}' >"$T/tpl.txt"
server tpl
bench tpl -q -c 2 -d 1 -w 0 --json --template "$T/tpl.txt" "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--template: clean run (echoes checked field by field)" exits 0
check "--template: text messages, each with its own fields, timed by their {ts}" judge '
n = s["messages"]
ok = n == j["sent_total"] > 0 and s["text"] == n and j["latency_ns"]["count"] > 0 and \
    j["latency_ns"]["p50"] < 1e9 and j["type"] == "text" and s["bytes"] > n * 60
print(n, s["bytes"], j["latency_ns"])' j="$T/tpl.json" s="$T/tpl.stats.json"
printf '{"a":{seq}{ts}}' >"$T/tpl_bad.txt"
bench tplbad -q -d 0.5 --template "$T/tpl_bad.txt" "ws://127.0.0.1:$PORT/ws"
check "--template: two fields side by side are refused (exit 2)" exits 2

# --- sizes: a uniform range, and a file of sizes; binary ---
server range
bench range -q -c 2 -d 1 -w 0 --json -s 100-2000 "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "-s 100-2000: clean run" exits 0
check "-s 100-2000: binary messages averaging 1050 +- 10% bytes" judge '
n = s["messages"]; mean = s["bytes"] / n
ok = n == j["sent_total"] > 200 and s["text"] == 0 and abs(mean - 1050) <= 105 and j["size_spec"] == "100-2000"
print(n, "messages, mean", mean)' j="$T/range.json" s="$T/range.stats.json"
printf '# sizes seen in production\n64\n4k\n\n' >"$T/sizes.txt"
server sizes
bench sizes -q -c 2 -d 1 -w 0 --json --text -s "@$T/sizes.txt" "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "-s @FILE: clean run" exits 0
check "-s @FILE: every text message 64 or 4096 bytes, both drawn" judge '
n, b = s["messages"], s["bytes"]
big = (b - 64 * n) / (4096 - 64)
ok = n == j["sent_total"] > 100 and s["text"] == n and big == int(big) and 0.3 * n < big < 0.7 * n
print(n, "messages,", big, "of 4096 bytes")' j="$T/sizes.json" s="$T/sizes.stats.json"

# --- connections: opened at a rate, held at N ---
server open
bench open -q --idle -c 20 --open-rate 20 -d 0.5 -w 0 --json "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--open-rate 20: clean run" exits 0
check "--open-rate 20: 20 connections opened over ~0.95 s, as the server saw them" judge '
span = (s["last_open_ns"] - s["first_open_ns"]) / 1e9
ok = j["open_at_end"] == 20 == s["opens"] and 0.8 <= j["ramp_s"] <= 1.3 and 0.8 <= span <= 1.3 and \
    max(s["opens_per_second"].values()) <= 22
print("ramp", j["ramp_s"], "server span", span, s["opens_per_second"])' j="$T/open.json" s="$T/open.stats.json"
server rot --close-every 3
bench rot -q --idle --reconnect -c 9 -d 1 -w 0 --json "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--reconnect: clean run (the server's clean closes are not errors)" exits 0
check "--reconnect: every close reopened, 9 held at the end" judge '
ok = j["open_at_end"] == 9 and j["reconnects"] >= 4 and j["opens"] == s["opens"] == 9 + j["reconnects"] and \
    j["reconnects"] == s["opens"] // 3
print(j["open_at_end"], j["reconnects"], j["opens"], s["opens"])' j="$T/rot.json" s="$T/rot.stats.json"
server rot2 --close-every 3
bench rot2 -q --idle -c 9 -d 0.5 -w 0 --json "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "without --reconnect: the server's closes are errors (exit 1)" judge '
ok = j["errors"]["closes"] == 3 and j["open_at_end"] == 6
print(j["errors"], j["open_at_end"])' j="$T/rot2.json"

# --- --bind: connections spread over source addresses (checked in /proc/net/tcp) ---
server bind
start bindrun "$BENCH" -q --idle -c 6 --bind 127.0.0.2,127.0.0.3 -d 2 -w 0 --json "ws://127.0.0.1:$PORT/ws"
bpid=$LAST_PID
sources() {
	"$PY" - "$PORT" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def seen():
    got = {}
    for l in open("/proc/net/tcp").read().splitlines()[1:]:
        f = l.split()
        la, lp = f[1].split(":"); ra, rp = f[2].split(":")
        if f[3] == "01" and int(rp, 16) == port:  # established, to the server
            a = socket.inet_ntoa(struct.pack("<I", int(la, 16)))
            got[a] = got.get(a, 0) + 1
    return got
for _ in range(30):
    got = seen()
    if sum(got.values()) == 6:
        break
    time.sleep(0.05)
print(got)
sys.exit(0 if got == {"127.0.0.2": 3, "127.0.0.3": 3} else 1)
PY
}
check "--bind 127.0.0.2,127.0.0.3: three connections from each" sources
wait "$bpid"; brc=$?
check "--bind: clean run" test "$brc" -eq 0
stop "$SPID"
bench bindbad -q -c 1 -d 0.5 --bind 192.0.2.1 "ws://127.0.0.1:$PORT/ws"
check "--bind to an address this machine lacks: no connection (exit 2)" exits 2

# --- IPv6 ---
if "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	server v6 --host ::1
	bench v6 -q -c 2 -d 1 -w 0 --json --bind ::1 "ws://[::1]:$PORT/ws"
	stop "$SPID"
	check "IPv6 ws://[::1]: clean run" exits 0
	check "IPv6: the server counted every message sent" judge '
ok = s["messages"] == j["sent_total"] > 0 and s["opens"] == 2 and "[::1]" in s["headers"]
print(s["messages"], j["sent_total"])' j="$T/v6.json" s="$T/v6.stats.json"
else
	ok "IPv6 # SKIP no ::1 here"
fi

# --- --no-echo: replies that copy the timestamp back ---
server head --reply head:16
bench head -q -c 2 --rate 1000 --no-echo -d 2 -w 0.5 --json "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--no-echo: clean run" exits 0
check "--no-echo: every reply counted and timed by the 16-byte header it copied back" judge '
ok = j["received_total"] == s["replies"] == s["messages"] == j["sent_total"] and \
    abs(j["sent_rate"] - 1000) <= 20 and j["no_timestamp"] == 0 and \
    j["latency_ns"]["count"] >= 0.95 * j["messages"] and j["latency_ns"]["p50"] < 50e6
print(j["received_total"], s["replies"], j["sent_total"], j["latency_ns"])' j="$T/head.json" s="$T/head.stats.json"
server quiet --reply none
bench quiet -q -c 2 --rate 500 --no-echo -d 1 -w 0 --json "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--no-echo: a server that answers nothing: sends counted, no error" judge '
ok = j["errors"]["total"] == 0 and j["received_total"] == 0 and j["sent_total"] == s["messages"] > 400
print(j["sent_total"], s["messages"])' j="$T/quiet.json" s="$T/quiet.stats.json"
# {ts} first, so a server that copies the first 25 bytes copies '{"ts":' and the timestamp
server tplts --reply head:25
bench tplts -q -c 2 --rate 500 --no-echo -d 1 -w 0 --json --template "$T/tpl.txt" \
	"ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "--no-echo --template: replies timed by the {ts} they carry back" judge '
ok = j["received_total"] == s["replies"] > 400 and j["latency_ns"]["count"] >= 0.95 * j["messages"] and \
    j["no_timestamp"] == 0
print(j["received_total"], j["latency_ns"])' j="$T/tplts.json" s="$T/tplts.stats.json"

# --- --start-at: two agents start together; --out and merge add them up ---
server agents
at=$(( $(date +%s) + 2 ))
start agentA "$BENCH" -q -c 2 -d 1 -w 0 --start-at "$at" --out "$T/A.json" "ws://127.0.0.1:$PORT/ws"
apid=$LAST_PID
start agentB "$BENCH" -q -c 3 -d 1 -w 0 --start-at "$at" --out "$T/B.json" "ws://127.0.0.1:$PORT/ws"
bpid=$LAST_PID
wait "$apid"; arc=$?
wait "$bpid"; brc=$?
stop "$SPID"
check "--start-at: both agents ran cleanly" test "$arc$brc" = 00
check "--start-at: both started at the given second, together; no message before it" judge "at = $at"'
ok = at <= A["start_unix"] < at + 0.05 and at <= B["start_unix"] < at + 0.05 and \
    abs(A["start_unix"] - B["start_unix"]) < 0.02 and s["first_msg_ns"] >= at * 1e9
print(at, A["start_unix"], B["start_unix"], s["first_msg_ns"] / 1e9)' A="$T/A.json" B="$T/B.json" s="$T/agents.stats.json"
bench merged merge --json "$T/A.json" "$T/B.json"
"$BENCH" merge --json --out "$T/AB.json" "$T/A.json" "$T/B.json" >/dev/null 2>&1
check "merge: counts added, the server agrees, histograms added bucket by bucket" judge '
ok = M["agents"] == 2 and M["connections"] == 5 and M["messages"] == A["messages"] + B["messages"] and \
    M["sent_total"] == A["sent_total"] + B["sent_total"] == s["messages"] and \
    M["latency_ns"]["count"] == A["latency_ns"]["count"] + B["latency_ns"]["count"] and \
    M["latency_ns"]["max"] == max(A["latency_ns"]["max"], B["latency_ns"]["max"])
buckets = {}
for h in (A, B):
    for i, c in h["histogram"]["buckets"]:
        buckets[i] = buckets.get(i, 0) + c
ok = ok and sorted(buckets.items()) == sorted(map(tuple, AB["histogram"]["buckets"]))
ok = ok and all(m["messages"] == a["messages"] + b["messages"] for m, a, b in zip(M["series"], A["series"], B["series"]))
print(M["messages"], A["messages"], B["messages"], M["sent_total"], s["messages"])' \
	M="$T/merged.json" A="$T/A.json" B="$T/B.json" AB="$T/AB.json" s="$T/agents.stats.json"

# Known data: run A 1000 latencies of 1.000..1.999 ms, run B 10 of 100.00..100.09 ms, and C the
# same 1010 as one run. merge A B must report exactly what C reports; averaging the runs'
# percentiles instead would put p99.9 near 50 ms.
"$PY" - "$T" <<'PY'
import json, sys
def idx(v, sub=11):  # wsb.h: the slot of value v
    top = v.bit_length() - 1 if v else 0
    b = top - (sub - 1) if top >= sub else 0
    return (b << (sub - 1)) + (v >> b)
def run(values, name):
    buckets, sec = {}, {}
    for v in values:
        buckets[idx(v)] = buckets.get(idx(v), 0) + 1
        sec[idx(v, 6)] = sec.get(idx(v, 6), 0) + 1
    n = len(values)
    j = {"format": 1, "agents": 1, "url": "ws://known/", "mode": "ping-pong", "threads": 1,
         "connections": 1, "size": 16, "size_spec": "16", "max_size": 16, "type": "binary",
         "payload": "generated", "pipeline": 1, "rate_target": 0, "no_echo": False,
         "duration_s": 1, "warmup_s": 0, "window_s": 1, "start_unix": 1e9, "window_start_unix": 1e9,
         "messages": n, "bytes": 16 * n, "sent": n, "sent_total": n, "received_total": n,
         "behind": 0, "no_timestamp": 0, "opens": 1, "open_at_end": 1, "reconnects": 0,
         "handshakes": 0, "ramp_s": 0, "protocol": "",
         "errors": {"mismatches": 0, "closes": 0, "connect_failures": 0, "http_refused": 0,
                    "unanswered": 0, "first": "", "first_code": 0},
         "cpu": {"self_s": 0.5, "server_s": None}, "client": {"threads": []},
         "server_rss": {"before_kb": None, "after_kb": None},
         "series": [{"t": 0, "messages": n, "sent": n, "bytes": 16 * n, "errors": 0, "timed": n,
                     "hist": sorted(sec.items())}],
         "histogram": {"sub_bits": 11, "max_bits": 38, "series_sub_bits": 6, "count": n,
                       "min": min(values), "max": max(values), "sum": float(sum(values)),
                       "sum_sq": float(sum(v * v for v in values)), "buckets": sorted(buckets.items())}}
    json.dump(j, open(f"{sys.argv[1]}/{name}.json", "w"))
a = [1000000 + 1000 * i for i in range(1000)]
b = [100000000 + 10000 * i for i in range(10)]
run(a, "kA"); run(b, "kB"); run(a + b, "kC")
PY
"$BENCH" merge --json "$T/kA.json" "$T/kB.json" >"$T/kAB.json" 2>/dev/null
"$BENCH" merge --json "$T/kC.json" >"$T/kC1.json" 2>/dev/null
check "merge: two runs merged = one run over the combined data (known latencies)" judge '
keys = ["count", "min", "p50", "p90", "p99", "p99_9", "p99_99", "max"]
ok = all(M["latency_ns"][k] == C["latency_ns"][k] for k in keys) and \
    abs(M["latency_ns"]["mean"] - C["latency_ns"]["mean"]) < 1 and \
    M["series"][0]["p50_ns"] == C["series"][0]["p50_ns"] and M["series"][0]["p99_ns"] == C["series"][0]["p99_ns"] and \
    M["messages"] == 1010 and M["latency_ns"]["p99_9"] >= 100e6 and abs(M["latency_ns"]["p50"] - 1505000) < 2000
print("merged", M["latency_ns"]); print("one run", C["latency_ns"])' M="$T/kAB.json" C="$T/kC1.json"
bench badmerge merge --json "$T/payload.json"
check "merge: a file that is no --out report is refused (exit 2)" exits 2

tap_end
