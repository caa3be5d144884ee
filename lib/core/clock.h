/* The one monotonic clock of the library: reactors, timers, the clients' deadlines and the
 * blocking TLS handshake all read time here. */
#ifndef WR_LIB_CLOCK_H
#define WR_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t wr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wr__now_ms(void)
{
	return wr__now_ns() / 1000000u;
}

/* A deadline `ms` from now, in the clock's milliseconds; 0 means none. */
static inline uint64_t wr__deadline_ms(unsigned ms)
{
	return ms ? wr__now_ms() + ms : 0;
}

#endif
