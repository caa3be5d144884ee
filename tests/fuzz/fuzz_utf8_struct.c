/* libFuzzer, structure-aware: the input is a recipe for a valid UTF-8 text (issue 10). Random
 * bytes are invalid within a few bytes, so they never reach a kernel's handling of long valid
 * text: the AVX-512 validator refused every valid text over 128 bytes that was not pure ASCII
 * and 20 s of fuzz_utf8 never saw it. Here the text is built from whole 1- to 4-byte
 * characters to a length near a block edge, then at most one mutation makes it (possibly)
 * invalid at a chosen place, and every copy of every variant must agree with the scalar DFA,
 * whole and in pieces (utf8_diff.h).
 *
 * Recipe, in the order read (fuzz_common.h for fz_near_edge and fz_cuts):
 *   length     fz_near_edge(MAX_TEXT)
 *   mutation   op byte (op % 8: 0-2 none, 3 flip bit val & 7, 4 replace by val, 5 insert val,
 *              6 delete, 7 truncate), position fz_near_edge(length), val byte
 *   cuts       fz_cuts(length after the mutation)
 *   characters until the length is reached, each from a byte w:
 *              w & 3 == 0: code point of width 1 + (w >> 2 & 3), uniform in that width's range
 *                          (value from 1, 2, 2, 3 further bytes, surrogates skipped)
 *              w & 3 == 1: an edge code point of width 1 + (w >> 2 & 3), entry w >> 4 & 7
 *              w & 3 == 2: a run of 1 + (w >> 2) ASCII letters
 *              w & 3 == 3: as 0, but width 2 + (w >> 2) % 3
 *              A character that does not fit in what is left becomes one ASCII byte. */
#include "utf8_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 2048

enum mutation { MUT_FLIP = 3, MUT_REPLACE, MUT_INSERT, MUT_DELETE, MUT_TRUNCATE };

/* The code points where the encodings change length or where a rule starts or stops: the
 * ends of each width, either side of the surrogates, the top of the code space. */
static const uint32_t edge_cp[4][8] = {
	{ 0x00, 0x7f, 0x41, 0x20, 0x0a, 0x7e, 0x01, 0x3f },
	{ 0x80, 0x7ff, 0xbf, 0xc0, 0x100, 0x7c0, 0xff, 0x3ff },
	{ 0x800, 0xffff, 0xfff, 0x1000, 0xd7ff, 0xe000, 0xfffd, 0xcfff },
	{ 0x10000, 0x10ffff, 0x3ffff, 0x40000, 0xfffff, 0x100000, 0x1f600, 0x10fffd },
};

static size_t put_cp(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* A code point of the given width (1..4), uniform over its range; never a surrogate. */
static uint32_t uniform_cp(struct fz_recipe *r, unsigned width)
{
	static const unsigned value_bytes[4] = { 1, 2, 2, 3 };
	uint32_t v = 0;
	for (unsigned i = 0; i < value_bytes[width - 1]; i++)
		v = v << 8 | fz_byte(r);
	switch (width) {
	case 1:
		return v & 0x7f;
	case 2:
		return 0x80 + v % (0x800 - 0x80);
	case 3: {
		uint32_t cp = 0x800 + v % (0x10000 - 0x800 - 0x800); /* minus D800..DFFF */
		return cp >= 0xd800 ? cp + 0x800 : cp;
	}
	default:
		return 0x10000 + v % 0x100000;
	}
}

/* Appends one recipe item at o (room: left bytes); returns the bytes written. */
static size_t put_item(struct fz_recipe *r, uint8_t *o, size_t left)
{
	uint8_t w = fz_byte(r);
	uint8_t enc[4];
	size_t n;
	switch (w & 3) {
	case 0:
		n = put_cp(enc, uniform_cp(r, 1 + (w >> 2 & 3)));
		break;
	case 1:
		n = put_cp(enc, edge_cp[w >> 2 & 3][w >> 4 & 7]);
		break;
	case 2: {
		size_t run = 1 + (size_t)(w >> 2);
		run = run < left ? run : left;
		for (size_t i = 0; i < run; i++)
			o[i] = (uint8_t)('a' + i % 26);
		return run;
	}
	default:
		n = put_cp(enc, uniform_cp(r, 2 + (unsigned)(w >> 2) % 3));
		break;
	}
	if (n > left) {
		o[0] = '.';
		return 1;
	}
	memcpy(o, enc, n);
	return n;
}

static void build_valid(struct fz_recipe *r, uint8_t *text, size_t len)
{
	for (size_t n = 0; n < len;)
		n += put_item(r, text + n, len - n);
}

/* The length once op has been applied at pos to a text of len bytes. */
static size_t mutated_len(unsigned op, size_t pos, size_t len)
{
	switch (op) {
	case MUT_INSERT:
		return len + 1;
	case MUT_DELETE:
		return len ? len - 1 : 0;
	case MUT_TRUNCATE:
		return pos;
	default:
		return len;
	}
}

/* Applies op at pos (pos <= len; ops on a byte use the last one when pos == len). */
static void mutate(uint8_t *text, size_t len, unsigned op, size_t pos, uint8_t val)
{
	size_t at = pos < len ? pos : len - 1; /* only used when len > 0 */
	switch (op) {
	case MUT_FLIP:
		if (len)
			text[at] ^= (uint8_t)(1u << (val & 7));
		break;
	case MUT_REPLACE:
		if (len)
			text[at] = val;
		break;
	case MUT_INSERT:
		memmove(text + pos + 1, text + pos, len - pos);
		text[pos] = val;
		break;
	case MUT_DELETE:
		if (len)
			memmove(text + at, text + at + 1, len - at - 1);
		break;
	default: /* none, or truncate: mutated_len() does it */
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t text[MAX_TEXT + 1];
	struct fz_recipe r = fz_recipe(data, size);
	size_t len = fz_near_edge(&r, MAX_TEXT);
	unsigned op = fz_byte(&r) % 8;
	size_t pos = fz_near_edge(&r, len);
	uint8_t val = fz_byte(&r);
	size_t final = mutated_len(op, pos, len);
	size_t cuts[FZ_MAX_CUTS];
	size_t ncuts = fz_cuts(&r, final, cuts);

	build_valid(&r, text, len);
	/* the generator's own check: an unmutated text is valid for the reference */
	if (op < MUT_FLIP && u8d_expected(text, len, NULL, 0) != 2) {
		fprintf(stderr, "fuzz_utf8_struct: built an invalid text of %zu bytes\n", len);
		abort();
	}
	mutate(text, len, op, pos, val);
	u8d_check("fuzz_utf8_struct", text, final, cuts, ncuts);
	return 0;
}
