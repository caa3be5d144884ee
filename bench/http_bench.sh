#!/usr/bin/env bash
# wrk against examples/hello with 1 and 2 reactors (WR_THREADS), on loopback: requests/s and
# latency percentiles, the median of 3 runs each (by requests/s). Builds nothing: WR_BUILD
# names the build directory (default build).
#   bench/http_bench.sh [duration-seconds (default 5)]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
dur=${1:-5}
hello=$build/examples/hello
[ -x "$hello" ] || { echo "http_bench: $hello not built" >&2; exit 2; }
command -v wrk >/dev/null || { echo "http_bench: wrk not installed (apt-get install wrk)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/wring-http.XXXXXX)
server=
cleanup() {
	[ -n "$server" ] && { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT

printf '%-10s %12s %10s %10s %10s %10s   %s\n' reactors "requests/s" p50 p90 p99 max "spread (req/s)"
for threads in 1 2; do
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	WR_THREADS=$threads "$hello" "$port" >"$tmp/hello.log" 2>&1 &
	server=$!
	for _ in $(seq 100); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null && break
		sleep 0.05
	done
	for r in 1 2 3; do
		wrk -t 1 -c 100 -d "${dur}s" --latency "http://127.0.0.1:$port/" >"$tmp/wrk.$threads.$r" 2>&1 || true
	done
	kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=
	python3 - "$tmp" "$threads" <<'PY'
import re, sys
tmp, t = sys.argv[1], sys.argv[2]
def to_us(s):
    m = re.match(r"([\d.]+)(us|ms|s)", s)
    v = float(m.group(1)); return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
runs = []
for r in (1, 2, 3):
    txt = open(f"{tmp}/wrk.{t}.{r}").read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", txt)
    if not rps:
        continue
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", txt, re.M))
    mx = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", txt)
    runs.append((float(rps.group(1)), lat, mx.group(1) if mx else "?"))
if not runs:
    print(f"{t:<10} wrk failed"); sys.exit(0)
runs.sort(key=lambda x: x[0])
rps, lat, mx = runs[len(runs) // 2]
print(f"{t:<10} {rps:12,.0f} {lat.get('50','?'):>10} {lat.get('90','?'):>10} {lat.get('99','?'):>10} {mx:>10}   {runs[0][0]:,.0f}-{runs[-1][0]:,.0f}")
PY
done
echo "wrk -t 1 -c 100 -d ${dur}s; median of 3 runs by requests/s (the latencies are that run's)"
