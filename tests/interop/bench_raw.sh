#!/usr/bin/env bash
# The limit row's tools: the raw io_uring echo (bench/peers/raw_echo) echoes every byte in
# order on many connections, large and pipelined, with one and two threads, and exits 0 on
# SIGTERM with connections open; ws-bench --raw and --epoll (the epoll client) run clean
# against it and against count_server (every message counted by the server, --rate held),
# and fail loudly when the echo is wrong, the upgrade is refused or the options make no sense.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bench_lib.sh"
RAW=$WR_BUILD/bench/peers/raw_echo
for f in "$BENCH" "$COUNT" "$RAW"; do
	if [ ! -x "$f" ]; then echo "1..0 # SKIP $f not built"; exit 0; fi
done
T=$WR_TMP

# A client that checks the echo byte for byte: N connections, sizes from 1 B to 3 MiB, each
# sent whole (in a thread) while the echo is read back, then a burst of 200 small writes.
cat >"$T/echo_check.py" <<'PY'
import os, socket, sys, threading
port, nconn = int(sys.argv[1]), int(sys.argv[2])
ss = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(nconn)]
def roundtrip(s, d):
    t = threading.Thread(target=s.sendall, args=(d,)); t.start()
    got = bytearray()
    while len(got) < len(d):
        b = s.recv(1 << 20)
        if not b: raise SystemExit("closed by the server")
        got += b
    t.join()
    if bytes(got) != d: raise SystemExit(f"echo of {len(d)} bytes differs")
total = 0
for n in (1, 16, 1000, 65536, 65537, 200000, 3 << 20):
    for s in ss:
        roundtrip(s, os.urandom(n)); total += n
for s in ss:  # many small sends back to back: the echo keeps their order
    parts = [os.urandom(1 + i % 50) for i in range(200)]
    for p in parts: s.sendall(p)
    want = b"".join(parts); got = bytearray()
    while len(got) < len(want): got += s.recv(65536)
    if bytes(got) != want: raise SystemExit("pipelined small writes came back out of order")
    total += len(want)
print("echoed", total, "bytes on", nconn, "connections")
PY

for th in 1 2; do
	PORT=$(free_port)
	start raw$th "$RAW" -t $th "$PORT"
	RPID=$LAST_PID
	wait_log raw$th "Listening on port"
	check "raw_echo -t $th: 1 B to 3 MiB and 200 pipelined writes echoed byte for byte on 8 connections" \
		timeout 60 "$PY" "$T/echo_check.py" "$PORT" 8
	# connections left open while it is stopped
	"$PY" -c "import socket,time; ss=[socket.create_connection(('127.0.0.1',$PORT)) for _ in range(20)]; time.sleep(30)" &
	HOLD=$!
	WR_PIDS+=("$HOLD")
	sleep 0.5
	t0=$(date +%s%N)
	stop "$RPID"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "raw_echo -t $th: SIGTERM with 20 connections open: exit 0 within 2 s (rc $rc, $ms ms)" \
		test "$rc" -eq 0 -a "$ms" -lt 2000
	stop "$HOLD"
done

# The kernel-path switches (bench/kernel_path.sh measures them): each one echoes every byte
# in order, large and pipelined, on one thread and on two, and exits 0 on SIGTERM. A switch
# this kernel does not have is refused at start-up, with the reason, and nothing listens:
# -R (a copying send from a registered buffer) is refused by 6.18; the bundles need 6.10.
bundles=0
case $(uname -r) in [0-5].*|6.[0-9].*) ;; *) bundles=1 ;; esac
for sw in "-F" "-Z" "-z" "-B" "-S" "-B -S" "-b 4096 -B -S -F" "-t 2 -F -B -S -Z"; do
	PORT=$(free_port)
	# shellcheck disable=SC2086
	start "raw_sw" "$RAW" $sw "$PORT"
	RPID=$LAST_PID
	if [ $bundles = 0 ] && [[ $sw == *[BS]* ]]; then
		sleep 1
		check "raw_echo $sw: refused at start-up on a kernel without bundles ($(uname -r))" \
			grep -q "no send/receive bundles" "$WR_TMP/raw_sw.log"
		stop "$RPID"
		continue
	fi
	wait_log raw_sw "Listening on port"
	check "raw_echo $sw: 1 B to 3 MiB and 200 pipelined writes echoed byte for byte on 8 connections" \
		timeout 60 "$PY" "$T/echo_check.py" "$PORT" 8
	bench rawsw -q --json -d 1 -w 0.2 --raw -c 20 -s 16 --pipeline 4 "ws://127.0.0.1:$PORT/ws"
	check "raw_echo $sw: ws-bench --raw pipelined: clean run, every message back" judge '
ok = j["errors"]["total"] == 0 and j["sent_total"] == j["received_total"] > 0
print(j["sent_total"], j["received_total"], j["errors"])' j="$T/rawsw.json"
	stop "$RPID"
	rc=$?
	check "raw_echo $sw: SIGTERM: exit 0 (rc $rc)" test "$rc" -eq 0
done
PORT=$(free_port)
start raw_r "$RAW" -R "$PORT"
RPID=$LAST_PID
for _ in $(seq 40); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$RPID" 2>/dev/null; then # a kernel that takes it: it echoes like the rest
	wait_log raw_r "Listening on port"
	check "raw_echo -R: accepted by this kernel, echoes byte for byte" \
		timeout 60 "$PY" "$T/echo_check.py" "$PORT" 4
	stop "$RPID"
