#!/usr/bin/env bash
# Callback echo against fiber echo, in one run: ws-bench, C connections x 16 B binary, three
# runs each alternating, one reactor per server (the other core is ws-bench's); prints each
# run's msgs/s and server CPU per message, then the medians and the ratio. Then the server RSS
# per idle fiber connection at IDLE connections. Usage: fiber_echo_compare.sh [BUILD] [C] [IDLE]
set -u
b=${1:-build-test}; c=${2:-100}; idle=${3:-10000}
ulimit -n 65536 2>/dev/null || true
WR_THREADS=1 "$b/examples/echo_server" 18080 >/dev/null & cb=$!
WR_THREADS=1 "$b/examples/fiber_echo_server" 18081 >/dev/null & fb=$!
trap 'kill $cb $fb 2>/dev/null' EXIT
sleep 0.5
run() { # port pid -> "msgs/s cpu_ns"
	"$b/bench/ws-bench/ws-bench" -q --json -c "$c" -s 16 -d 5s -w 1s --server-pid "$2" \
		"ws://127.0.0.1:$1/ws" | python3 -c '
import json,sys; j=json.load(sys.stdin)
def find(d,k):
    if isinstance(d,dict):
        for kk,v in d.items():
            if kk==k: return v
            r=find(v,k)
            if r is not None: return r
    return None
print(find(j,"rate"), find(j,"server_ns_per"))'
}
cbs=(); fbs=()
for i in 1 2 3; do
	r=$(run 18080 $cb); echo "callback run $i: $r"; cbs+=("$r")
	r=$(run 18081 $fb); echo "fiber    run $i: $r"; fbs+=("$r")
done
python3 - "${cbs[@]}" "${fbs[@]}" <<'PY'
import sys, statistics as st
v=[a.split() for a in sys.argv[1:]]
cb, fb = v[:3], v[3:]
m = lambda rows, i: st.median(float(r[i]) for r in rows)
print(f"median msgs/s: callback {m(cb,0):.0f}, fiber {m(fb,0):.0f}, ratio {m(fb,0)/m(cb,0):.3f}")
try: print(f"median server CPU/msg (ns): callback {m(cb,1):.0f}, fiber {m(fb,1):.0f}")
except Exception: pass
PY
"$b/bench/ws-bench/ws-bench" -q --idle -c "$idle" --ramp 256 -d 5s --server-pid $fb "ws://127.0.0.1:18081/ws" 2>&1 | grep -i -E "rss|per conn|connections"
