#!/usr/bin/env bash
# Runs every fuzzer first on its seed corpus (tests/fuzz/corpus/<fuzzer>/, each input once: a
# regression check that takes seconds), then for a bounded time starting from a copy of that
# corpus, so that the repository's corpus is never written to. Two TAP lines per fuzzer.
# Usage: run.sh BUILD_DIR [seconds per fuzzer]
set -u
dir=$1
secs=${2:-15}
seeds=$(cd "$(dirname "$0")" && pwd)/corpus
n=0 fail=0

# The lines of a failed run worth seeing: the input being replayed, the fuzzers' own messages
# and the sanitizers'.
show_failure() {
	{
		grep 'Running:' "$1" | tail -1
		grep -E 'fuzz_[a-z0-9_]*: |  (whole|[0-9]+ pieces)|ERROR|SUMMARY|Test unit written' "$1" | head -20
	} | sed 's/^/# /'
}

for f in http ws url utf8 utf8_struct unmask http_scan; do
	exe="$dir/tests/fuzz/fuzz_$f"
	log=$(mktemp)

	n=$((n + 1))
	shopt -s nullglob
	inputs=("$seeds/fuzz_$f"/*)
	shopt -u nullglob
	if [ ${#inputs[@]} -eq 0 ]; then
		fail=$((fail + 1))
		echo "not ok $n - fuzz_$f: no seed corpus in $seeds/fuzz_$f"
	elif timeout 300 "$exe" "${inputs[@]}" >"$log" 2>&1; then
		echo "ok $n - fuzz_$f: seed corpus (${#inputs[@]} inputs)"
	else
		fail=$((fail + 1))
		echo "not ok $n - fuzz_$f: seed corpus (${#inputs[@]} inputs)"
		show_failure "$log"
	fi

	n=$((n + 1))
	corpus=$(mktemp -d)
	[ ${#inputs[@]} -eq 0 ] || cp "${inputs[@]}" "$corpus/"
	if timeout $((secs + 60)) "$exe" -max_total_time="$secs" -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$dir/tests/fuzz/" "$corpus" >"$log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "ok $n - fuzz_$f: ${runs:-?} inputs in ${secs}s, no crash"
	else
		fail=$((fail + 1))
		echo "not ok $n - fuzz_$f"
		show_failure "$log"
	fi
	rm -rf "$corpus" "$log"
done
echo "1..$n"
[ "$fail" -eq 0 ]
