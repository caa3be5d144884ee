/* A self-signed localhost certificate (EC P-256, SAN localhost and 127.0.0.1) made once per
 * test run for the TLS live tests: the runner's hooks make and remove it, the workers inherit
 * its folder through the environment. Header-only because Criterion's report hooks must be
 * defined in the test program itself; define LIVE_CERT_ENV (the variable naming the folder)
 * and LIVE_CERT_PREFIX (the folder's name under /tmp) before including it, once per program. */
#ifndef WR_TESTS_LIVE_CERT_H
#define WR_TESTS_LIVE_CERT_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char tmpl[] = "/tmp/" LIVE_CERT_PREFIX ".XXXXXX";
	if (!mkdtemp(tmpl))
		return;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
	         "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	         "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1", tmpl, tmpl);
	if (system(cmd) == 0)
		setenv(LIVE_CERT_ENV, tmpl, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	static const char prefix[] = "/tmp/" LIVE_CERT_PREFIX ".";
	const char *d = getenv(LIVE_CERT_ENV);
	if (d && !strncmp(d, prefix, sizeof(prefix) - 1)) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d);
	}
}

/* The path of name ("cert.pem", "key.pem") in the run's folder; slot 0 or 1, so that two
 * paths can be used in one expression. */
static const char *live_cert_file(int slot, const char *name)
{
	static char paths[2][512];
	const char *d = getenv(LIVE_CERT_ENV);
	cr_assert_not_null(d, "certificates were not generated (is openssl installed?)");
	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", d, name);
	return paths[slot];
}

#endif
