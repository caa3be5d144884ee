/* SHA-1 against the FIPS 180 examples, base64 against RFC 4648 §10, and both together on the
 * RFC 6455 §1.3 handshake example. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sha1.h"
#include "base64.h"
#include "wring/common.h"
#include "tmem.h"

static void hex(const uint8_t d[20], char out[41])
{
	for (int i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha1(const void *data, size_t len, const char *want)
{
	uint8_t d[20];
	char h[41];
	wr__sha1(data, len, d);
	hex(d, h);
	cr_expect_str_eq(h, want, "sha1 of %zu bytes", len);
}

Test(sha1, fips_vectors)
{
	check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_sha1(m448, strlen(m448), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	check_sha1(m896, strlen(m896), "a49b2446a02c645bf419f995b67091253a04a259");
}

Test(sha1, million_a)
{
	size_t n = 1000000;
	char *m = tmalloc(n);
	cr_assert_not_null(m);
	memset(m, 'a', n);
	check_sha1(m, n, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	tfree(m);
}

/* Lengths around the padding boundary, where the length moves into a second padding block
 * (digests from Python's hashlib). */
Test(sha1, padding_boundaries)
{
	char m[128];
	memset(m, 'a', sizeof(m));
	check_sha1(m, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
	check_sha1(m, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
	check_sha1(m, 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
	check_sha1(m, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
	check_sha1(m, 65, "11655326c708d70319be2610e8a57d9a5b959d3b");
}

struct b64_vec {
	const char *plain;
	const char *enc;
};

static const struct b64_vec rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

Test(base64, rfc4648_encode)
{
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		char out[16];
		size_t n = wr__base64_encode((const uint8_t *)rfc4648[i].plain,
			strlen(rfc4648[i].plain), out);
		cr_expect_eq(n, strlen(rfc4648[i].enc));
		cr_expect_str_eq(out, rfc4648[i].enc);
	}
}

Test(base64, rfc4648_decode)
{
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		uint8_t out[16];
		const char *e = rfc4648[i].enc;
		ssize_t n = wr__base64_decode(e, strlen(e), out, sizeof(out));
		cr_expect_eq(n, (ssize_t)strlen(rfc4648[i].plain), "decode %s", e);
		if (n >= 0)
			cr_expect_arr_eq(out, rfc4648[i].plain, (size_t)n);
	}
}

Test(base64, roundtrip_all_bytes)
{
	uint8_t in[256], back[256];
	char enc[4 * 86 + 1];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (size_t len = 0; len <= 256; len++) {
		size_t n = wr__base64_encode(in + 256 - len, len, enc);
		cr_assert_eq(n, (len + 2) / 3 * 4);
		cr_assert_eq(enc[n], '\0');
		ssize_t m = wr__base64_decode(enc, n, back, sizeof(back));
		cr_assert_eq(m, (ssize_t)len);
		cr_assert_arr_eq(back, in + 256 - len, len);
	}
}

Test(base64, decode_rejects)
{
	static const char *const bad[] = {
		"Zg",        /* padding missing */
		"Zg=",       /* padding short */
		"Zm9",       /* not a multiple of 4 */
		"Zg==Zg==",  /* padding in the middle */
		"Z===",      /* too much padding */
		"====",
		"=Zm9",
		"Zm=v",
		"Zh==",      /* non-zero pad bits */
		"Zm9=",      /* non-zero pad bits (one pad) */
		"Zm9v\n",
		"Zm 9v",
		"Zm9v Zm9v",
		"Zm-v",      /* base64url alphabet is not base64 */
		"Zm_v",
		"Zm9\x80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t out[16];
		memset(out, 0xaa, sizeof(out));
		ssize_t n = wr__base64_decode(bad[i], strlen(bad[i]), out, sizeof(out));
		cr_expect_eq(n, -EBADMSG, "\"%s\" gave %zd", bad[i], n);
		for (size_t j = 0; j < sizeof(out); j++)
			cr_expect_eq(out[j], 0xaa, "output touched on failure");
	}
}

Test(base64, decode_capacity)
{
	uint8_t out[6];
	cr_expect_eq(wr__base64_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	cr_expect_eq(wr__base64_decode("Zm9vYmFy", 8, out, 6), 6);
	cr_expect_eq(wr__base64_decode("Zm9vYg==", 8, out, 4), 4);
	cr_expect_eq(wr__base64_decode("Zm9vYg==", 8, out, 3), -ENOSPC);
}

Test(handshake, rfc6455_accept)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	const char *guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, guid);
	uint8_t digest[20];
	wr__sha1(buf, (size_t)n, digest);
	char accept[29];
	cr_assert_eq(wr__base64_encode(digest, sizeof(digest), accept), 28);
	cr_expect_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	uint8_t nonce[16];
	cr_expect_eq(wr__base64_decode(key, strlen(key), nonce, sizeof(nonce)), 16);
	cr_expect_arr_eq(nonce, "the sample nonce", 16);
}

Test(error, strerror_names_codes)
{
	static const int codes[] = { EAGAIN, EBADMSG, EMSGSIZE, EILSEQ, ENOSPC, ENOMEM, EINVAL,
		EPROTO, ECANCELED, ETIMEDOUT, ECONNRESET, EPIPE, ENOTCONN, ECONNREFUSED, EADDRINUSE,
		EIO };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = wr_strerror(-codes[i]);
		cr_assert_not_null(s);
		cr_expect_str_neq(s, "unknown error", "code %d", codes[i]);
	}
	cr_expect_str_eq(wr_strerror(0), "unknown error");
	cr_expect_str_eq(wr_strerror(5), "unknown error");
	cr_expect_str_eq(wr_strerror(-100000), "unknown error");
	cr_expect_str_eq(wr_strerror(-2147483647 - 1), "unknown error");
}