else
	stop "$RPID"
	rc=$?
	check "raw_echo -R: refused at start-up with the reason (exit $rc)" \
		sh -c "test $rc -eq 1 && grep -q -- '-R: a send from a registered buffer' '$WR_TMP/raw_r.log'"
fi

PORT=$(free_port)
start raw "$RAW" "$PORT"
RPID=$LAST_PID
wait_log raw "Listening on port"
for args in "-c 20 -s 16" "-c 20 -s 16 --pipeline 8" "-c 4 -s 64k" "-c 2 -s 1m"; do
	bench rawrun -q --json -d 1 -w 0.3 --raw --server-pid "$RPID" $args "ws://127.0.0.1:$PORT/ws"
	check "ws-bench --raw $args: clean run" exits 0
	check "ws-bench --raw $args: every message sent came back, counted, with the server's CPU" judge '
ok = j["errors"]["total"] == 0 and j["sent_total"] == j["received_total"] > 0 and \
    0 < j["latency_ns"]["count"] <= j["messages"] and j["cpu"]["server_ns_per"]
print(j["sent_total"], j["received_total"], j["messages"], j["cpu"])' j="$T/rawrun.json"
done
check "raw_echo: still running after the loads" kill -0 "$RPID"
stop "$RPID"

# A TCP echo that corrupts one byte of every 1000th kilobyte: ws-bench --raw must see it.
cat >"$T/bad_echo.py" <<'PY'
import socket, sys, threading
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(64)
print("Listening on port", sys.argv[1], flush=True)
def serve(c):
    n = 0
    while True:
        b = c.recv(65536)
        if not b: return
        b = bytearray(b)
        for i in range(len(b)):
            n += 1
            if n % 1000 == 0: b[i] ^= 0x20
        c.sendall(b)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PORT=$(free_port)
start bad "$PY" "$T/bad_echo.py" "$PORT"
BPID=$LAST_PID
wait_log bad "Listening on port"
bench badrun -q --json -d 1 -w 0.2 --raw -c 2 -s 100 "ws://127.0.0.1:$PORT/ws"
check "ws-bench --raw against an echo that flips a byte: exit 1" exits 1
check "ws-bench --raw against an echo that flips a byte: counted as mismatches" judge '
e = j["errors"]
ok = e["mismatches"] >= 1 and "differs" in e["first"]
print(e)' j="$T/badrun.json"
stop "$BPID"

# --epoll against count_server: the server counts what arrived.
server ep
bench ep -q --json -d 1.5 -w 0.3 --epoll -c 10 --pipeline 4 -s 100 "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "ws-bench --epoll --pipeline 4: clean run" exits 0
check "ws-bench --epoll: the server counted every message sent, each echoed" judge '
ok = j["errors"]["total"] == 0 and j["sent_total"] == s["messages"] == j["received_total"] > 0 \
    and s["opens"] == 10
print("sent", j["sent_total"], "server", s["messages"], "echoed", j["received_total"], "opens", s["opens"])' \
	j="$T/ep.json" s="$T/ep.stats.json"

server eprate
bench eprate -q --json -d 3 -w 0.5 --epoll -c 4 --rate 2000 --text -s 64 "ws://127.0.0.1:$PORT/ws"
stop "$SPID"
check "ws-bench --epoll --rate 2000 --text: clean run" exits 0
check "ws-bench --epoll --rate 2000: the server received 2000 +- 2% in each whole second" judge '
w0 = j["window_start_unix"]; w1 = w0 + j["window_s"]
secs = list(range(math.ceil(w0), math.floor(w1)))
got = [s["per_second"].get(str(t), 0) for t in secs]
ok = len(secs) >= 2 and all(abs(g - 2000) <= 40 for g in got) and j["type"] == "text"
print("server, per second:", dict(zip(secs, got)))' j="$T/eprate.json" s="$T/eprate.stats.json"

# --epoll against something that does not upgrade: no connection, exit 2, the reason given.
PORT=$(free_port)
start refuse "$PY" -c "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', $PORT)); l.listen(8); print('Listening on port', $PORT, flush=True)
while True:
    c, _ = l.accept(); c.recv(4096)
    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); c.close()"
FPID=$LAST_PID
wait_log refuse "Listening on port"
bench refused -q --json -d 1 -w 0 --epoll -c 2 "ws://127.0.0.1:$PORT/ws"
check "ws-bench --epoll against an HTTP 200 answer: exit 2" exits 2
check "ws-bench --epoll against an HTTP 200 answer: says the upgrade failed" \
	grep -q "no valid 101 answer" "$T/refused.err"
stop "$FPID"

for bad in "--raw --idle" "--epoll --connect-rate" "--raw -s 16-64" "--epoll --deflate" \
	"--raw --rate 100 --no-echo"; do
	# shellcheck disable=SC2086
	bench usage -q $bad "ws://127.0.0.1:9/ws"
	check "ws-bench $bad: refused as bad usage (exit 2)" exits 2
done
bench usage -q --raw "wss://127.0.0.1:9/ws"
check "ws-bench --raw wss://: refused as bad usage (exit 2)" exits 2

tap_end
