#!/usr/bin/env bash
# RFC 6455 conformance of examples/echo_server, modelled on the Autobahn|Testsuite categories:
# conformance.py speaks raw frames and reports one line per case; this turns them into TAP.
# Two servers: the default 16 MiB message limit, and a small limit for the 1009 cases.
. "$(dirname "$0")/lib.sh"

SMALL_LIMIT=65536
ECHO=$WR_BUILD/examples/echo_server

if [ ! -x "$ECHO" ]; then
	not_ok "echo_server built ($ECHO)"
	tap_end
	exit
fi

port=$(free_port)
start echo "$ECHO" "$port"
srv=$LAST_PID
small_port=$(free_port)
start echo_small "$ECHO" "$small_port" "$SMALL_LIMIT"
small=$LAST_PID
if ! wait_port "$port" || ! wait_port "$small_port"; then
	not_ok "echo servers listen"
	tap_end
	exit
fi

# One TAP line per case; the run is bounded as a whole.
tap_from timeout -k 5 170 "$PY" "$(dirname "$0")/conformance.py" "$port" "$small_port" "$SMALL_LIMIT" "$@"

check "echo_server still running after the suite" kill -0 "$srv"
# stop waits for its child, so not inside check's subshell.
if stop "$srv"; then ok "echo_server exits 0 on SIGTERM"; else not_ok "echo_server exits 0 on SIGTERM"; fi
if stop "$small"; then ok "small-limit echo_server exits 0 on SIGTERM"; else not_ok "small-limit echo_server exits 0 on SIGTERM"; fi
tap_end
