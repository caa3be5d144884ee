/* wr_strerror: what each error code means when wring returns it. Codes with a wring-specific
 * meaning get their own text; any other errno (passed through from the kernel) gets glibc's
 * description. Only static strings are returned, so it is thread-safe. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "wring/common.h"

const char *wr_strerror(int err)
{
	if (err >= 0 || err == INT_MIN)
		return "unknown error";
	switch (-err) {
	case EAGAIN:
		return "need more input (try again)";
	case EBADMSG:
		return "malformed input";
	case EMSGSIZE:
		return "message or header too large";
	case EILSEQ:
		return "invalid UTF-8";
	case ENOSPC:
		return "output buffer too small";
	case ENOMEM:
		return "out of memory";
	case EINVAL:
		return "invalid argument";
	case EPROTO:
		return "protocol error";
	case ECANCELED:
		return "operation canceled";
	case ETIMEDOUT:
		return "timed out";
	case ECONNRESET:
		return "connection reset by peer";
	case EPIPE:
		return "connection closed";
	case ENOTCONN:
		return "not connected";
	case ECONNREFUSED:
		return "connection refused";
	case ESHUTDOWN:
		return "shutting down";
	case ENOBUFS:
		return "no buffer available";
	case EOVERFLOW:
		return "value too large";
	case ENOTSUP:
		return "not supported";
	case EALREADY:
		return "already in progress";
	case EBUSY:
		return "busy";
	case ENOENT:
		return "not found";
	case EKEYREJECTED:
		return "TLS peer certificate rejected";
	}
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *desc = strerrordesc_np(-err);
	if (desc)
		return desc;
#endif
	return "unknown error";
}
