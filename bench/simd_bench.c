/* Micro-benchmark of the SIMD codecs: unmasking against memcpy of the same buffer and the
 * plain byte loop, and UTF-8 validation on ASCII and on multibyte text, for every variant this
 * CPU runs, and the HTTP scanner on a long valid header value against its scalar reference.
 * Each cell is the median of 5 runs of ~40 ms (at most 2^24 calls) each.
 *
 * Usage: simd_bench [--quick]   (--quick: 5 runs of ~4 ms, for smoke runs) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "http_scan.h"
#include "simd.h"
#include "utf8.h"

#define RUNS 5
#define NSIZES 4
static const size_t sizes[NSIZES] = { 64, 1024, 64 * 1024, 1024 * 1024 };
static const char *const size_names[NSIZES] = { "64 B", "1 KiB", "64 KiB", "1 MiB" };

struct job {
	enum { J_MEMCPY, J_BYTEWISE, J_UNMASK, J_UTF8, J_SCAN } kind;
	wr_unmask_fn unmask;
	wr_utf8_fn utf8;
	wr_http_scan_fn scan;
	uint8_t *buf, *dst;
	size_t len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(const struct job *j, size_t iters)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	int bad = 0;
	for (size_t i = 0; i < iters; i++) {
		switch (j->kind) {
		case J_MEMCPY:
			memcpy(j->dst, j->buf, j->len);
			/* keep the copy observable so it is not elided */
			__asm__ volatile("" : : "r"(j->dst) : "memory");
			break;
		case J_BYTEWISE:
			wr__unmask_bytewise(j->buf, j->len, key, (unsigned)i);
			break;
		case J_UNMASK:
			j->unmask(j->buf, j->len, key, (unsigned)i);
			break;
		case J_UTF8: {
			wr_utf8 s;
			wr__utf8_init(&s);
			bad |= j->utf8(&s, j->buf, j->len) | wr__utf8_finish(&s);
			break;
		}
		case J_SCAN:
			bad |= j->scan((const char *)j->buf, j->len) != j->len;
			break;
		}
	}
	return bad;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* GB/s, median of RUNS runs. */
