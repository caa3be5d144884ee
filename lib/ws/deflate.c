/* zlib raw deflate for permessage-deflate. zlib allocates through us so that the memory a
 * stream holds is known (the README's per-connection figures come from it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deflate.h"

struct wr_zstream {
	z_stream s;
	wr_zparams zp;
	bool deflater;
	size_t bytes;   /* held by zlib for this stream */
};

/* Each block carries its size in front, so zfree can count it back. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	wr_zstream *z = opaque;
	size_t n = (size_t)items * size;
	size_t *p = malloc(sizeof(size_t) * 2 + n); /* two words keep zlib's alignment */
	if (!p)
		return NULL;
	p[0] = n;
	z->bytes += n;
	return p + 2;
}

static void z_free(voidpf opaque, voidpf ptr)
{
	wr_zstream *z = opaque;
	if (!ptr)
		return;
	size_t *p = (size_t *)ptr - 2;
	z->bytes -= p[0];
	free(p);
}

wr_zstream *wr__z_new(bool deflater, const wr_zparams *zp)
{
	wr_zstream *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->zp = *zp;
	z->deflater = deflater;
	z->s.zalloc = z_alloc;
	z->s.zfree = z_free;
	z->s.opaque = z;
	int rc;
	if (deflater) {
		/* Raw deflate (negative bits): no zlib header or checksum, as §7.2.1 says. */
		int bits = zp->bits < WR_PMD_MIN_DEFLATE_BITS ? WR_PMD_MIN_DEFLATE_BITS : zp->bits;
		rc = deflateInit2(&z->s, zp->level, Z_DEFLATED, -bits, zp->mem_level,
		                  Z_DEFAULT_STRATEGY);
	} else {
		/* A peer's zlib asked for 8 bits uses 9: a 9-bit window decodes both. */
		int bits = zp->bits < 9 ? 9 : zp->bits;
		rc = inflateInit2(&z->s, -bits);
	}
	if (rc != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

void wr__z_free(wr_zstream *z)
{
	if (!z)
		return;
	if (z->deflater)
		deflateEnd(&z->s);
	else
		inflateEnd(&z->s);
	free(z);
}

size_t wr__z_bytes(const wr_zstream *z) { return z ? z->bytes + sizeof(*z) : 0; }

bool wr__z_matches(const wr_zstream *z, const wr_zparams *zp)
{
	return z->zp.bits == zp->bits && z->zp.level == zp->level &&
	       z->zp.mem_level == zp->mem_level;
}

void wr__z_reset(wr_zstream *z)
{
	if (z->deflater)
		deflateReset(&z->s);
	else
		inflateReset(&z->s);
}

int wr__z_compress(wr_zstream *z, const void *in, size_t n, wr_buf *out)
{
	z->s.next_in = (Bytef *)in;
	z->s.avail_in = (uInt)n;
	size_t start = out->len;
	for (;;) {
		/* deflateBound is for a whole stream; a sync flush adds a few bytes per call. */
		size_t want = deflateBound(&z->s, z->s.avail_in) + 16;
		if (out->cap - out->len < want && wr__buf_reserve(out, want) < 0)
			return -ENOMEM;
		z->s.next_out = out->data + out->len;
		z->s.avail_out = (uInt)(out->cap - out->len);
		int rc = deflate(&z->s, Z_SYNC_FLUSH);
		out->len = out->cap - z->s.avail_out;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -EIO;
		if (z->s.avail_in == 0 && z->s.avail_out != 0)
			break; /* all input taken and the flush fit */
	}
	/* A sync flush ends with an empty stored block, 00 00 ff ff: not sent (§7.2.1). */
	if (out->len - start >= 4 && memcmp(out->data + out->len - 4, "\0\0\xff\xff", 4) == 0)
		out->len -= 4;
	if (z->zp.nct)
		deflateReset(&z->s);
	return 0;
}

/* Feed in[0..n) through z into out, at most up to max + 1 bytes. */
static int inflate_some(wr_zstream *z, const uint8_t *in, size_t n, wr_buf *out, size_t max,
                        wr_utf8 *utf8)
{
	z->s.next_in = (Bytef *)in;
	z->s.avail_in = (uInt)n;
	for (;;) {
		if (out->len > max)
			return -EMSGSIZE;
		size_t room = out->cap - out->len;
		if (room == 0) {
			/* Double, but never past the limit plus the byte that proves it passed:
			 * the buffer is at most max + 1 bytes, whatever the peer sent. */
			size_t cap = out->cap ? out->cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			uint8_t *p = realloc(out->data, cap);
			if (!p)
				return -ENOMEM;
			out->data = p;
			out->cap = cap;
			room = out->cap - out->len;
		}
		if (room > max + 1 - out->len)
			room = max + 1 - out->len;
		uint8_t *dst = out->data + out->len;
		z->s.next_out = dst;
		z->s.avail_out = (uInt)room;
		int rc = inflate(&z->s, Z_SYNC_FLUSH);
		size_t got = room - z->s.avail_out;
		if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR)
			return -EBADMSG;
		if (rc == Z_MEM_ERROR)
			return -ENOMEM;
		out->len += got;
		if (got && utf8 && wr__utf8_feed(utf8, dst, got) < 0)
			return -EILSEQ;
		if (rc == Z_STREAM_END) {
			/* A final block (BFINAL) ends this deflate stream: what follows in the
			 * message starts a new one. */
			inflateReset(&z->s);
			if (z->s.avail_in == 0)
				return 0;
			continue;
		}
		if (z->s.avail_in == 0 && z->s.avail_out != 0)
			return 0;
		if (rc == Z_BUF_ERROR && got == 0 && z->s.avail_in == 0)
			return 0;
	}
}

int wr__z_inflate(wr_zstream *z, const uint8_t *in, size_t n, bool end, wr_buf *out,
                  size_t max, wr_utf8 *utf8)
{
	static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };
	int rc = inflate_some(z, in, n, out, max, utf8);
	if (rc == 0 && end)
		rc = inflate_some(z, tail, sizeof(tail), out, max, utf8);
	if (rc == 0 && out->len > max)
		rc = -EMSGSIZE;
	if (rc == 0 && end && utf8 && wr__utf8_finish(utf8) < 0)
		rc = -EILSEQ;
	if (rc < 0 || (end && z->zp.nct))
		inflateReset(&z->s);
	return rc;
}
