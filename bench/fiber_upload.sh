#!/usr/bin/env bash
# Uploads to a sequential HTTP route (examples/fiber_upload_server /upload: the body read in
# pieces) against the callback style (/upload-buffered: the body gathered whole), in one run:
# curl sends SIZE MiB, with Content-Length and chunked, three runs each, a fresh one-reactor
# server per run. Prints per run the throughput, the server's CPU time per MiB (utime+stime
# from /proc) and its peak RSS growth (VmHWM minus VmRSS before), then medians and ratios to
# the buffered route. Usage: fiber_upload.sh [BUILD] [SIZE_MIB]
set -u
b=${1:-build-test}; size=${2:-256}
bytes=$((size << 20))
tmp=$(mktemp -d /tmp/wring-upload.XXXXXX)
truncate -s "$bytes" "$tmp/body"       # sparse: reads as zeros, takes no disk
port=18095
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
tick=$(getconf CLK_TCK)

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

one() { # mode -> "MB/s cpu_ms_per_MiB peak_MB"
	WR_THREADS=1 WR_MAX_BODY=$((bytes + 1)) "$b/examples/fiber_upload_server" $port >/dev/null &
	pid=$!
	for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.05; done
	local rss0 c0 t0 t1 c1 hwm out
	rss0=$(kb $pid VmRSS); c0=$(cpu_ticks $pid); t0=$(date +%s.%N)
	case $1 in
	fiber-length)  out=$(curl -sS -T "$tmp/body" -X POST "http://127.0.0.1:$port/upload") ;;
	fiber-chunked) out=$(curl -sS -T - -X POST "http://127.0.0.1:$port/upload" < "$tmp/body") ;;
	buffered)      out=$(curl -sS -T "$tmp/body" -X POST "http://127.0.0.1:$port/upload-buffered") ;;
	esac
	t1=$(date +%s.%N); c1=$(cpu_ticks $pid); hwm=$(kb $pid VmHWM)
	kill $pid; wait $pid 2>/dev/null; pid=
	case $out in "$bytes bytes"*) ;; *) echo "bad answer for $1: $out" >&2; echo "0 0 0"; return ;; esac
	awk -v s="$size" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v tk="$tick" -v h="$hwm" -v r="$rss0" \
		'BEGIN { printf "%.0f %.2f %.1f\n", s * 1.048576 / (t1 - t0), c * 1000 / tk / s, (h - r) / 1024 }'
}

declare -A res
for run in 1 2 3; do
	for m in fiber-length fiber-chunked buffered; do
		r=$(one $m); echo "$m run $run: $r (MB/s, server CPU ms/MiB, peak RSS growth MB)"
		res[$m]+="$r;"
	done
done
python3 - "${res[fiber-length]}" "${res[fiber-chunked]}" "${res[buffered]}" <<'PY'
import sys, statistics as st
names = ["fiber-length", "fiber-chunked", "buffered"]
runs = {n: [list(map(float, r.split())) for r in a.split(";") if r] for n, a in zip(names, sys.argv[1:])}
med = {n: [st.median(r[i] for r in runs[n]) for i in range(3)] for n in names}
base = med["buffered"]
for n in names:
    m = med[n]
    print(f"median {n:14s} {m[0]:6.0f} MB/s ({m[0]/base[0]:.2f}x)  CPU {m[1]:.2f} ms/MiB "
          f"({m[1]/base[1]:.2f}x)  peak RSS +{m[2]:.1f} MB ({m[2]/base[2]:.3f}x)")
PY
