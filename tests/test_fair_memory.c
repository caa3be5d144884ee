/* Memory handed back after a burst, live: the server (in this process) echoes a burst of
 * 1 MiB messages on many connections, held back by readers that come late; the RSS it grew to
 * must go back near where it was once the burst is over. A test process of its own: under
 * ASan the quarantine is off here (freed memory would otherwise be held on purpose), which
 * would weaken the other live tests' use-after-free checks. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0:allocator_release_to_os_interval_ms=100";
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* One masked binary frame of n bytes from p (zero key: sent as it is). */
static int send_frame(int fd, const uint8_t *p, size_t n)
{
	uint8_t h[14];
	static const uint8_t zero[4];
	size_t hl = live_ws_frame_header(h, 1, 2, n, zero);
	return live_send(fd, h, hl) < 0 || live_send(fd, p, n) < 0 ? -1 : 0;
}

/* A client socket with a small receive window (set before connect): the server's echoes wait
 * in its own queues, not in a large autotuned socket buffer. */
static int connect_small(uint16_t port)
{
	int fd = live_connect_window(port, 4096, 10);
	cr_assert_eq(live_ws_handshake(fd, "/ws"), 0);
	return fd;
}

enum { SZ = 1 << 20 };
static uint8_t burst_out[SZ], burst_in[SZ]; /* what each burst message carries; what an echo brought */

/* The server, warmed by one small echo; the RSS it then has. The burst's buffers are filled
 * (with fill) first: the test's own pages are resident before the baseline. */
static wr_server *start_warm(uint16_t *port, long *base, int fill)
{
	memset(burst_out, fill, sizeof(burst_out));
	memset(burst_in, 0, sizeof(burst_in));
	int err, op, fin;
	wr_server *srv = wr_server_new(&(wr_server_config){ .threads = 1 }, &err);
	cr_assert_not_null(srv);
	cr_assert_eq(wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_message = on_message }), 0);
	*port = live_start(srv);
	int w = live_connect(*port);
	cr_assert_eq(live_ws_handshake(w, "/ws"), 0);
	cr_assert_eq(send_frame(w, burst_out, 1000), 0);
	cr_assert_eq(live_ws_recv(w, &op, &fin, burst_in, sizeof(burst_in)), 1000);
	close(w);
	usleep(300 * 1000);
	*base = rss_kib();
	return srv;
}

/* Reads n echoes of out (sz bytes each) on fd, checking every byte. */
static void read_echoes(int fd, const uint8_t *out, uint8_t *in, size_t sz, int n)
{
	int op, fin;
	for (int k = 0; k < n; k++) {
		cr_assert_eq(live_ws_recv(fd, &op, &fin, in, sz), (int)sz, "echo %d", k);
		cr_assert(!memcmp(in, out, sz));
	}
}

/* Once the burst is over the server gives its memory back within a few seconds: all but
 * 8 MiB of it. Under ASan its allocator, not glibc's, holds the heap (malloc_trim does not
 * reach it) and shadow memory stays: there, at least half of the growth must go back. */
static void assert_rss_back(long base, long peak)
{
#ifdef __SANITIZE_ADDRESS__
	long allowed = (peak - base) / 2;
#else
	long allowed = 8 * 1024;
#endif
	long now = rss_kib();
	for (int i = 0; i < 100 && now - base > allowed; i++) {
		usleep(100 * 1000);
		now = rss_kib();
	}
	cr_log_info("RSS: base %ld KiB, burst +%ld KiB, after +%ld KiB", base, peak - base, now - base);
	cr_assert_leq(now - base, allowed, "RSS %ld KiB over its baseline (peak +%ld KiB)",
	              now - base, peak - base);
}

/* The burst: n connections each send msgs messages of out (sz bytes) before anyone reads;
 * the RSS it grew the server to. */
static long send_burst(uint16_t port, int *fd, int n, const uint8_t *out, size_t sz, int msgs)
{
	for (int i = 0; i < n; i++) {
		fd[i] = connect_small(port);
		for (int k = 0; k < msgs; k++)
			cr_assert_eq(send_frame(fd[i], out, sz), 0);
	}
	usleep(500 * 1000);
	return rss_kib();
}

Test(fair_memory, rss_goes_back_after_a_burst, .timeout = 120)
{
	enum { CONNS = 16, MSGS = 4 };
	uint16_t port;
	long base;
	wr_server *srv = start_warm(&port, &base, 'x');

	int fd[CONNS];
	long peak = send_burst(port, fd, CONNS, burst_out, SZ, MSGS);
	for (int i = 0; i < CONNS; i++) {
		read_echoes(fd[i], burst_out, burst_in, SZ, MSGS);
		close(fd[i]);
	}
	cr_assert_geq(peak - base, 16 * 1024, "the burst grew RSS by %ld KiB only", peak - base);
	assert_rss_back(base, peak);
	wr_server_free(srv);
}

/* A burst that ends in two steps, as a flood's connections are cut off one by one: most of
 * it goes (and the server trims), then, over a second later, the rest. The echoes queued on
 * the last connections were handed to the send queue as their message buffers, so what
 * frees them is the send queue, not the protocol: the server must still see that the memory
 * it counts fell, and give it back. The connections are interleaved so that what is freed
 * last lies between what went first, not at the top of the heap (which glibc trims alone). */
Test(fair_memory, rss_goes_back_when_a_burst_ends_in_two_steps, .timeout = 120)
{
	enum { CONNS = 32, MSGS = 4, LAST_EVERY = 4 };
	uint16_t port;
	long base;
	wr_server *srv = start_warm(&port, &base, 'y');

	int fd[CONNS];
	long peak = send_burst(port, fd, CONNS, burst_out, SZ, MSGS);
	cr_assert_geq(peak - base, 32 * 1024, "the burst grew RSS by %ld KiB only", peak - base);
	/* Step one: three connections in four go without reading (the server's sends fail). */
	for (int i = 0; i < CONNS; i++)
		if (i % LAST_EVERY) {
			close(fd[i]);
			fd[i] = -1;
		}
	sleep(3); /* past the trim that step one allows (at most one a second) */
	long mid = rss_kib();
	/* Step two: the rest read their echoes and close. */
	for (int i = 0; i < CONNS; i += LAST_EVERY) {
		read_echoes(fd[i], burst_out, burst_in, SZ, MSGS);
		close(fd[i]);
	}
	/* The eight left hold a little over 1 MiB each; what the others held must have gone. */
	cr_log_info("RSS after step one: +%ld KiB (peak +%ld KiB)", mid - base, peak - base);
	cr_assert_leq(mid - base, (peak - base) / 2, "RSS after step one +%ld KiB (peak +%ld KiB)",
	              mid - base, peak - base);
	assert_rss_back(base, peak);
	wr_server_free(srv);
}
