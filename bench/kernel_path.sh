#!/usr/bin/env bash
# Issue 16's kernel-path decision, re-runnable: each io_uring feature as a switch of the raw
# io_uring echo (bench/peers/raw_echo), against the same echo without it, under the same
# ws-bench --raw loads, in one run. If a feature does not make the raw echo cheaper in server
# CPU per message, or faster, it cannot help wring either (wring does the raw echo's kernel
# work plus its own), so only a feature that wins here is worth building into the core.
#   base   the raw echo as bench/compare runs it
#   F      registered (direct) descriptors: accept direct, FIXED_FILE receives and sends
#   R      a plain send from a registered buffer (IORING_RECVSEND_FIXED_BUF): kernels that
#          refuse it (6.18 does: EINVAL) get "refused" in the table
#   Z, z   SEND_ZC from a registered buffer / from plain memory (the buffer back at the notif)
#   B      receive bundles; S send bundles; BS both
#   b4k, b4kB  4 KiB receive buffers without and with receive bundles (a 1 KiB or 64 KiB
#          message then spans buffers: where a bundle saves completions); b16k, b16kB the
#          same with wring's buffer size. A bNkB variant's ratios are to bNk, the rest to base.
# Loads (100 connections, ws-bench --raw, the epoll client): pp 16 B ping-pong, pipe 16 B
# pipelined 16 deep, k1 1 KiB, b64k 64 KiB (and, by name only, k12, k16, k32: 12, 16 and
# 32 KiB, sizes wring receives without its direct receive). Each variant runs each load RUNS times (default
# 3), variants alternating within a round so that drifting load falls on all; a fresh server
# per run. Printed per load and variant: median msgs/s and server CPU per message (ws-bench
# --server-pid: utime+stime from /proc over the window ÷ messages), and both as ratios to
# base (cpu/msg below 1 and msgs/s above 1 are gains); with perf available (root, or
# perf_event_paranoid <= -1), also CQEs and system calls per message from one more run.
#   bench/kernel_path.sh     WR_BUILD=build-dev RUNS=3 DUR=3 LOADS="pp k1" VARIANTS="base F B"
# Every server is stopped by its PID; every run is bounded (-d DUR, 30 s at most).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
runs=${RUNS:-3} dur=${DUR:-3}
bench=$build/bench/ws-bench/ws-bench
raw=$build/bench/peers/raw_echo
for x in "$bench" "$raw"; do
	[ -x "$x" ] || { echo "kernel_path: $x not built (ninja -C $build)" >&2; exit 2; }
done
# wring's echo_server (one reactor) under the same loads through ws-bench --epoll (the client
# --raw is), without and with what was built into it: wB is receive bundles (WR_RECV_BUNDLES=1),
# its ratios to w.
declare -A wenv=([w]="WR_RECV_BUNDLES=0" [wB]="WR_RECV_BUNDLES=1")
declare -A vflags=([base]="" [F]="-F" [R]="-R" [Z]="-Z" [z]="-z" [B]="-B" [S]="-S" [BS]="-B -S"
                   [b4k]="-b 4096" [b4kB]="-b 4096 -B" [b16k]="-b 16384" [b16kB]="-b 16384 -B")
declare -A largs=([pp]="-c 100 -s 16" [pipe]="-c 100 -s 16 --pipeline 16" [k1]="-c 100 -s 1k"
                  [b64k]="-c 100 -s 64k" [k12]="-c 100 -s 12k" [k16]="-c 100 -s 16k"
                  [k32]="-c 100 -s 32k")
read -r -a variants <<<"${VARIANTS:-base F R Z z B S BS b4k b4kB w wB}"
read -r -a loads <<<"${LOADS:-pp pipe k1 b64k}"
perf_ok=0
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
	perf_ok=1
fi

