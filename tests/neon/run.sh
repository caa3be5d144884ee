#!/usr/bin/env bash
# Builds tests/simd_check.c for aarch64 with Debian's cross compiler and runs it under
# qemu-user: the NEON code paths tested on an emulated CPU. Prints TAP. Usage: run.sh OUT_DIR
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp}
mkdir -p "$out"
cc=aarch64-linux-gnu-gcc
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if ! command -v "$cc" >/dev/null || [ -z "$qemu" ]; then
	echo "not ok 1 - aarch64 cross compiler or qemu-user missing (tests/install-deps installs them)"
	echo "1..1"
	exit 1
fi
# wr_config.h only matters to the I/O layers: an empty one serves the codecs.
: >"$out/wr_config.h"
if ! "$cc" -std=c17 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -static \
	-DWR_SIMD_NO_EMU -I"$out" -I"$src/lib" -I"$src/include" -I"$src/tests" \
	"$src/tests/simd_check.c" "$src/tests/simd_copies.c" "$src/lib/simd.c" \
	"$src/lib/unmask.c" "$src/lib/unmask_neon.c" "$src/lib/unmask_x86.c" \
	"$src/lib/utf8.c" "$src/lib/utf8_neon.c" "$src/lib/utf8_x86.c" \
	"$src/lib/http_scan.c" "$src/lib/http_scan_neon.c" "$src/lib/http_scan_x86.c" \
	-lpthread -o "$out/simd_check" 2>"$out/neon_build.log"; then
	echo "not ok 1 - simd_check builds for aarch64"
	sed 's/^/# /' "$out/neon_build.log" | head -30
	echo "1..1"
	exit 1
fi
timeout 600 "$qemu" "$out/simd_check" neon
