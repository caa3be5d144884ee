#!/usr/bin/env bash
# Runs every fuzzer for a bounded time and prints one TAP line each. Usage: run.sh BUILD_DIR [seconds]
set -u
dir=$1
secs=${2:-15}
n=0 fail=0
seeds=$(dirname "$0")/corpus
for f in http ws url utf8 deflate; do
	n=$((n + 1))
	corpus=$(mktemp -d)
	log=$(mktemp)
	if timeout $((secs + 60)) "$dir/tests/fuzz/fuzz_$f" -max_total_time="$secs" -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$dir/tests/fuzz/" "$corpus" $([ -d "$seeds/$f" ] && echo "$seeds/$f") \
		>"$log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		echo "ok $n - fuzz_$f: ${runs:-?} inputs in ${secs}s, no crash"
	else
		fail=$((fail + 1))
		echo "not ok $n - fuzz_$f"
		grep -E 'ERROR|SUMMARY|abort|Test unit written' "$log" | head -20 | sed 's/^/# /'
	fi
	rm -rf "$corpus" "$log"
done
echo "1..$n"
[ "$fail" -eq 0 ]
