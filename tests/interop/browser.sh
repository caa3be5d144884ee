#!/usr/bin/env bash
# Headless Chromium against examples/echo_server: the page served by its GET / route opens a
# WebSocket to /ws, echoes a text, a binary and a 1.25 MiB message, closes with 4000 and reports
# in window.wrResult, read over the DevTools protocol by cdp_page.cjs (node ws).
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
CHROMIUM=/usr/bin/chromium

need_pkg chromium >/dev/null || true
need_node_ws || true
if [ ! -x "$CHROMIUM" ] || [ ! -d "$WR_SRC/tests/interop/node_modules/ws" ]; then
	not_ok "chromium and node ws available"
	tap_end
	exit
fi

port=$(free_port)
start echo "$WR_BUILD/examples/echo_server" "$port"
srv=$LAST_PID
if ! wait_port "$port"; then
	not_ok "echo_server listens"
	tap_end
	exit
fi
check "GET / serves the HTML page" \
	"$PY" -c "import urllib.request as u, sys; r = u.urlopen('http://127.0.0.1:$port/', timeout=5); \
b = r.read(); sys.exit(0 if r.status == 200 and 'text/html' in r.headers['Content-Type'] \
and b'new WebSocket' in b else 1)"

profile=$WR_TMP/chromium
mkdir -p "$profile"
start chromium "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--disable-dev-shm-usage --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 \
	--user-data-dir="$profile" about:blank
chrome=$LAST_PID
# Chromium writes its DevTools port (first line) once it listens.
for _ in $(seq 200); do
	[ -s "$profile/DevToolsActivePort" ] && break
	kill -0 "$chrome" 2>/dev/null || break
	sleep 0.1
done
devport=$(head -n 1 "$profile/DevToolsActivePort" 2>/dev/null)
if [ -z "$devport" ]; then
	not_ok "chromium starts with DevTools"
	sed 's/^/# /' "$WR_TMP/chromium.log" | tail -n 20
	tap_end
	exit
fi
ok "chromium starts with DevTools"

result=$(timeout -k 5 60 node "$HERE/cdp_page.cjs" "$devport" "http://127.0.0.1:$port/" 40000 \
	2>"$WR_TMP/cdp.err")
if [ -n "$result" ]; then ok "page reports a result"; else
	not_ok "page reports a result"
	sed 's/^/# /' "$WR_TMP/cdp.err" | tail -n 20
fi
echo "# page: $result"

# field NAME EXPECTED: the page's result field, as JSON text, equals EXPECTED.
field() {
	printf '%s' "$result" | "$PY" -c "import json, sys; v = json.load(sys.stdin)['$1']; \
print(v); sys.exit(0 if json.dumps(v) == sys.argv[1] else 1)" "$2"
}
check "browser: text echoed" field text true
check "browser: binary (256 bytes, arraybuffer) echoed" field binary true
check "browser: 1.25 MiB multi-byte text echoed" field large true
check "browser: 500 KB JSON echoed" field json true
check "browser: permessage-deflate negotiated" field extensions '"permessage-deflate"'
check "browser: close 4000 answered with 4000" field code 4000
check "browser: close was clean" field clean true

stop "$chrome" || true # a browser killed by TERM need not exit 0
# Its helpers (zygote, renderer) follow the browser process out within a moment.
helpers_gone() {
	for _ in $(seq 50); do
		pgrep -f -- "--user-data-dir=$profile" >/dev/null || return 0
		sleep 0.1
	done
	pgrep -af -- "--user-data-dir=$profile"
	return 1
}
check "chromium and its helpers stopped" helpers_gone
check "echo_server still running" kill -0 "$srv"
if stop "$srv"; then ok "echo_server exits 0 on SIGTERM"; else not_ok "echo_server exits 0 on SIGTERM"; fi
tap_end