static double measure(const struct job *j, double run_seconds)
{
	/* calibrate: double the count until one run takes a tenth of the target */
	size_t iters = 1;
	for (;;) {
		double t0 = now();
		if (run(j, iters)) {
			fprintf(stderr, "validation failed: benchmark input is not valid UTF-8 / not a valid "
				"header value\n");
			exit(1);
		}
		double dt = now() - t0;
		if (dt > run_seconds / 10 || iters >= (1u << 24)) {
			double per = dt / (double)iters;
			iters = per > 0 ? (size_t)(run_seconds / per) : iters;
			if (iters < 1)
				iters = 1;
			if (iters > (1u << 24))
				iters = 1u << 24;
			break;
		}
		iters *= 2;
	}
	double gbps[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		run(j, iters);
		double dt = now() - t0;
		gbps[r] = (double)j->len * (double)iters / dt / 1e9;
	}
	qsort(gbps, RUNS, sizeof(gbps[0]), cmp_double);
	return gbps[RUNS / 2];
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Valid text of exactly len bytes from 2-, 3- and 4-byte characters (ASCII only to pad). */
static void fill_multibyte(uint8_t *o, size_t len)
{
	size_t n = 0;
	while (n + 4 <= len) {
		uint32_t cp;
		switch (rnd() % 3) {
		case 0:
			cp = 0x80 + (uint32_t)(rnd() % (0x800 - 0x80));
			o[n++] = (uint8_t)(0xc0 | cp >> 6);
			break;
		case 1:
			do
				cp = 0x800 + (uint32_t)(rnd() % (0x10000 - 0x800));
			while (cp >= 0xd800 && cp <= 0xdfff);
			o[n++] = (uint8_t)(0xe0 | cp >> 12);
			o[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			break;
		default:
			cp = 0x10000 + (uint32_t)(rnd() % (0x110000 - 0x10000));
			o[n++] = (uint8_t)(0xf0 | cp >> 18);
			o[n++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			o[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			break;
		}
		o[n++] = (uint8_t)(0x80 | (cp & 0x3f));
	}
	while (n < len)
		o[n++] = 'a';
}

static void print_header(const char *what, const char *cols)
{
	printf("\n%-22s", what);
	for (int s = 0; s < NSIZES; s++)
		printf(" | %-26s", size_names[s]);
	printf("\n%-22s", "");
	for (int s = 0; s < NSIZES; s++)
		printf(" | %-26s", cols);
	printf("\n");
}

int main(int argc, char **argv)
{
	double run_seconds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 0.004 : 0.04;
	size_t max = sizes[NSIZES - 1];
	/* 64-byte aligned buffers: the numbers then do not depend on where malloc put them */
	uint8_t *buf = aligned_alloc(64, max), *dst = aligned_alloc(64, max);
	if (!buf || !dst)
		return 1;
	for (size_t i = 0; i < max; i++)
		buf[i] = (uint8_t)rnd();
	memset(dst, 0, max);

	printf("active variant: %s; supported:", wr__simd_name(wr__simd_active()));
	for (int v = 0; v < WR_SIMD_COUNT; v++)
		if (wr__simd_supported((enum wr_simd)v))
			printf(" %s", wr__simd_name((enum wr_simd)v));
	printf("\nmedian of %d runs of ~%.0f ms per cell\n", RUNS, run_seconds * 1e3);

	double base_memcpy[NSIZES], base_bytes[NSIZES];
	print_header("unmask (in place)", "GB/s   x memcpy  x bytes");
	for (int row = -2; row < WR_SIMD_COUNT; row++) {
		struct job j = { .buf = buf, .dst = dst };
		const char *name;
		if (row == -2) {
			j.kind = J_MEMCPY;
			name = "memcpy";
		} else if (row == -1) {
			j.kind = J_BYTEWISE;
			name = "byte loop";
		} else {
			j.kind = J_UNMASK;
			j.unmask = wr__unmask_impl((enum wr_simd)row);
			if (!j.unmask)
				continue;
			name = wr__simd_name((enum wr_simd)row);
		}
		printf("%-22s", name);
		for (int s = 0; s < NSIZES; s++) {
			j.len = sizes[s];
			double g = measure(&j, run_seconds);
			if (row == -2)
				base_memcpy[s] = g;
			if (row == -1)
				base_bytes[s] = g;
			printf(" | %7.2f %7.2f %8.2f  ", g, g / base_memcpy[s],
				row == -2 ? 0.0 : g / base_bytes[s]);
			fflush(stdout);
		}
		printf("\n");
	}

	static const char *const texts[2] = { "ASCII", "2/3/4-byte mix" };
	for (int t = 0; t < 2; t++) {
		if (t == 0)
			for (size_t i = 0; i < max; i++)
				buf[i] = (uint8_t)(' ' + rnd() % 95);
		else
			fill_multibyte(buf, max);
		char title[64];
		snprintf(title, sizeof(title), "utf8: %s", texts[t]);
		print_header(title, "GB/s   x memcpy");
		for (int v = 0; v < WR_SIMD_COUNT; v++) {
			struct job j = { .kind = J_UTF8, .buf = buf };
			j.utf8 = wr__utf8_impl((enum wr_simd)v);
			if (!j.utf8)
				continue;
			printf("%-22s", wr__simd_name((enum wr_simd)v));
			for (int s = 0; s < NSIZES; s++) {
				/* the multibyte text is cut on a character boundary for each size */
				j.len = sizes[s];
				while (j.len && (buf[j.len] & 0xc0) == 0x80)
					j.len--;
				double g = measure(&j, run_seconds);
				printf(" | %7.2f %7.2f %8s  ", g, g / base_memcpy[s], "");
				fflush(stdout);
			}
			printf("\n");
		}
	}
	/* A long header value as a client might send it (cookies, tokens): printable ASCII with
	 * spaces, HTAB and some obs-text; the scan must run to the end. */
	for (size_t i = 0; i < max; i++) {
		uint64_t r = rnd();
		buf[i] = (uint8_t)(r % 64 == 0 ? '\t' : r % 32 == 1 ? 0x80 + (r >> 8) % 0x80 :
			' ' + (r >> 8) % 95);
	}
	print_header("http scan: value", "GB/s   x memcpy  x scalar");
	double base_scalar[NSIZES];
	for (int v = 0; v < WR_SIMD_COUNT; v++) {
		struct job j = { .kind = J_SCAN, .buf = buf };
		j.scan = wr__http_scan_value_impl((enum wr_simd)v);
		if (!j.scan)
			continue;
		printf("%-22s", wr__simd_name((enum wr_simd)v));
		for (int s = 0; s < NSIZES; s++) {
			j.len = sizes[s];
			double g = measure(&j, run_seconds);
			if (v == WR_SIMD_SCALAR)
				base_scalar[s] = g;
			printf(" | %7.2f %7.2f %8.2f  ", g, g / base_memcpy[s], g / base_scalar[s]);
			fflush(stdout);
		}
		printf("\n");
	}
	free(buf);
	free(dst);
	return 0;
}
