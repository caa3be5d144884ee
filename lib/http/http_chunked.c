/* Chunked transfer coding (RFC 9112 §7.1): a byte-at-a-time state machine, so that input may be
 * cut anywhere, with a bulk copy for chunk data. Decoding writes at or behind the read position,
 * which makes decoding in place (out == in) safe.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Strict where a lenient reading would let two parsers disagree on where the body ends: CRLF is
 * required everywhere (no bare LF), sizes have at most 16 hex digits and no surrounding
 * whitespace unless an extension follows, trailer fields may not be folded. */
#include <errno.h>
#include <string.h>

#include "http_parse.h"

/* Bounds on bytes the decoder skips without passing them on. */
#define EXT_MAX 4096      /* chunk extensions, per size line */
#define TRAILER_MAX 8192  /* the whole trailer section */
#define SIZE_DIGITS_MAX 16

enum {
	S_SIZE,          /* first hex digit of a chunk size */
	S_SIZE_MORE,     /* more hex digits, ';', BWS or CR */
	S_SIZE_BWS,      /* whitespace after the size: only ';' may follow */
	S_EXT,           /* inside chunk extensions, up to CR */
	S_SIZE_LF,       /* CR of the size line seen */
	S_DATA,
	S_DATA_CR,       /* CRLF after chunk data */
	S_DATA_LF,
	S_TRAILER_START, /* start of a trailer line, or of the final CRLF */
	S_TRAILER_NAME,
	S_TRAILER_VALUE,
	S_TRAILER_LF,
	S_END_LF,
	S_DONE,
	S_ERROR,
};

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static inline bool is_tchar(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in extensions and trailer values: no CTLs but HTAB, no DEL. */
static inline bool is_text(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void wr__chunked_init(wr_chunked *d, uint64_t max)
{
	memset(d, 0, sizeof(*d));
	d->state = S_SIZE;
	d->max = max;
}

int wr__chunked_decode(wr_chunked *d, const char *in, size_t len, size_t *out_consumed,
                       char *out, size_t *out_len)
{
	size_t i = 0, o = 0;
	int rc = -EBADMSG;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		int h;

		switch (d->state) {
		case S_SIZE:
			h = hexval(c);
			if (h < 0)
				goto fail;
			d->remaining = (uint64_t)h;
			d->digits = 1;
			d->ext_len = 0;
			d->state = S_SIZE_MORE;
			i++;
			break;
		case S_SIZE_MORE:
			h = hexval(c);
			if (h >= 0) {
				if (++d->digits > SIZE_DIGITS_MAX)
					goto fail;
				d->remaining = d->remaining << 4 | (uint64_t)h;
			} else if (c == ';') {
				d->state = S_EXT;
			} else if (c == ' ' || c == '\t') {
				d->state = S_SIZE_BWS;
			} else if (c == '\r') {
				d->state = S_SIZE_LF;
			} else {
				goto fail;
			}
			i++;
			break;
		case S_SIZE_BWS:
			if (c == ';')
				d->state = S_EXT;
			else if (c != ' ' && c != '\t')
				goto fail;
			if (++d->ext_len > EXT_MAX)
				goto fail;
			i++;
			break;
		case S_EXT:
			if (c == '\r')
				d->state = S_SIZE_LF;
			else if (!is_text(c) || ++d->ext_len > EXT_MAX)
				goto fail;
			i++;
			break;
		case S_SIZE_LF:
			if (c != '\n')
				goto fail;
			i++;
			/* Sizes are kept below 2^63 so that they fit every signed length downstream. */
			if (d->remaining > (uint64_t)INT64_MAX)
				goto fail;
			if (d->max && d->remaining > d->max - d->total) {
				rc = -EFBIG;
				goto fail;
			}
			if (d->remaining == 0) {
				d->ext_len = 0;
				d->state = S_TRAILER_START;
			} else {
				d->state = S_DATA;
			}
			break;
		case S_DATA: {
			size_t n = len - i;
			if (n > d->remaining)
				n = (size_t)d->remaining;
			if (out + o != in + i)
				memmove(out + o, in + i, n);
			i += n;
			o += n;
			d->remaining -= n;
			d->total += n;
			if (d->remaining == 0)
				d->state = S_DATA_CR;
			break;
		}
		case S_DATA_CR:
			if (c != '\r')
				goto fail;
			d->state = S_DATA_LF;
			i++;
			break;
		case S_DATA_LF:
			if (c != '\n')
				goto fail;
			d->state = S_SIZE;
			i++;
			break;
		case S_TRAILER_START:
			if (c == '\r')
				d->state = S_END_LF;
			else if (is_tchar(c))
				d->state = S_TRAILER_NAME;
			else
				goto fail; /* includes obs-fold and bare LF */
			if (++d->ext_len > TRAILER_MAX)
				goto fail;
			i++;
			break;
		case S_TRAILER_NAME:
			if (c == ':')
				d->state = S_TRAILER_VALUE;
			else if (!is_tchar(c))
				goto fail;
			if (++d->ext_len > TRAILER_MAX)
				goto fail;
			i++;
			break;
		case S_TRAILER_VALUE:
			if (c == '\r')
				d->state = S_TRAILER_LF;
			else if (!is_text(c))
				goto fail;
			if (++d->ext_len > TRAILER_MAX)
				goto fail;
			i++;
			break;
		case S_TRAILER_LF:
			if (c != '\n')
				goto fail;
			d->state = S_TRAILER_START;
			i++;
			break;
		case S_END_LF:
			if (c != '\n')
				goto fail;
			d->state = S_DONE;
			i++;
			*out_consumed = i;
			*out_len = o;
			return 1;
		case S_DONE:
			*out_consumed = i;
			*out_len = o;
			return 1;
		case S_ERROR:
		default:
			return -EBADMSG;
		}
	}
	*out_consumed = i;
	*out_len = o;
	return d->state == S_DONE ? 1 : 0;

fail:
	d->state = S_ERROR;
	return rc;
}
