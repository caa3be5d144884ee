#!/usr/bin/env bash
# The hostile battery beside the floods of fairness.sh: one echo server, and for each scenario
# (bench/fairness/battery.c, flood.c for the ping flood) a canary echoing 16 B every 10 ms on
# its own connection while the attack runs. A scenario passes when
#   - every attacking connection got the reaction the RFCs prescribe (battery's own verdict),
#   - the canary got at least 95% of its echoes and its p99 stayed within P99_MS (20 ms, the
#     issue's aim),
#   - the server's descriptors are back to what they were before the attack (within 15 s),
#   - and the server is still alive.
# It prints one line per scenario, the server's RSS, and PASS/FAIL; the exit status is 1 when
# one failed.
#
#   WR_BUILD=build-dev bench/fairness/battery.sh    (THREADS=1 SCENARIOS="slowloris bighead
#                                                   garbage-pre garbage-post violations absurd
#                                                   fragments fragmsgs ping churn halfopen"
#                                                   P99_MS=20)
# The server, the canary and the attacks are stopped by their PIDs; traffic stays on
# loopback; every attack is bounded in connections, count and seconds.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
threads=${THREADS:-1}
scenarios=${SCENARIOS:-"slowloris bighead garbage-pre garbage-post violations absurd fragments fragmsgs ping churn halfopen"}
p99_ms=${P99_MS:-20}
server=${SERVER:-$build/examples/echo_server}
bench=$build/bench/ws-bench/ws-bench
battery=$build/bench/fairness/battery
flood=$build/bench/fairness/flood
for x in "$server" "$bench" "$battery" "$flood"; do
	[ -x "$x" ] || { echo "battery: $x not built (ninja -C $build examples/echo_server bench/ws-bench/ws-bench bench/fairness/battery bench/fairness/flood)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/wring-battery.XXXXXX)
spid= apid= cpid=
cleanup() {
	for p in $apid $cpid $spid; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $apid $cpid $spid; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

WR_THREADS=$threads WR_DEFLATE=0 "$server" 0 >"$tmp/srv.log" 2>&1 &
spid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^Listening on port \([0-9]*\).*/\1/p' "$tmp/srv.log")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "battery: the server did not start" >&2; exit 1; }

fds() { ls "/proc/$spid/fd" 2>/dev/null | wc -l; }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
canary_path=${CANARY_PATH:-/canary}

# scenario -> the attack's command line and how long the canary runs beside it
attack() { # scenario
	case $1 in
	slowloris) echo "$battery slowloris $port 50 14" ;;
	bighead) echo "$battery bighead $port 20 10" ;;
	garbage-pre) echo "$battery garbage-pre $port 20 10" ;;
	garbage-post) echo "$battery garbage-post $port 100 10" ;;
	violations) echo "$battery violations $port 120 10" ;;
	absurd) echo "$battery absurd $port 100 10" ;;
	fragments) echo "$battery fragments $port 20 10" ;;
	fragmsgs) echo "$battery fragmsgs $port 20 10" ;;
	ping) echo "$flood ping $port 50 100000000 125 10" ;;
	churn) echo "$battery churn $port 20000 120" ;;
	halfopen) echo "$battery halfopen $port 50 14" ;;
	*) echo "battery: unknown scenario $1" >&2; return 1 ;;
	esac
}

# The canary alone first (which also warms the server: the baseline holds what a first
# connection makes): on a machine shared with other work its tail is the floor for the rest.
"$bench" --rate 100 -c 1 -s 16 -d 10 -w 0.5 -q --json "ws://127.0.0.1:$port$canary_path" \
	>"$tmp/alone.json" 2>/dev/null
read -r alone50 alone99 alonen < <(python3 - "$tmp/alone.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(f'{d["latency_ns"]["p50"] / 1e6:.2f} {d["latency_ns"]["p99"] / 1e6:.2f} {d["messages"]}')
except Exception:
    print("nan nan 0")
PY
)
sleep 0.5
base_fds=$(fds)
base_rss=$(kb "$spid" VmRSS)
echo "# server pid $spid, $threads reactor(s); before the battery: $base_fds descriptors, RSS $((base_rss / 1024)) MiB"
printf '%-13s %-5s %9s %9s %7s %9s %9s  %s\n' scenario "" "p50 ms" "p99 ms" echoes "fds back" "rss MiB" "attack's verdict"
printf '%-13s %-5s %9s %9s %7s\n' "(alone)" "" "$alone50" "$alone99" "$alonen"
fails=0
for s in $scenarios; do
	cmd=$(attack "$s") || exit 2
	# shellcheck disable=SC2086
	$cmd >"$tmp/attack.txt" 2>&1 &
	apid=$!
	sleep 0.3
	"$bench" --rate 100 -c 1 -s 16 -d 10 -w 0.5 -q --json "ws://127.0.0.1:$port$canary_path" \
		>"$tmp/canary.json" 2>/dev/null &
	cpid=$!
	wait "$cpid"
	cpid=
	wait "$apid"
	arc=$?
	apid=
	alive=1
	kill -0 "$spid" 2>/dev/null || alive=0
	back=no
	for _ in $(seq 150); do
		[ "$alive" = 1 ] && [ "$(fds)" -le "$base_fds" ] && { back=yes; break; }
		sleep 0.1
	done
	rss=$([ "$alive" = 1 ] && kb "$spid" VmRSS || echo 0)
	read -r p50 p99 msgs < <(python3 - "$tmp/canary.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    l = d["latency_ns"]
    print(f'{l["p50"] / 1e6:.2f} {l["p99"] / 1e6:.2f} {d["messages"]}')
except Exception:
    print("nan nan 0")
PY
)
	verdict=PASS
	why=
	[ "$arc" = 0 ] || { verdict=FAIL; why="$why attack"; }
	[ "$alive" = 1 ] || { verdict=FAIL; why="$why server-died"; }
	[ "$back" = yes ] || { verdict=FAIL; why="$why fds"; }
	awk -v p="$p99" -v m="$msgs" -v l="$p99_ms" 'BEGIN { exit !(p == p + 0 && p <= l && m >= 950) }' ||
		{ verdict=FAIL; why="$why canary"; }
	[ "$verdict" = PASS ] || fails=$((fails + 1))
	printf '%-13s %-5s %9s %9s %7s %9s %9s  %s\n' "$s" "$verdict" "$p50" "$p99" "$msgs" \
		"$back($(fds))" "$((rss / 1024))" "$(paste -sd";" "$tmp/attack.txt")${why:+ [failed:$why]}"
	[ "$alive" = 1 ] || break
done
echo
echo "battery: $fails scenario(s) failed; server descriptors $base_fds before, $(fds) after; RSS $((base_rss / 1024)) MiB before, peak $(($(kb "$spid" VmHWM) / 1024)) MiB"
[ "$fails" = 0 ]
