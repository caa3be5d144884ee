# Helpers for the ws-bench scripts (bench_modes.sh, bench_options.sh), on top of lib.sh: the
# counting server on a free port, figures judged in Python, and a PNG's pixels counted.
# Source it after lib.sh.

BENCH=$WR_BUILD/bench/ws-bench/ws-bench
COUNT=$WR_BUILD/bench/peers/count_server

# wait_log NAME TEXT [seconds]: until $WR_TMP/NAME.log holds TEXT.
wait_log() {
	local t=${3:-10}
	for _ in $(seq $((t * 20))); do
		grep -q -- "$2" "$WR_TMP/$1.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# $1: no '$2' after ${t}s" >&2
	sed 's/^/# /' "$WR_TMP/$1.log" >&2
	return 1
}

# server NAME [count_server options...]: count_server, one reactor, on a free port, writing
# its counts to $WR_TMP/NAME.stats.json when stopped. Sets PORT and SPID.
server() {
	local name=$1; shift
	PORT=$(free_port)
	start "$name" "$COUNT" "$PORT" 1 --stats "$WR_TMP/$name.stats.json" "$@"
	SPID=$LAST_PID
	wait_log "$name" "Listening on port"
}

# judge 'python' name=file...: runs the code with each file loaded as variable `name` (JSON
# when the file ends in .json, else text) and `math`; passes when it leaves `ok` true. Print
# the figures in the code: they are shown when the check fails.
judge() {
	local code=$1; shift
	"$PY" - "$code" "$@" <<'PY'
import json, math, sys
env = {"math": math}
for a in sys.argv[2:]:
    k, p = a.split("=", 1)
    with open(p) as f:
        env[k] = json.load(f) if p.endswith(".json") else f.read()
exec(sys.argv[1], env)
sys.exit(0 if env.get("ok") else 1)
PY
}

# bench NAME ARGS...: ws-bench with its stdout in $WR_TMP/NAME.json (use --json) and stderr in
# $WR_TMP/NAME.err, bounded in time; its exit status in BENCH_RC.
bench() {
	local name=$1; shift
	timeout -k 5 120 "$BENCH" "$@" >"$WR_TMP/$name.json" 2>"$WR_TMP/$name.err"
	BENCH_RC=$?
	BENCH_LAST=$name
}

# exits CODE: the last bench exited with CODE (its stderr shown otherwise).
exits() {
	[ "$BENCH_RC" -eq "$1" ] && return 0
	echo "exit $BENCH_RC, wanted $1"
	tail -n 20 "$WR_TMP/$BENCH_LAST.err"
	return 1
}
