#!/usr/bin/env bash
# The aarch64 context switch (lib/fiber/switch_aarch64.S), cross-built with Debian's compiler
# and run under qemu-user, as tests/neon/run.sh does for NEON. Prints TAP. Usage: run-aarch64.sh OUT_DIR
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
: >"$out/wr_config.h"
if ! "$cc" -std=c17 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -static \
	-I"$out" -I"$src/lib/fiber" -I"$src/lib/core" -I"$src/include" \
	"$src/tests/fiber/switch_check.c" "$src/lib/fiber/ctx.c" "$src/lib/fiber/stack.c" \
	"$src/lib/fiber/switch_aarch64.S" -o "$out/switch_check" 2>"$out/build.log"; then
	echo "not ok 1 - switch_check builds for aarch64"
	sed 's/^/# /' "$out/build.log" | head -30
	echo "1..1"
	exit 1
fi
timeout 300 "$qemu" "$out/switch_check"
