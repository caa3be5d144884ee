/* Fair under attack, live: a peer that is cut off sees a 1008 Close frame; receiving stops
 * past the high mark and resumes under the low mark; a queue stalled over the high mark is cut
 * off after the send timeout; the memory budget refuses messages with 1013 and 1009 and sends
 * with -ENOMEM, throttles then cuts the biggest holder; never-reading floods do not starve
 * another connection. Behaviour and counts are asserted here; times and figures (and the RSS
 * left after a burst) are bench/fairness's. */
/* Built twice: test_fair with receive bundles off, test_fair_bundles with them forced on
 * (-DWR_TEST_BUNDLES=1). */
#ifndef WR_TEST_BUNDLES
#define WR_TEST_BUNDLES 0
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

static atomic_int n_open, n_close, n_msg, last_close, send_rc, max_buffered;
static char last_reason[128];

static void reset(void)
{
	n_open = n_close = n_msg = last_close = send_rc = max_buffered = 0;
	last_reason[0] = 0;
}

static void on_open(wr_ws *ws, const wr_req *req, void *user) { atomic_fetch_add(&n_open, 1); }

/* Echo; "spew" answers with 16 MiB in 64 KiB messages (stopping at the first refusal);
 * "huge" sends one 9 MiB message. */
static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	atomic_fetch_add(&n_msg, 1);
	if (msg.len == 4 && !memcmp(msg.data, "spew", 4)) {
		static char chunk[64 * 1024];
		for (int i = 0; i < 256; i++) {
			int rc = wr_ws_send(ws, chunk, sizeof(chunk), WR_OP_BINARY);
			if (rc < 0) {
				send_rc = rc;
				return;
			}
		}
		return;
	}
	if (msg.len == 4 && !memcmp(msg.data, "huge", 4)) {
		size_t n = 9u << 20;
		char *p = calloc(1, n);
		send_rc = wr_ws_send(ws, p, n, WR_OP_BINARY);
		free(p);
		return;
	}
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
	int b = (int)wr_ws_buffered(ws);
	if (b > max_buffered)
		max_buffered = b;
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	size_t n = reason.len < sizeof(last_reason) - 1 ? reason.len : sizeof(last_reason) - 1;
	memcpy(last_reason, reason.data, n);
	last_reason[n] = 0;
	last_close = code;
	atomic_fetch_add(&n_close, 1);
}

static const wr_ws_handlers handlers = {
	.on_open = on_open, .on_message = on_message, .on_close = on_close,
};

static wr_server *srv;

static uint16_t start(wr_server_config cfg)
{
	reset();
	int err;
	cfg.threads = 1;
	cfg.recv_bundles = WR_TEST_BUNDLES;
	srv = wr_server_new(&cfg, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &handlers), 0);
	return live_start(srv);
}

static void stop(void)
{
	wr_server_free(srv);
	srv = NULL;
}

static void wait_for(atomic_int *v, int want, int ms)
{
	for (int i = 0; i < ms / 5 && atomic_load(v) < want; i++)
		usleep(5000);
	cr_assert_geq(atomic_load(v), want, "waited %d ms for %d, have %d", ms, want, atomic_load(v));
}

/* A WebSocket client socket with a small receive window (set before connect, so that the
 * server's output is held back by us, not by a large autotuned buffer). */
static int ws_open_small(uint16_t port)
{
	int fd = live_connect_window(port, 4096, 5);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	return fd;
}

static int ws_open(uint16_t port)
{
	int fd = live_connect(port);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	return fd;
}

/* Read frames (any size) until a Close frame: its code, or -1 when the stream ended first or
 * a frame was malformed. *out_frames counts the data frames before it. */
