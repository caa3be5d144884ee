# Sourced by the TLS benchmark scripts (tls_bench.sh, tls_handshakes.sh): the build to run,
# a scratch folder with a fresh certificate, the servers' PIDs stopped on exit, and loopback
# port helpers. Expects $src (the source root) and $1 (the script's name, for messages).
script_name=$1
build=${WR_BUILD:-build}
case $build in /*) ;; *) build=$src/$build ;; esac
runs=${RUNS:-3}
bench=$build/bench/ws-bench/ws-bench
[ -x "$build/examples/wss_echo_server" ] || { echo "$1: TLS examples not built" >&2; exit 2; }
tmp=$(mktemp -d "/tmp/wring-$1.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
bash "$src/examples/make-cert.sh" "$tmp" >/dev/null 2>&1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 200); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# ca_for URL: sets ca_opt to ws-bench's --ca for a wss:// URL, to nothing for ws:// (ws-bench
# refuses TLS options on a plain URL).
ca_opt=()
ca_for() { ca_opt=(); case $1 in wss:*) ca_opt=(--ca "$tmp/cert.pem") ;; esac; }
# got_json FILE: a ws-bench run that printed no JSON stops the script with ws-bench's error,
# instead of a figure made of nothing.
got_json() {
	[ -s "$1" ] && return 0
	echo "$script_name: ws-bench failed:" >&2
	cat "$tmp/err" >&2
	exit 1
}