tmp=$(mktemp -d /tmp/wring-kpath.XXXXXX)
spid=''
cleanup() {
	[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null || true
	[ -n "$spid" ] && wait "$spid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start VARIANT -> sets spid and port; returns 1 when the server refused to start
start() {
	port=$(free_port)
	if [ -n "${wenv[$1]:-}" ]; then
		# shellcheck disable=SC2086
		env ${wenv[$1]} WR_THREADS=1 "$build/examples/echo_server" "$port" >"$tmp/server.log" 2>&1 &
	else
		# shellcheck disable=SC2086
		"$raw" ${vflags[$1]} "$port" >"$tmp/server.log" 2>&1 &
	fi
	spid=$!
	for _ in $(seq 100); do
		grep -q -i listening "$tmp/server.log" 2>/dev/null && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$spid" 2>/dev/null || true
	spid=''
	return 1
}
client() { if [ -n "${wenv[$1]:-}" ]; then echo --epoll --binary; else echo --raw; fi; }
stop_server() {
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	spid=''
}

echo "kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg), $runs runs of ${dur} s per cell" >&2
for l in "${loads[@]}"; do
	for r in $(seq "$runs"); do
		for v in "${variants[@]}"; do
			printf '\r%-5s %-5s run %d   ' "$l" "$v" "$r" >&2
			if ! start "$v"; then
				tail -n 1 "$tmp/server.log" >"$tmp/$l.$v.refused"
				continue
			fi
			# shellcheck disable=SC2086
			timeout 30 "$bench" -q --json -d "$dur" -w 0.5 $(client "$v") --server-pid "$spid" ${largs[$l]} \
				"ws://127.0.0.1:$port/ws" >"$tmp/$l.$v.$r.json" 2>"$tmp/$l.$v.$r.err" || true
			stop_server
			sleep 0.2
		done
	done
	if [ $perf_ok = 1 ]; then # one more run each, counted: the counts do not depend on the load
		for v in "${variants[@]}"; do
			[ -f "$tmp/$l.$v.refused" ] && continue
			printf '\r%-5s %-5s counted   ' "$l" "$v" >&2
			start "$v" || continue
			# shellcheck disable=SC2086
			perf stat -x, -e raw_syscalls:sys_enter,io_uring:io_uring_complete -p "$spid" \
				-o "$tmp/$l.$v.perf" -- timeout 30 "$bench" -q --json -d 2 -w 0.3 $(client "$v") ${largs[$l]} \
				"ws://127.0.0.1:$port/ws" >"$tmp/$l.$v.pjson" 2>/dev/null || true
			stop_server
		done
	fi
done
echo >&2
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$tmp" "$runs" "${variants[*]}" "${loads[*]}" <<'PY'
import json, os, statistics as st, sys
tmp, runs, variants, loads = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
def cell(l, v):
    rates, cpus, errs = [], [], 0
    for r in range(1, runs + 1):
        try: j = json.load(open(f"{tmp}/{l}.{v}.{r}.json"))
        except Exception: continue
        errs += j["errors"]["total"]
        rates.append(j["rate"]); cpus.append(j["cpu"]["server_ns_per"])
    if not rates: return None
    return st.median(rates), min(rates), max(rates), st.median(cpus), min(cpus), max(cpus), errs
def counts(l, v):
    try:
        j = json.load(open(f"{tmp}/{l}.{v}.pjson")); ev = {}
        for line in open(f"{tmp}/{l}.{v}.perf"):
            f = line.strip().split(",")
            if len(f) > 3 and f[0].replace(".", "").isdigit(): ev[f[2].split(":")[-1]] = float(f[0])
        n = j["received_total"] or 1
        return ev.get("sys_enter", 0) / n, ev.get("io_uring_complete", 0) / n
    except Exception:
        return None
print(f"{'load':5} {'variant':7} {'msgs/s median [min-max]':>30} {'cpu ns/msg [min-max]':>24}"
      f" {'msgs/s÷base':>11} {'cpu÷base':>8} {'syscalls/msg':>12} {'cqes/msg':>8}")
for l in loads:
    for v in variants:
        rv = v[:-1] if (v.startswith("b") or v == "wB") and v.endswith("B") else "base"
        base = cell(l, rv)
        ref = f"{tmp}/{l}.{v}.refused"
        if os.path.exists(ref):
            print(f"{l:5} {v:7} refused: {open(ref).read().strip()}"); continue
        c = cell(l, v)
        if not c:
            print(f"{l:5} {v:7} (no result)"); continue
        rr = f"{c[0] / base[0]:11.2f}" if base and base[0] else f"{'-':>11}"
        cr = f"{c[3] / base[3]:8.2f}" if base and base[3] else f"{'-':>8}"
        k = counts(l, v)
        ks = f"{k[0]:12.3f} {k[1]:8.3f}" if k else f"{'-':>12} {'-':>8}"
        err = f"  ERRORS {c[6]}" if c[6] else ""
        print(f"{l:5} {v:7} {c[0]:>12,.0f} [{c[1]:,.0f}-{c[2]:,.0f}] {c[3]:>8,.0f} [{c[4]:,.0f}-{c[5]:,.0f}]"
              f" {rr} {cr} {ks}{err}")
print("base: the raw echo as bench/compare runs it; F direct descriptors; R plain send from a registered")
print("buffer; Z/z SEND_ZC registered/plain; B receive bundles; S send bundles; b4k 4 KiB buffers (b4kB")
print("with receive bundles, its ratios to b4k; b16k, b16kB the same at 16 KiB). ratio < 1 in cpu÷base,")
print("> 1 in msgs/s÷base: a gain. w: wring's echo_server under --epoll (its ratio to base: wring ÷ the")
print("raw echo), wB: the same with receive bundles, its ratios to w.")
PY
