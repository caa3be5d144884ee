#!/usr/bin/env bash
# Large-message echo, before against after in the same run: two builds of examples/echo_server
# (one reactor each) driven by the same ws-bench, runs interleaved, median of RUNS (3) with
# the spread, for msgs/s and the server's CPU time per message (ws-bench --server-pid), and
# the after/before ratio of each. With OPS=1 each run also counts, with perf's io_uring and
# syscall tracepoints on the server, completions (CQEs), submitted requests (SQEs) and system
# calls per message.
#   WR_BEFORE=<build dir of the baseline> [WR_BUILD=build] [RUNS=3] [DUR=4] [OPS=1] \
#     [SCEN="64k:100 64k:1 1m:100 1m:1"] [WR_ENV_AFTER="WR_RECV_BUF=65536"] bench/large_echo.sh
# A scenario is SIZE:CONNECTIONS. WR_ENV_BEFORE / WR_ENV_AFTER: environment for each server
# (e.g. WR_RECV_BUF, to measure receive buffer sizes against each other with one build).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$src/$1" ;; esac; }
after=$(abs "${WR_BUILD:-build}")
before=$(abs "${WR_BEFORE:?WR_BEFORE: the baseline build directory}")
runs=${RUNS:-3} dur=${DUR:-4} ops=${OPS:-0}
scen=${SCEN:-"64k:100 64k:1 1m:100 1m:1"}
bench=$after/bench/ws-bench/ws-bench
for b in "$bench" "$after/examples/echo_server" "$before/examples/echo_server"; do
	[ -x "$b" ] || { echo "large_echo: $b not built" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/wring-large.XXXXXX)
srv=""
cleanup() {
	[ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
	for _ in $(seq 200); do
		python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# one_run NAME BUILD ENV SIZE CONNS: appends "msgs/s server_ns_per [cqe sqe sys]" to tmp/NAME.SIZE.CONNS
one_run() {
	local name=$1 build=$2 env=$3 size=$4 conns=$5 p
	p=$(port)
	env WR_THREADS=1 $env "$build/examples/echo_server" "$p" 67108864 >/dev/null 2>&1 &
	srv=$!
	wait_port "$p" || { echo "large_echo: $name did not start" >&2; exit 1; }
	local perf_pid=""
	if [ "$ops" = 1 ]; then
		perf stat -x, -e io_uring:io_uring_complete,io_uring:io_uring_submit_req,raw_syscalls:sys_enter \
			-p "$srv" -o "$tmp/perf" -- sleep "$(python3 -c "print($dur + 1.2)")" &
		perf_pid=$!
	fi
	timeout $((dur + 30)) "$bench" -q --json -c "$conns" -s "$size" -d "$dur" -w 1 \
		--server-pid "$srv" "ws://127.0.0.1:$p/ws" > "$tmp/out.json" 2>/dev/null || true
	[ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	srv=""
	python3 - "$tmp/out.json" "$tmp/perf" "$ops" >> "$tmp/$name.$size.$conns" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    print("nan nan"); sys.exit()
row = [j.get("rate") or 0, (j["cpu"].get("server_ns_per") or float("nan"))]
if sys.argv[3] == "1":
    # perf counts the whole attach window (warm-up included): per message of all phases
    m = max(j.get("sent_total") or 1, 1)
    got = {}
    for l in open(sys.argv[2]):
        p = l.strip().split(",")
        if len(p) > 3 and p[0].isdigit():
            got[p[2].split(":")[-1]] = int(p[0]) / m
    row += [got.get("io_uring_complete", float("nan")), got.get("io_uring_submit_req", float("nan")),
            got.get("sys_enter", float("nan"))]
print(*row)
EOF
}

for s in $scen; do
	size=${s%%:*} conns=${s##*:}
	for i in $(seq "$runs"); do
		one_run before "$before" "${WR_ENV_BEFORE:-}" "$size" "$conns"
		one_run after "$after" "${WR_ENV_AFTER:-}" "$size" "$conns"
	done
done

python3 - "$tmp" "$scen" "$ops" <<'EOF'
import statistics, sys, os
tmp, scen, ops = sys.argv[1], sys.argv[2].split(), sys.argv[3] == "1"
def rows(name, size, conns):
    return [[float(x) for x in l.split()] for l in open(os.path.join(tmp, f"{name}.{size}.{conns}"))]
def med(vals):
    vals = [v for v in vals if v == v]
    return (statistics.median(vals), min(vals), max(vals)) if vals else (float("nan"),) * 3
hdr = "| load | build | msgs/s median [min-max] | server µs/msg median [min-max] |"
if ops:
    hdr += " CQEs/msg | SQEs/msg | syscalls/msg |"
print(hdr)
print("|" + "---|" * (hdr.count("|") - 1))
for s in scen:
    size, conns = s.split(":")
    res = {}
    for name in ("before", "after"):
        r = rows(name, size, conns)
        res[name] = [med([x[k] for x in r]) for k in range(len(r[0]))]
        m, c = res[name][0], res[name][1]
        line = f"| {size} × {conns} | {name} | {m[0]:,.0f} [{m[1]:,.0f}-{m[2]:,.0f}] | {c[0]/1000:.1f} [{c[1]/1000:.1f}-{c[2]/1000:.1f}] |"
        if ops:
            line += "".join(f" {res[name][k][0]:.2f} |" for k in (2, 3, 4))
        print(line)
    b, a = res["before"], res["after"]
    q = lambda x, y: f"{x/y:.2f}" if y and y == y and x == x else "n/a"
    line = f"| {size} × {conns} | after ÷ before | {q(a[0][0], b[0][0])} | {q(a[1][0], b[1][0])} |"
    if ops:
        line += "".join(f" {q(a[k][0], b[k][0])} |" for k in (2, 3, 4))
    print(line)
EOF
