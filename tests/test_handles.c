/* Handles from any thread: threads send to connections (wr_server_send) while those close and
 * their slots are reused by new ones. Every send returns 0 or -ESTALE (or -EAGAIN when the
 * inbox is full), a closed connection's handle is stale, and no peer ever gets a message meant
 * for another. Also run under TSan (tests/run, build-tsan). */
#ifdef WR_TAP_SHIM
#include "tap_shim.h"
#else
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "live.h"

#define NCONN 12
static wr_server *srv;
static _Atomic uint64_t handle_of[NCONN]; /* by the id each client announces */
static atomic_bool have[NCONN];            /* (a handle may be 0) */
static atomic_bool stop_senders;
static atomic_int bad_rc;

/* The first message a client sends is its id: the server files the handle under it. */
static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	if (!wr_ws_data(ws)) {
		int id = atoi((const char *)msg.data);
		wr_ws_set_data(ws, (void *)1);
		if (id >= 0 && id < NCONN)
		{
			atomic_store(&handle_of[id], wr_ws_handle(ws).v);
			atomic_store(&have[id], true);
		}
	}
}

static void *sender(void *arg)
{
	long n = 0;
	while (!atomic_load(&stop_senders)) {
		for (int id = 0; id < NCONN; id++) {
			if (!atomic_load(&have[id]))
				continue;
			uint64_t v = atomic_load(&handle_of[id]);
			char t[8];
			int len = snprintf(t, sizeof(t), "%d", id);
			int rc = wr_server_send(srv, (wr_handle){ v }, t, (size_t)len, WR_OP_TEXT);
			if (rc != 0 && rc != -ESTALE && rc != -EAGAIN)
				atomic_store(&bad_rc, rc);
		}
		if (++n % 16 == 0)
			usleep(200);
	}
	return NULL;
}

static int open_client(uint16_t port, int id)
{
	int fd = live_connect(port);
	cr_assert_geq(fd, 0);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	char t[8];
	int len = snprintf(t, sizeof(t), "%d", id);
	cr_assert_eq(live_ws_send(fd, 1, WR_OP_TEXT, t, (size_t)len), 0);
	/* Generous: under TSan on a loaded machine a handshake can take seconds. */
	for (int i = 0; i < 2000 && !atomic_load(&have[id]); i++)
		usleep(5000);
	cr_assert(atomic_load(&have[id]));
	return fd;
}

/* Read what came for id until quiet: every text frame must carry id. Returns frames read. */
static int drain_own(int fd, int id)
{
	char buf[64];
	int op, fin, n = 0;
	ssize_t got;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((got = live_ws_recv(fd, &op, &fin, buf, sizeof(buf) - 1)) >= 0) {
		if (op == WR_OP_CLOSE)
			break;
		buf[got] = 0;
		cr_assert_eq(op, WR_OP_TEXT);
		cr_assert_eq(atoi(buf), id, "connection %d got a message for %s", id, buf);
		n++;
	}
	return n;
}

Test(handles, threads_send_while_connections_close_and_slots_are_reused, .timeout = 60)
{
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = 2 }, &err);
	cr_assert(srv, "%s", wr_strerror(err));
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_message }), 0);
	uint16_t port = live_start(srv);
	int fds[NCONN];
	for (int i = 0; i < 8; i++)
		fds[i] = open_client(port, i);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, sender, NULL);
	usleep(100000);
	/* Close four while the senders go on; new connections take their slots. */
	for (int i = 0; i < 4; i++) {
		wr_handle old = { atomic_load(&handle_of[i]) };
		live_ws_send(fds[i], 1, WR_OP_CLOSE, "\x03\xe8", 2);
		drain_own(fds[i], i);
		close(fds[i]);
		/* The slot is freed once the close is done: eventually, not by a deadline. */
		for (int k = 0; k < 2000 && wr_server_send(srv, old, "x", 1, WR_OP_TEXT) != -ESTALE; k++)
			usleep(5000);
		cr_assert_eq(wr_server_send(srv, old, "x", 1, WR_OP_TEXT), -ESTALE);
		cr_assert_eq(wr_server_close(srv, old, 0, NULL), -ESTALE);
	}
	for (int i = 8; i < NCONN; i++)
		fds[i] = open_client(port, i);
	/* One closed from another thread by handle. */
	cr_assert_eq(wr_server_close(srv, (wr_handle){ atomic_load(&handle_of[4]) }, 4000, "bye"), 0);
	usleep(200000);
	atomic_store(&stop_senders, true);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&bad_rc), 0, "a send returned %d", atomic_load(&bad_rc));
	for (int i = 5; i < NCONN; i++)
		cr_assert_gt(drain_own(fds[i], i), 0, "connection %d got nothing", i);
	/* The one closed by handle got its close code. */
	char buf[64];
	int op = 0, fin;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fds[4], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (live_ws_recv(fds[4], &op, &fin, buf, sizeof(buf)) >= 0 && op != WR_OP_CLOSE)
		;
	cr_assert_eq(op, WR_OP_CLOSE);
	cr_assert_eq(((uint8_t)buf[0] << 8) | (uint8_t)buf[1], 4000);
	for (int i = 4; i < NCONN; i++)
		close(fds[i]);
	cr_assert_eq(wr_server_send(srv, (wr_handle){ 0xff00000000000000ull }, "x", 1, WR_OP_TEXT), -EINVAL);
	cr_assert_eq(wr_server_send(srv, (wr_handle){ atomic_load(&handle_of[5]) }, "\xff", 1,
	                            WR_OP_TEXT), -EINVAL);
	wr_server_free(srv);
}
