/* See simd_copies.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "simd_copies.h"
#ifndef WR_SIMD_NO_EMU
#include "simd_emu.h"
#endif

static const char *const kernel_names[TV_KERNELS] = {
	[TV_UNMASK] = "unmask",
	[TV_UTF8] = "utf8",
	[TV_SCAN_VALUE] = "http_scan_value",
	[TV_SCAN_TARGET] = "http_scan_target",
};

const char *tv_kernel_name(enum tv_kernel k)
{
	return kernel_names[k];
}

static union tv_fn native_fn(enum tv_kernel k, enum wr_simd v)
{
	union tv_fn f = { 0 };
	switch (k) {
	case TV_UNMASK: f.unmask = wr__unmask_impl(v); break;
	case TV_UTF8: f.utf8 = wr__utf8_impl(v); break;
	case TV_SCAN_VALUE: f.scan = wr__http_scan_value_impl(v); break;
	case TV_SCAN_TARGET: f.scan = wr__http_scan_target_impl(v); break;
	default: break;
	}
	return f;
}

static union tv_fn emulated_fn(enum tv_kernel k, enum wr_simd v)
{
	union tv_fn f = { 0 };
#ifdef WR_SIMD_NO_EMU
	/* the aarch64 cross build of simd_check: NEON only */
	(void)k;
	(void)v;
#else
	switch (k) {
	case TV_UNMASK: f.unmask = wr__unmask_emu_impl(v); break;
	case TV_UTF8: f.utf8 = wr__utf8_emu_impl(v); break;
	case TV_SCAN_VALUE: f.scan = wr__http_scan_value_emu_impl(v); break;
	case TV_SCAN_TARGET: f.scan = wr__http_scan_target_emu_impl(v); break;
	default: break;
	}
#endif
	return f;
}

static bool fn_null(enum tv_kernel k, union tv_fn f)
{
	return k == TV_UNMASK ? !f.unmask : k == TV_UTF8 ? !f.utf8 : !f.scan;
}

/* One line per variant and mode; several test processes append to the same file, each line
 * in one write() on an O_APPEND descriptor. */
static void report(enum tv_kernel k, enum wr_simd v, const char *mode)
{
	const char *path = getenv("WR_SIMD_REPORT");
	if (!path || !*path)
		return;
	char line[96];
	int n = snprintf(line, sizeof(line), "%s %s %s\n", kernel_names[k], wr__simd_name(v), mode);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "# could not write the SIMD report\n");
	close(fd);
}

size_t tv_variant_copies(enum tv_kernel k, enum wr_simd v, struct tv_copy out[2])
{
	size_t n = 0;
	union tv_fn f = native_fn(k, v);
	if (!fn_null(k, f)) {
		out[n] = (struct tv_copy){ .v = v, .emulated = false, .fn = f };
		snprintf(out[n].label, sizeof(out[n].label), "%s", wr__simd_name(v));
		report(k, v, "native");
		n++;
	}
	/* WR_SIMD_EMU=missing (the sanitizer build): the emulated copy only where the native one
	 * cannot run. Emulation under ASan at full coverage took minutes, and where the CPU runs
	 * the variant the native copy already shows its memory behaviour. */
	const char *only_missing = getenv("WR_SIMD_EMU");
	bool skip_emu = n > 0 && only_missing && strcmp(only_missing, "missing") == 0;
	f = emulated_fn(k, v);
	if (!skip_emu && !fn_null(k, f)) {
		out[n] = (struct tv_copy){ .v = v, .emulated = true, .fn = f };
		snprintf(out[n].label, sizeof(out[n].label), "%s/emu", wr__simd_name(v));
		report(k, v, "emulated");
		n++;
	}
	return n;
}

size_t tv_copies(enum tv_kernel k, struct tv_copy out[TV_MAX_COPIES])
{
	size_t n = 0;
	for (int v = 0; v < WR_SIMD_COUNT; v++)
		n += tv_variant_copies(k, (enum wr_simd)v, out + n);
	return n;
}