static int read_to_close(int fd, int *out_frames)
{
	static uint8_t buf[1 << 20];
	int frames = 0;
	for (;;) {
		uint8_t h[10];
		if (live_recv_n(fd, h, 2) != 2)
			return -1;
		int op = h[0] & 0x0f;
		uint64_t len = h[1] & 0x7f;
		if (h[1] & 0x80)
			return -1;
		if (len == 126) {
			if (live_recv_n(fd, h, 2) != 2)
				return -1;
			len = (uint64_t)h[0] << 8 | h[1];
		} else if (len == 127) {
			if (live_recv_n(fd, h, 8) != 8)
				return -1;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[i];
		}
		if (op == 8) {
			if (len < 2 || live_recv_n(fd, buf, (size_t)len) != (ssize_t)len)
				return -1;
			*out_frames = frames;
			return buf[0] << 8 | buf[1];
		}
		if (op != 2 && op != 1)
			return -1; /* only data frames come before it here */
		for (uint64_t left = len; left;) {
			size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			if (live_recv_n(fd, buf, k) != (ssize_t)k)
				return -1;
			left -= k;
		}
		frames++;
	}
}

/* Send one masked binary frame of n bytes (zero key) piece by piece: a blocking send of a
 * large frame to a server that stops reading would otherwise block the test for good. */
