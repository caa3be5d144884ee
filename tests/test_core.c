/* The core on its own: a reactor and connections on socket pairs, with a small protocol
 * table written here. No HTTP, no WebSocket: what the core promises it keeps by itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h"

static wr_reactor *new_reactor_b(bool bundles)
{
	const wr_reactor_config cfg = { .max_conns = 128, .recv_buf_count = 16, .recv_buf_size = 4096,
	                                .max_send_buffer = 64u << 20, .linger_ms = 200,
	                                .stop_ms = 500, .recv_bundles = bundles };
	wr_reactor *r;
	cr_assert_eq(wr__reactor_new(&cfg, &r), 0);
	return r;
}

static wr_reactor *new_reactor(void) { return new_reactor_b(false); }

/* What the test protocol saw. */
static struct {
	int gone, gone_err;
	const char *gone_why;
	size_t bytes;
	int done_calls, done_status, done_early;
	wr_conn *c;
} seen;

static void t_data(wr_conn *c, uint8_t *p, size_t n) { seen.bytes += n; }
static void t_gone(wr_conn *c, int err, const char *why)
{
	seen.gone++;
	seen.gone_err = err;
	seen.gone_why = why;
}
static const wr_proto test_proto = { .name = "test", .on_data = t_data, .on_gone = t_gone };

static wr_conn *pair_conn(wr_reactor *r, int *out_peer)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	wr_conn *c = wr__conn_new(r, sv[0]);
	cr_assert_not_null(c);
	wr__conn_set_proto(c, &test_proto, NULL);
	wr__conn_recv_arm(c);
	*out_peer = sv[1];
	return c;
}

/* Drive the loop for about ms milliseconds (turns end at least every 100 ms tick). */
static void run_for(wr_reactor *r, unsigned ms)
{
	uint64_t end = wr__now_ns() + (uint64_t)ms * 1000000u;
	while (wr__now_ns() < end)
		cr_assert_eq(wr__reactor_turn(r), 0);
}

Test(core, gone_once_with_the_cause)
{
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor();
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	cr_assert_eq(write(peer, "hello", 5), 5);
	close(peer);
	run_for(r, 50);
	cr_assert_eq(seen.bytes, 5);
	cr_assert_eq(seen.gone, 1);
	cr_assert_eq(seen.gone_err, 0, "end of stream is err 0, got %d", seen.gone_err);
	cr_assert_eq(c->state, WR_CONN_FREE, "freed once nothing was in flight");
	wr__reactor_free(r);
}

Test(core, protocol_close_reports_gone_too)
{
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor();
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	wr__conn_close(c, "done here");
	cr_assert_eq(seen.gone, 1);
	cr_assert_eq(seen.gone_err, 0);
	cr_assert_str_eq(seen.gone_why, "done here");
	wr__conn_abort(c, -EIO, "later");
	cr_assert_eq(seen.gone, 1);
	close(peer);
	run_for(r, 30);
	wr__reactor_free(r);
}

/* A zero-copy completion must not run while the kernel still holds the buffer: a send parked
 * on a full socket is still reading it when the connection is closed. */
#define ZC_LEN (8u << 20)

static void zc_done(const void *data, int status, void *user)
{
	if (seen.c->flags & WR_CF_SENDING)
		seen.done_early = 1; /* the caller may now free what the kernel is sending */
	seen.done_calls++;
	seen.done_status = status;
}

static void abort_it(void *user)
{
	if (seen.c->state == WR_CONN_OPEN && (seen.c->flags & WR_CF_SENDING))
		wr__conn_abort(seen.c, -ECANCELED, "test");
}

Test(core, zc_completion_waits_for_the_kernel)
{
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor();
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	seen.c = c;
	uint8_t *buf = malloc(ZC_LEN);
	memset(buf, 'a', ZC_LEN);
	cr_assert_eq(wr__conn_write_ext(c, "hdr", 3, buf, ZC_LEN, zc_done, NULL), 0);
	cr_assert_eq(wr__reactor_every(r, 30, abort_it, NULL), 0);
	run_for(r, 200);
	cr_assert_eq(seen.done_calls, 1);
	cr_assert_lt(seen.done_status, 0);
	cr_assert_eq(seen.done_early, 0, "completion ran while the send was in flight");
	close(peer);
	wr__reactor_free(r);
	free(buf);
}

/* The transport table is the only way bytes go out: a queued write lands in the raw queue
 * of a plain connection and reaches the peer. */
Test(core, plain_transport_writes_reach_the_peer)
{
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor();
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	cr_assert_eq(wr__conn_write(c, "abc", 3), 0);
	uint8_t *p = wr__conn_reserve(c, 2);
	memcpy(p, "de", 2);
	run_for(r, 30);
	char got[8] = { 0 };
	cr_assert_eq(read(peer, got, sizeof(got)), 5);
	cr_assert_str_eq(got, "abcde");
	close(peer);
	wr__reactor_free(r);
}

