#!/usr/bin/env bash
# The SIMD checks as a machine without AVX-512, and one without AVX2, would run them:
# tests/simd_check under qemu-x86_64 with CPU models that lack those features. There the
# dispatcher must pick the best variant the model has, and the variants it lacks still run,
# emulated through SIMDe. Prints TAP. Usage: simd_cpus.sh BUILD_DIR
set -u
dir=$1
qemu=$(command -v qemu-x86_64-static || command -v qemu-x86_64 || true)
n=0 fail=0
say() { # ok|not ok, description
	n=$((n + 1))
	echo "$1 $n - $2"
	[ "$1" = ok ] || fail=$((fail + 1))
}
if [ "$(uname -m)" != x86_64 ]; then
	say "ok" "not an x86-64 machine: the x86 variants ran emulated in the unit tests # SKIP"
	echo "1..$n"
	exit 0
fi
if [ -z "$qemu" ]; then
	say "not ok" "qemu-x86_64 missing (tests/install-deps installs qemu-user-static)"
	echo "1..$n"
	exit 1
fi
# model: the variant its dispatcher must pick. Haswell has AVX2 but no AVX-512; Nehalem has
# SSE4.2 but no AVX.
for spec in Haswell-v4:avx2 Nehalem-v2:sse2; do
	cpu=${spec%%:*} want=${spec##*:}
	log=$(mktemp)
	timeout 900 "$qemu" -cpu "$cpu" "$dir/tests/simd_check" "$want" >"$log" 2>/dev/null
	rc=$?
	while IFS= read -r l; do
		case "$l" in
		"ok "*) say "ok" "cpu $cpu: ${l#ok * - }" ;;
		"not ok "*) say "not ok" "cpu $cpu: ${l#not ok * - }" ;;
		"#"*) echo "$l" ;;
		esac
	done <"$log"
	grep -q '^1\.\.' "$log" && [ $rc -eq 0 -o $rc -eq 1 ] || say "not ok" "cpu $cpu: simd_check ended with status $rc before its plan"
	rm -f "$log"
done
echo "1..$n"
[ "$fail" -eq 0 ]