static int send_big(int fd, int fin, int op, size_t n)
{
	uint8_t h[14];
	static const uint8_t zero[4];
	size_t hl = live_ws_frame_header(h, fin, op, n, zero);
	if (live_send(fd, h, hl) < 0)
		return -1;
	static uint8_t chunk[64 * 1024];
	while (n) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
		if (live_send(fd, chunk, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

Test(fair, cut_off_peer_gets_a_1008_close_frame_after_whole_frames)
{
	uint16_t port = start((wr_server_config){ .max_send_buffer = 256 * 1024 });
	int fd = ws_open_small(port);
	/* 16 MiB asked for and not read: the send past 256 KiB cuts the connection off. */
	cr_assert_eq(live_ws_send(fd, 1, 2, "spew", 4), 0);
	wait_for(&n_close, 1, 5000);
	cr_assert_eq(send_rc, -ENOBUFS);
	cr_assert_eq(last_close, 1008);
	/* Now read: whole frames (what was in flight, and the rest of the frame it was in), then
	 * our Close frame with 1008, which went ahead of the rest of the queue, then EOF. */
	int frames = -1;
	int code = read_to_close(fd, &frames);
	cr_assert_eq(code, 1008, "close code %d", code);
	cr_assert_lt(frames, 256, "%d frames: the queue was not cut", frames);
	cr_assert(live_wait_eof(fd, 3000));
	close(fd);
	stop();
}

Test(fair, stalled_queue_is_cut_off_after_the_send_timeout)
{
	uint16_t port = start((wr_server_config){ .max_send_buffer = 64u << 20,
	                                          .send_high_mark = 128 * 1024,
	                                          .send_timeout_ms = 500 });
	int fd = ws_open_small(port);
	/* 16 MiB fits under the hard limit: only the stall can end this. */
	cr_assert_eq(live_ws_send(fd, 1, 2, "spew", 4), 0);
	wait_for(&n_close, 1, 5000);
	cr_assert_eq(send_rc, 0, "no send was refused");
	cr_assert_eq(last_close, 1008);
	cr_assert(strstr(last_reason, "stalled"), "reason: %s", last_reason);
	/* 16 MiB were queued: our Close frame went ahead of most of it. */
	int frames = -1;
	cr_assert_eq(read_to_close(fd, &frames), 1008);
	cr_assert_lt(frames, 200, "%d frames before the Close frame", frames);
	close(fd);
	stop();
}

/* Sends n frames of sz bytes on fd, blocking (the server may hold them back a while). */
typedef struct sender {
	int fd, n;
	size_t sz;
	int sent;
} sender;

static void *send_all(void *arg)
{
	sender *s = arg;
	for (s->sent = 0; s->sent < s->n && send_big(s->fd, 1, 2, s->sz) == 0; s->sent++)
		;
	return NULL;
}

Test(fair, receiving_pauses_over_the_high_mark_and_resumes_under_the_low_mark)
{
	const size_t high = 256 * 1024;
	uint16_t port = start((wr_server_config){ .max_send_buffer = 64u << 20,
	                                          .send_high_mark = high,
	                                          .send_low_mark = 64 * 1024,
	                                          .send_timeout_ms = 60000 });
	int fd = ws_open_small(port);
	struct timeval tv = { 60, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* 256 messages of 64 KiB (16 MiB) to echo, none read yet: the server stops taking them
	 * in, and the sender blocks. */
	enum { N = 256, SZ = 64 * 1024 };
	sender snd = { .fd = fd, .n = N, .sz = SZ };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, send_all, &snd), 0);
	wait_for(&n_msg, 1, 5000);
	int seen = n_msg;
	for (int tries = 0; tries < 100; tries++) { /* until it has been still for 300 ms */
		usleep(300 * 1000);
		if (n_msg == seen)
			break;
		seen = n_msg;
	}
	cr_assert_lt(seen, N, "all %d messages taken in: receiving never paused", seen);
	/* The queue stopped near the high mark (a share of 64 KiB and one message past it). */
	cr_assert_leq(max_buffered, (int)(high + 4 * SZ), "queue reached %d", max_buffered);
	cr_assert_eq(n_close, 0);
	/* Reading drains the queue under the low mark: receiving resumes and every message comes
	 * back. */
	static uint8_t buf[SZ];
	int got = 0, op, fin;
	while (got < N && live_ws_recv(fd, &op, &fin, buf, sizeof(buf)) == SZ)
		got++;
	pthread_join(th, NULL);
	cr_assert_eq(snd.sent, N);
	cr_assert_eq(got, N, "%d echoes of %d", got, N);
	cr_assert_eq(n_msg, N);
	close(fd);
	stop();
}

Test(fair, budget_refuses_messages_with_1013_and_1009_and_sends_with_enomem)
{
	/* The receive ring (16 x 16 KiB) is set aside from the budget: 7.75 MiB for the rest. */
	uint16_t port = start((wr_server_config){ .memory_budget = 8u << 20,
	                                          .recv_buf_count = 16,
	                                          .max_message_bytes = 32u << 20 });
	/* A holds 3 MiB: the first fragment of a message, then a ping, whose pong says the
	 * server has taken the fragment in. */
	int a = ws_open(port);
	cr_assert_eq(send_big(a, 0, 2, 3u << 20), 0);
	cr_assert_eq(live_ws_send(a, 1, 9, "sync", 4), 0);
	char buf[256];
	int op, fin;
	cr_assert_eq(live_ws_recv(a, &op, &fin, buf, sizeof(buf)), 4);
	cr_assert_eq(op, 10);
	/* B: a 6 MiB message fits the budget alone but not now: 1013, try again later. */
	int b = ws_open(port);
	send_big(b, 1, 2, 6u << 20);
	int frames;
	cr_assert_eq(read_to_close(b, &frames), 1013);
	close(b);
	/* C: 9 MiB is more than the whole budget: 1009. */
	int c = ws_open(port);
	send_big(c, 1, 2, 9u << 20);
	cr_assert_eq(read_to_close(c, &frames), 1009);
	close(c);
	/* D: a send of 9 MiB is refused with -ENOMEM; the connection stays. */
	int d = ws_open(port);
	cr_assert_eq(live_ws_send(d, 1, 2, "huge", 4), 0);
	cr_assert_eq(live_ws_send(d, 1, 2, "ok", 2), 0);
	cr_assert_eq(live_ws_recv(d, &op, &fin, buf, sizeof(buf)), 2);
	cr_assert_eq(send_rc, -ENOMEM);
	close(d);
	/* A was not harmed: its message completes and comes back whole. */
	cr_assert_eq(send_big(a, 1, 0, 1024), 0);
	static uint8_t echo[(3u << 20) + 1024];
	cr_assert_eq(live_ws_recv(a, &op, &fin, echo, sizeof(echo)), (3 << 20) + 1024);
	close(a);
	stop();
}

Test(fair, never_reading_floods_do_not_starve_another_connection)
{
	uint16_t port = start((wr_server_config){ .send_timeout_ms = 60000 });
	enum { FLOODS = 4, ECHOES = 50 };
	int fl[FLOODS];
	for (int i = 0; i < FLOODS; i++) {
		fl[i] = ws_open_small(port);
		/* 1 MiB messages until our send blocks (the server stopped reading), bounded. */
		struct timeval tv = { 0, 200 * 1000 };
		setsockopt(fl[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		for (int k = 0; k < 64 && send_big(fl[i], 1, 2, 1u << 20) == 0; k++)
			;
	}
	/* The floods are all still there, paused; the canary gets every echo. */
	int canary = ws_open(port);
	char buf[64];
	int op, fin, got = 0;
	for (int i = 0; i < ECHOES; i++) {
		char m[16];
		snprintf(m, sizeof(m), "canary %03d", i);
		cr_assert_eq(live_ws_send(canary, 1, 1, m, strlen(m)), 0);
		ssize_t n = live_ws_recv(canary, &op, &fin, buf, sizeof(buf));
		if (n == (ssize_t)strlen(m) && !memcmp(buf, m, (size_t)n))
			got++;
	}
	cr_assert_eq(got, ECHOES);
	cr_assert_eq(n_close, 0, "a flood was cut off before the canary was done");
	close(canary);
	for (int i = 0; i < FLOODS; i++)
		close(fl[i]);
	stop();
}

Test(fair, budget_throttles_then_cuts_the_biggest_holder)
{
	/* The receive ring (16 x 16 KiB) is set aside from the budget: 4.75 MiB for the rest. */
	uint16_t port = start((wr_server_config){ .memory_budget = 5u << 20,
	                                          .recv_buf_count = 16,
	                                          .max_message_bytes = 32u << 20,
	                                          .send_timeout_ms = 500 });
	int small = ws_open(port);
	/* The first 4 MiB of a message: its buffer passes 3/4 of the budget, so its connection,
	 * the biggest holder, stops being read; it cannot finish, and is cut off. (A frame
	 * received directly takes what it holds, not the next power of two: 3 MiB would stay
	 * under 3/4.) */
	int big = ws_open(port);
	struct timeval tv = { 2, 0 };
	setsockopt(big, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	send_big(big, 0, 2, 4u << 20);
	wait_for(&n_close, 1, 5000);
	cr_assert_eq(last_close, 1008);
	cr_assert(strstr(last_reason, "budget"), "reason: %s", last_reason);
	int frames;
	cr_assert_eq(read_to_close(big, &frames), 1008);
	close(big);
	/* The small connection was not touched. */
	char buf[64];
	int op, fin;
	cr_assert_eq(live_ws_send(small, 1, 1, "still", 5), 0);
	cr_assert_eq(live_ws_recv(small, &op, &fin, buf, sizeof(buf)), 5);
	cr_assert_eq(n_close, 1);
	close(small);
	stop();
}

/* A message of n 1-byte frames (zero mask key): the first binary, the rest continuations, the
 * last with FIN when fin. */
static size_t fragments(uint8_t *out, unsigned n, bool fin)
{
	static const uint8_t zero[4];
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		len += live_ws_frame_header(out + len, fin && i == n - 1, i ? 0 : 2, 1, zero);
		out[len++] = (uint8_t)('a' + i % 26);
	}
	return len;
}

Test(fair, a_message_in_more_than_max_message_frames_closes_with_1009)
{
	uint16_t port = start((wr_server_config){ .max_message_frames = 100 });
	static uint8_t b[101 * 7];
	/* 100 frames: the limit, taken whole and echoed. */
	int fd = ws_open(port);
	cr_assert_eq(live_send(fd, b, fragments(b, 100, true)), 0);
	char buf[256];
	int op, fin;
	ssize_t n = live_ws_recv(fd, &op, &fin, buf, sizeof(buf));
	cr_assert_eq(n, 100);
	cr_assert(fin && op == 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(buf[i], 'a' + i % 26);
	/* 101 frames: the 101st is refused with 1009 before it is taken in. */
	cr_assert_eq(live_send(fd, b, fragments(b, 101, false)), 0);
	int frames = -1;
	cr_assert_eq(read_to_close(fd, &frames), 1009);
	cr_assert_eq(frames, 0);
	wait_for(&n_close, 1, 5000);
	cr_assert_eq(last_close, 1009);
	cr_assert_str_eq(last_reason, "message in too many fragments");
	cr_assert_eq(n_msg, 1);
	close(fd);
	/* -1u: any number of frames. */
	stop();
	port = start((wr_server_config){ .max_message_frames = -1u });
	fd = ws_open(port);
	cr_assert_eq(live_send(fd, b, fragments(b, 101, true)), 0);
	cr_assert_eq(live_ws_recv(fd, &op, &fin, buf, sizeof(buf)), 101);
	close(fd);
	stop();
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct {
	int fd;
	atomic_bool stop;
	uint64_t sent;
} frag_flood;

/* Messages of 4,000 1-byte fragments (under the frame limit, so that only the fair shares hold
 * them back), as fast as the socket takes them; the echoes are read and dropped. Bounded by
 * the flag and by 20 s. */
static void *frag_flood_run(void *arg)
{
	frag_flood *f = arg;
	enum { FRAMES = 4000 };
	static _Thread_local uint8_t msg[FRAMES * 7];
	size_t len = fragments(msg, FRAMES, true), off = 0;
	static _Thread_local uint8_t sink[64 * 1024];
	struct timeval tv = { 0, 20 * 1000 };
	setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < 20 * 1000 && !atomic_load(&f->stop); i++) {
		ssize_t w = send(f->fd, msg + off, len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off = (off + (size_t)w) % len;
			f->sent += (uint64_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			break;
		}
		while (recv(f->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	return NULL;
}

Test(fair, a_fragment_flood_does_not_starve_another_connection)
{
	uint16_t port = start((wr_server_config){ 0 });
	enum { FLOODS = 4, ECHOES = 100 };
	frag_flood fl[FLOODS];
	pthread_t th[FLOODS];
	for (int i = 0; i < FLOODS; i++) {
		fl[i] = (frag_flood){ .fd = ws_open(port) };
		cr_assert_eq(pthread_create(&th[i], NULL, frag_flood_run, &fl[i]), 0);
	}
	usleep(200 * 1000);
	int canary = ws_open(port);
	char buf[64];
	int op, fin, got = 0;
	uint64_t worst = 0;
	for (int i = 0; i < ECHOES; i++) {
		char m[16];
		snprintf(m, sizeof(m), "canary %03d", i);
		uint64_t t0 = now_ms();
		cr_assert_eq(live_ws_send(canary, 1, 1, m, strlen(m)), 0);
		ssize_t n = live_ws_recv(canary, &op, &fin, buf, sizeof(buf));
		uint64_t dt = now_ms() - t0;
		worst = dt > worst ? dt : worst;
		if (n == (ssize_t)strlen(m) && !memcmp(buf, m, (size_t)n))
			got++;
		usleep(5000);
	}
	int during = atomic_load(&n_msg);
	for (int i = 0; i < FLOODS; i++) {
		atomic_store(&fl[i].stop, true);
		pthread_join(th[i], NULL);
	}
	cr_assert_eq(got, ECHOES);
	/* Measured: the canary's worst echo a few ms (README, "Fair under attack"); the bound is
	 * far from it, so that only starvation fails it, not a loaded machine. */
	cr_assert_lt(worst, 1000, "the canary's worst echo took %llu ms", (unsigned long long)worst);
	/* The floods were served too (fragments are not refused, only shared out), and none was
	 * cut off. */
	cr_assert_gt(during, ECHOES, "%d messages: the floods' were not taken", during);
	for (int i = 0; i < FLOODS; i++)
		cr_assert_gt(fl[i].sent, 4000 * 7, "flood %d sent %llu bytes", i,
		             (unsigned long long)fl[i].sent);
	cr_assert_eq(n_close, 0);
	close(canary);
	for (int i = 0; i < FLOODS; i++)
		close(fl[i].fd);
	stop();
}
