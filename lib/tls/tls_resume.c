/* Client-side resumption (RFC 8446 §2.2, RFC 5077 tickets): the session of the last
 * connection to a host, ticket included, kept in the client's TLS context and offered by the
 * next connection to the same host. One slot: a load generator or a client that reconnects to
 * one server is the case; a client of many hosts keeps the last one's. TLS 1.3 tickets arrive
 * after the handshake, with the first records read, so the session is taken when the
 * connection is freed rather than when it is established. */
#include <stdlib.h>
#include <string.h>

#include "tls_resume.h"

#if WR_HAVE_TLS

struct wr_tls_resume {
	WOLFSSL_SESSION *session; /* ours: from wolfSSL_get1_session */
	char *host;
};

struct wr_tls_resume *wr__tls_resume_new(void)
{
	return calloc(1, sizeof(struct wr_tls_resume));
}

static void forget(struct wr_tls_resume *r)
{
	if (r->session)
		wolfSSL_SESSION_free(r->session);
	free(r->host);
	r->session = NULL;
	r->host = NULL;
}

void wr__tls_resume_free(struct wr_tls_resume *r)
{
	if (!r)
		return;
	forget(r);
	free(r);
}

void wr__tls_resume_offer(struct wr_tls_resume *r, WOLFSSL *ssl, const char *host)
{
	wolfSSL_UseSessionTicket(ssl); /* TLS 1.2 needs asking; TLS 1.3 tickets come anyway */
	if (r->session && host && r->host && strcmp(host, r->host) == 0)
		wolfSSL_set_session(ssl, r->session); /* refused (expired...): a full handshake */
}

void wr__tls_resume_keep(struct wr_tls_resume *r, WOLFSSL *ssl, const char *host)
{
	if (!host)
		return;
	WOLFSSL_SESSION *s = wolfSSL_get1_session(ssl);
	if (!s)
		return;
	char *h = strdup(host);
	if (!h) {
		wolfSSL_SESSION_free(s);
		return;
	}
	forget(r);
	r->session = s;
	r->host = h;
}

#endif
