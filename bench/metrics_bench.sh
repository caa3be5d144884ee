#!/usr/bin/env bash
# What metrics cost: examples/echo_server with metrics on (the default) and off (WR_METRICS=0),
# one reactor each, both driven at once by two ws-bench instances with the same load, so that
# whatever else the machine does at that moment falls on both alike: C connections x 16 B
# binary at RATE messages/s each (open loop: both servers see the same traffic and batch
# alike), 5 s after 1 s of warm-up, RUNS times. The figure is each server's CPU time per
# message (ws-bench --server-pid: utime+stime over the window / messages). Prints every run,
# the medians, and the median of the per-run ratios on/off (the cost of metrics is the
# ratio - 1). RATE=0 drives both closed-loop instead (--pipeline 4), as fast as they go.
# Then bench/metrics_cost times the metrics work per message in a loop, and prints it as a
# fraction of the metrics-off server's median CPU per message from the runs above: on a
# shared machine that is the sharper figure, the A/B's run-to-run spread being wider than
# what it looks for.
# With VS=kts the second server is not one with metrics off but one with metrics and kernel
# receive timestamps (WR_KERNEL_TS=1): the ratio is then what timestamps cost (inverted).
# Usage: metrics_bench.sh [BUILD] [RUNS] [C] [RATE]
set -u
b=${1:-build-test}; runs=${2:-7}; c=${3:-50}; rate=${4:-30000}; vs=${VS:-off}
for f in "$b/examples/echo_server" "$b/bench/ws-bench/ws-bench" "$b/bench/metrics_cost"; do
	[ -x "$f" ] || { echo "metrics_bench: $f not built" >&2; exit 2; }
done
WR_THREADS=1 "$b/examples/echo_server" 18090 >/dev/null & on=$!
if [ "$vs" = kts ]; then
	WR_THREADS=1 WR_KERNEL_TS=1 "$b/examples/echo_server" 18091 >/dev/null & off=$!
else
	WR_THREADS=1 WR_METRICS=0 "$b/examples/echo_server" 18091 >/dev/null & off=$!
fi
tmp=$(mktemp -d /tmp/metrics_bench.XXXXXX)
trap 'kill $on $off 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
if [ "$rate" -gt 0 ]; then load=(--rate "$rate"); else load=(--pipeline 4); fi
run() { # port pid out: "msgs/s server_ns_per_msg" into out
	timeout -k 5 60 "$b/bench/ws-bench/ws-bench" -q --json -c "$c" "${load[@]}" -s 16 -d 5s \
		-w 1s --server-pid "$2" "ws://127.0.0.1:$1/ws" 2>/dev/null | python3 -c '
import json,sys; j=json.load(sys.stdin)
print(j["rate"], j["cpu"]["server_ns_per"])' >"$3"
}
ons=(); offs=()
for i in $(seq "$runs"); do
	run 18090 $on "$tmp/on" & a=$!
	run 18091 $off "$tmp/off"
	wait $a
	echo "run $i: metrics on: $(cat "$tmp/on")   $vs: $(cat "$tmp/off")   (msgs/s, server ns/msg)"
	ons+=("$(cat "$tmp/on")"); offs+=("$(cat "$tmp/off")")
done
python3 - "$vs" "$runs" "${ons[@]}" "${offs[@]}" <<'PY'
import sys, statistics as st
vs = sys.argv[1]; n = int(sys.argv[2]); v = [a.split() for a in sys.argv[3:]]
on, off = v[:n], v[n:]
m = lambda rows, i: st.median(float(r[i]) for r in rows)
ratios = [float(a[1]) / float(o[1]) for a, o in zip(on, off)]
print(f"median msgs/s: on {m(on,0):.0f}, {vs} {m(off,0):.0f}")
print(f"median server CPU/msg: on {m(on,1):.0f} ns, {vs} {m(off,1):.0f} ns")
print(f"ratio on/{vs} of CPU/msg, median of {n} runs: {st.median(ratios):.4f} "
      f"(runs: {' '.join(f'{r:.3f}' for r in ratios)})")
PY
[ "$vs" = off ] || exit 0
off_ns=$(printf '%s\n' "${offs[@]}" | python3 -c 'import sys,statistics as st; print(st.median(float(l.split()[1]) for l in sys.stdin))')
"$b/bench/metrics_cost" "$off_ns"
