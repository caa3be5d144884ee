/* libFuzzer, structure-aware: every copy of every HTTP scanner variant (native and SIMDe, see
 * fuzz_common.h) against the scalar scan, both classes (issue 10). Random bytes hold a control
 * byte every few bytes, so the vector loops and their tails never run far; here the input is
 * made of bytes of the class with at most one bad byte, placed near a 16/32/64/128/256-byte
 * edge, and ends at the very end of an allocation of exact size (ASan reports any read past
 * it, which the kernels promise never to do). The scan is also repeated on the prefixes that
 * end just before and just after the bad byte.
 *
 * Recipe, in the order read (fuzz_common.h): class byte (& 1: value, else target), length
 * fz_near_edge(MAX_LEN), bad-byte selector (% 4 == 0: none), and when there is one its
 * position fz_near_edge(length - 1) and a byte picking which bad byte, then the alignment
 * offset byte % 64, then one byte per input byte, mapped onto the bytes of the class. */
#include "fuzz_common.h"
#include "http_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LEN 4096
#define NO_BAD SIZE_MAX

struct class {
	const char *name;
	enum tv_kernel kernel;
	wr_http_scan_fn scalar;
	uint8_t good[256], bad[256];
	size_t ngood, nbad;
};

static struct class classes[2] = {
	{ .name = "value", .kernel = TV_SCAN_VALUE, .scalar = wr__http_scan_value_scalar },
	{ .name = "target", .kernel = TV_SCAN_TARGET, .scalar = wr__http_scan_target_scalar },
};

/* The byte tables, from the class predicates of http_scan.h. */
static void list_bytes(void)
{
	for (int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		struct class *v = &classes[0], *t = &classes[1];
		if (wr__http_is_value_char(b))
			v->good[v->ngood++] = b;
		else
			v->bad[v->nbad++] = b;
		if (wr__http_is_target_char(b))
			t->good[t->ngood++] = b;
		else
			t->bad[t->nbad++] = b;
	}
}

static void fail(const struct class *k, const char *label, const char *what, size_t n,
	size_t off, size_t bad, size_t got, size_t want)
{
	fprintf(stderr, "fuzz_http_scan: %s scan, %s: %s: length %zu, offset %zu, bad byte at ",
		k->name, label, what, n, off);
	if (bad == NO_BAD)
		fprintf(stderr, "none");
	else
		fprintf(stderr, "%zu", bad);
	fprintf(stderr, ": got %zu, want %zu\n", got, want);
	abort();
}

/* The first n bytes of text, at offset off in an allocation that ends right after them. */
static void check_prefix(const struct class *k, const uint8_t *text, size_t n, size_t off,
	size_t bad)
{
	uint8_t *buf = malloc(off + n ? off + n : 1);
	if (!buf)
		abort();
	memset(buf, 'x', off);
	memcpy(buf + off, text, n);
	const char *p = (const char *)buf + off;
	size_t want = bad < n ? bad : n;
	size_t ref = k->scalar(p, n);
	if (ref != want)
		fail(k, "scalar", "not where the bad byte was put", n, off, bad, ref, want);
	size_t ncopies;
	const struct tv_copy *c = fz_copies(k->kernel, &ncopies);
	for (size_t i = 0; i < ncopies; i++) {
		size_t got = c[i].fn.scan(p, n);
		if (got != ref)
			fail(k, c[i].label, "disagrees with the scalar scan", n, off, bad, got, ref);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t text[MAX_LEN];
	if (!classes[0].ngood)
		list_bytes();
	struct fz_recipe r = fz_recipe(data, size);
	const struct class *k = &classes[fz_byte(&r) & 1 ? 0 : 1];
	size_t n = fz_near_edge(&r, MAX_LEN), bad = NO_BAD;
	uint8_t bad_byte = 0;
	if (fz_byte(&r) % 4 && n > 0) {
		bad = fz_near_edge(&r, n - 1);
		bad_byte = k->bad[fz_byte(&r) % k->nbad];
	}
	size_t off = fz_byte(&r) % 64;
	for (size_t i = 0; i < n; i++)
		text[i] = k->good[fz_byte(&r) % k->ngood];
	if (bad != NO_BAD)
		text[bad] = bad_byte;

	check_prefix(k, text, n, off, bad);
	if (bad != NO_BAD) {
		check_prefix(k, text, bad, off, bad);
		check_prefix(k, text, bad + 1, off, bad);
	}
	return 0;
}