/* More arrives at once than the receive buffers hold: receives that find the ring dry are
 * re-armed once buffers come back, and no byte is lost; with receive bundles too. */
static void ring_runs_dry(bool bundles)
{
	enum { N = 64, ROUNDS = 4, CHUNK = 3000 };
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor_b(bundles); /* 16 buffers of 4 KiB */
	int peers[N];
	for (int i = 0; i < N; i++)
		pair_conn(r, &peers[i]);
	static char chunk[CHUNK];
	memset(chunk, 'x', sizeof(chunk));
	for (int k = 0; k < ROUNDS; k++) {
		for (int i = 0; i < N; i++)
			cr_assert_eq(write(peers[i], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		run_for(r, 30);
	}
	for (int i = 0; i < 50 && seen.bytes < (size_t)N * ROUNDS * CHUNK; i++)
		run_for(r, 20);
	cr_assert_eq(seen.bytes, (size_t)N * ROUNDS * CHUNK);
	for (int i = 0; i < N; i++)
		close(peers[i]);
	run_for(r, 30);
	cr_assert_eq(seen.gone, N);
	wr__reactor_free(r);
}
Test(core, ring_runs_dry_nothing_lost) { ring_runs_dry(false); }
Test(core, ring_runs_dry_nothing_lost_with_bundles) { ring_runs_dry(true); }

/* Receive bundles: one completion for several 4 KiB buffers is handed on as one delivery per
 * buffer, in order, every byte once; the buffers go back (the ring does not run dry over 64
 * rounds of 16 buffers' worth); an end of stream after a bundle is one gone. Without bundles
 * the same bytes arrive the same, and no completion is a bundle. */
static uint8_t got[1 << 20];
static void order_data(wr_conn *c, uint8_t *p, size_t n)
{
	cr_assert_leq(seen.bytes + n, sizeof(got));
	memcpy(got + seen.bytes, p, n);
	seen.bytes += n;
}
static const wr_proto order_proto = { .name = "order", .on_data = order_data, .on_gone = t_gone };

static void bundles_in_order(bool bundles)
{
	enum { ROUNDS = 16, BURST = 60000 };
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor_b(bundles);
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	wr__conn_set_proto(c, &order_proto, NULL);
	static uint8_t want[ROUNDS * BURST];
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7 + i / 251);
	for (int k = 0; k < ROUNDS; k++) {
		/* a burst bigger than a buffer lands before the loop looks: one receive, many buffers */
		size_t off = 0;
		while (off < BURST) {
			ssize_t w = write(peer, want + k * BURST + off, BURST - off);
			if (w < 0 && errno == EAGAIN) {
				run_for(r, 5);
				continue;
			}
			cr_assert_gt(w, 0);
			off += (size_t)w;
		}
		run_for(r, 20);
	}
	for (int i = 0; i < 50 && seen.bytes < sizeof(want); i++)
		run_for(r, 20);
	cr_assert_eq(seen.bytes, sizeof(want));
	cr_assert_eq(memcmp(got, want, sizeof(want)), 0, "bytes out of order or lost");
	if (bundles)
		cr_assert_gt(wr__ring_bundled(r->ring), 0, "no completion filled several buffers");
	else
		cr_assert_eq(wr__ring_bundled(r->ring), 0);
	close(peer);
	run_for(r, 30);
	cr_assert_eq(seen.gone, 1);
	cr_assert_eq(seen.gone_err, 0);
	wr__reactor_free(r);
}
Test(core, bundles_split_in_order) { bundles_in_order(true); }
Test(core, no_bundles_same_bytes) { bundles_in_order(false); }

/* The loop-turn histogram counts every turn, and a turn that a protocol keeps busy shows in
 * it at least as long as it was kept. */
static void slow_data(wr_conn *c, uint8_t *p, size_t n)
{
	seen.bytes += n;
	usleep(30000);
}
static const wr_proto slow_proto = { .name = "slow", .on_data = slow_data, .on_gone = t_gone };

Test(core, loop_turns_are_timed)
{
	memset(&seen, 0, sizeof(seen));
	wr_reactor *r = new_reactor();
	cr_assert_not_null(r->turn_hist);
	run_for(r, 250);
	uint64_t idle_turns = r->turn_hist->total;
	cr_assert_geq(idle_turns, 2);        /* at least one per 100 ms tick */
	cr_assert_lt(r->turn_hist->max, 30000000ull);
	int peer;
	wr_conn *c = pair_conn(r, &peer);
	wr__conn_set_proto(c, &slow_proto, NULL);
	cr_assert_eq(write(peer, "x", 1), 1);
	run_for(r, 150);
	cr_assert_eq(seen.bytes, 1);
	cr_assert_gt(r->turn_hist->total, idle_turns);
	cr_assert_geq(r->turn_hist->max, 30000000ull);
	close(peer);
	wr__reactor_free(r);
}
