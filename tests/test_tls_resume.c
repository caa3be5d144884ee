/* TLS resumption: a wr_loop client with wr_tls_config.resume offers the ticket of its last
 * connection to the host and the wring server takes it (both ends report it through
 * wr_ws_tls_resumed); without resume every handshake is a full one. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

#if WR_HAVE_TLS

#define LIVE_CERT_ENV "WR_TEST_TLS_RESUME_DIR"
#define LIVE_CERT_PREFIX "wring-test-resume"
#include "live_cert.h"

/* The server's view, in connection order. */
static atomic_int server_opens;
static atomic_bool server_resumed[8];

static void srv_open(wr_ws *ws, const wr_req *req, void *user)
{
	int i = atomic_fetch_add(&server_opens, 1);
	if (i < 8)
		atomic_store(&server_resumed[i], wr_ws_tls_resumed(ws));
}

static void srv_echo(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

typedef struct run {
	wr_loop *loop;
	bool opened, resumed, echoed, closed;
} run;

static void cl_open(wr_ws *ws, const wr_req *req, void *user)
{
	run *r = user;
	r->opened = true;
	r->resumed = wr_ws_tls_resumed(ws);
	wr_ws_send_text(ws, "after the handshake");
}

static void cl_message(wr_ws *ws, wr_msg msg, void *user)
{
	run *r = user;
	r->echoed = msg.len == 19 && !memcmp(msg.data, "after the handshake", 19);
	wr_ws_close(ws, WR_CLOSE_NORMAL, "");
}

static void cl_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	run *r = user;
	r->closed = true;
	wr_loop_stop(r->loop);
}

/* n connections one after another on one loop (so one client TLS context); resumed[i] says
 * what the client saw on the i-th. */
static void connect_n(bool resume, int n, bool *resumed)
{
	static wr_tls_config stls;
	stls = (wr_tls_config){ .cert_file = live_cert_file(0, "cert.pem"), .key_file = live_cert_file(1, "key.pem") };
	int err = 0;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1, .tls = &stls }, &err);
	cr_assert_not_null(srv, "wr_server_new: %s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_open = srv_open,
	                                                          .on_message = srv_echo }), 0);
	uint16_t port = live_start(srv);
	char url[64];
	snprintf(url, sizeof(url), "wss://localhost:%u/ws", port);
	wr_tls_config ctls = { .ca_file = live_cert_file(0, "cert.pem"), .resume = resume };
	wr_loop *loop = wr_loop_new(&(wr_loop_config){ .cpu = -1 }, &err);
	cr_assert_not_null(loop);
	for (int i = 0; i < n; i++) {
		run r = { .loop = loop };
		wr_ws_handlers h = { .on_open = cl_open, .on_message = cl_message, .on_close = cl_close,
		                     .user = &r };
		cr_assert_eq(wr_loop_connect(loop, url, &(wr_client_options){ .tls = &ctls }, &h), 0);
		wr_loop_run(loop);
		cr_assert(r.opened && r.echoed && r.closed, "connection %d: opened %d echoed %d closed %d",
		          i, r.opened, r.echoed, r.closed);
		resumed[i] = r.resumed;
	}
	wr_loop_free(loop);
	/* Plaintext on the TLS port: answered, and counted as a TLS refusal. */
	int fd = live_connect(port);
	live_send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[256];
	live_recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	close(fd);
	/* The metrics count the handshakes as the client saw them. */
	wr_stats *st;
	cr_assert_eq(wr_server_stats(srv, &st), 0);
	uint64_t n_resumed = 0;
	for (int i = 0; i < n; i++)
		n_resumed += resumed[i];
	cr_expect_eq(st->tls_resumed, n_resumed);
	cr_expect_eq(st->tls_full, (uint64_t)n - n_resumed);
	cr_expect_eq(st->refused[WR_STATS_REFUSED_TLS], 1);
	wr_stats_free(st);
	wr_server_free(srv);
	cr_assert_eq(atomic_load(&server_opens), n);
}

Test(tls_resume, second_connection_resumes)
{
	bool resumed[3];
	connect_n(true, 3, resumed);
	cr_expect(!resumed[0], "the first handshake is a full one");
	cr_expect(resumed[1] && resumed[2], "later ones resume: %d %d", resumed[1], resumed[2]);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(atomic_load(&server_resumed[i]), resumed[i], "server agrees on %d", i);
}

Test(tls_resume, without_resume_every_handshake_is_full)
{
	bool resumed[2];
	connect_n(false, 2, resumed);
	cr_expect(!resumed[0] && !resumed[1]);
	cr_expect(!atomic_load(&server_resumed[0]) && !atomic_load(&server_resumed[1]));
}

#else

Test(tls_resume, not_built)
{
	cr_expect(!wr_ws_tls_resumed(NULL) || true);
}

#endif
