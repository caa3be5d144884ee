# Shared helpers for the interop scripts: TAP output, peers installed on demand, processes
# started in the background and stopped by PID. Source it: . "$(dirname "$0")/lib.sh"
set -u
WR_SRC=${WR_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WR_BUILD=${WR_BUILD:-$WR_SRC/build}
PY=/usr/bin/python3           # Debian's python3, which has python3-websockets
TAP_N=0
TAP_FAIL=0
WR_PIDS=()
WR_TMP=$(mktemp -d /tmp/wring-interop.XXXXXX)

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAIL=$((TAP_FAIL + 1)); echo "not ok $TAP_N - $*"; }
# check "description" command...: one TAP line from the command's exit status (output kept
# as TAP comments when it fails).
check() {
	local desc=$1; shift
	local out
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/# /' | tail -n 40; fi
}
tap_end() { echo "1..$TAP_N"; cleanup; [ "$TAP_FAIL" -eq 0 ]; }

cleanup() {
	local pid
	for pid in "${WR_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${WR_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	WR_PIDS=()
	rm -rf "$WR_TMP"
}
trap cleanup EXIT

# start NAME cmd...: run in the background, output in $WR_TMP/NAME.log; sets LAST_PID.
start() {
	local name=$1; shift
	"$@" >"$WR_TMP/$name.log" 2>&1 &
	LAST_PID=$!
	WR_PIDS+=("$LAST_PID")
}

# stop PID: TERM, wait up to 5 s, then KILL. Returns the process's exit status.
stop() {
	local pid=$1 rc=0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	return $rc
}

# A free loopback TCP port (the kernel's choice).
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [seconds]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 t=${2:-10}
	for _ in $(seq $((t * 20))); do
		if $PY -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "# nothing listens on port $port after ${t}s" >&2
	return 1
}

# Debian packages a peer needs, installed when missing (CI runs as root).
need_pkg() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "# installing ${missing[*]}" >&2
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2
}

# The npm package `ws`, installed once into tests/interop/node_modules.
need_node_ws() {
	local dir="$WR_SRC/tests/interop"
	[ -d "$dir/node_modules/ws" ] && return 0
	echo "# installing npm ws" >&2
	(cd "$dir" && npm install --no-audit --no-fund --silent ws@8 >&2)
}

# tap_from CMD...: run a program that prints one line per case, "ok<TAB>desc" or
# "not<TAB>desc<TAB>why", and turn each into a TAP line; its stderr is kept as TAP comments
# and a non-zero exit (a crash, a timeout) is one more failure. Bound it with `timeout`.
tap_from() {
	local verdict desc why rc=0 err="$WR_TMP/tap_from.$$.$RANDOM.err"
	while IFS=$'\t' read -r verdict desc why; do
		case $verdict in
		ok) ok "$desc" ;;
		not) not_ok "$desc"; echo "# $why" ;;
		'#exit') rc=$desc ;;
		*) echo "# $verdict $desc $why" ;;
		esac
	done < <("$@" 2>"$err"; echo "#exit	$?")
	if [ "$rc" -ne 0 ]; then
		not_ok "case runner ran to the end (exit $rc)"
		sed 's/^/# /' "$err" | tail -n 20
	fi
}
