#!/usr/bin/env bash
# What metrics cost: examples/echo_server with metrics on (the default) and off
# (WR_METRICS=0), side by side in one run, one reactor each (the other core is ws-bench's).
# ws-bench drives each in turn, RUNS times alternating: C connections x 16 B binary,
# pipelined K deep, 5 s after 1 s of warm-up; the figure is the server's CPU time per message
# (ws-bench --server-pid: utime+stime of the server over the window / messages), which stays
# honest on a shared machine where msgs/s does not. Prints every run, the medians, and the
# ratio on/off of CPU per message (the cost of metrics: ratio - 1).
# Usage: metrics_bench.sh [BUILD] [RUNS] [C] [K]
set -u
b=${1:-build-test}; runs=${2:-7}; c=${3:-50}; k=${4:-4}
for f in "$b/examples/echo_server" "$b/bench/ws-bench/ws-bench"; do
	[ -x "$f" ] || { echo "metrics_bench: $f not built" >&2; exit 2; }
done
WR_THREADS=1 "$b/examples/echo_server" 18090 >/dev/null & on=$!
WR_THREADS=1 WR_METRICS=0 "$b/examples/echo_server" 18091 >/dev/null & off=$!
trap 'kill $on $off 2>/dev/null' EXIT
sleep 0.5
run() { # port pid -> "msgs/s server_ns_per_msg"
	timeout -k 5 60 "$b/bench/ws-bench/ws-bench" -q --json -c "$c" --pipeline "$k" -s 16 -d 5s \
		-w 1s --server-pid "$2" "ws://127.0.0.1:$1/ws" | python3 -c '
import json,sys; j=json.load(sys.stdin)
print(j["rate"], j["cpu"]["server_ns_per"])'
}
ons=(); offs=()
for i in $(seq "$runs"); do
	# alternate which goes first, so that drift in the machine's load falls on both
	if [ $((i % 2)) -eq 1 ]; then
		a=$(run 18090 $on); o=$(run 18091 $off)
	else
		o=$(run 18091 $off); a=$(run 18090 $on)
	fi
	echo "run $i: metrics on: $a   off: $o   (msgs/s, server ns/msg)"
	ons+=("$a"); offs+=("$o")
done
python3 - "$runs" "${ons[@]}" "${offs[@]}" <<'PY'
import sys, statistics as st
n = int(sys.argv[1]); v = [a.split() for a in sys.argv[2:]]
on, off = v[:n], v[n:]
m = lambda rows, i: st.median(float(r[i]) for r in rows)
ratios = [float(a[1]) / float(o[1]) for a, o in zip(on, off)]
print(f"median msgs/s: on {m(on,0):.0f}, off {m(off,0):.0f}")
print(f"median server CPU/msg: on {m(on,1):.0f} ns, off {m(off,1):.0f} ns, "
      f"ratio on/off {m(on,1)/m(off,1):.4f}")
print(f"median of the per-run ratios: {st.median(ratios):.4f} "
      f"(runs: {' '.join(f'{r:.3f}' for r in ratios)})")
PY
