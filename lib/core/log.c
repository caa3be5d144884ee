#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "wring/common.h"

/* Set once before reactors start (documented in common.h); read-only afterwards. */
static wr_log_fn log_fn;
static void *log_user;

void wr_set_log(wr_log_fn fn, void *user)
{
	log_fn = fn;
	log_user = user;
}

void wr__log(const char *fmt, ...)
{
	if (!log_fn)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(msg, log_user);
}
