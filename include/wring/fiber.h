/* wring: sequential handlers on fibers — the seed's `while (ws.read(msg)) ws.send(msg);`
 * without a thread per connection.
 *
 * A fiber WebSocket route runs its handler on a fiber of the connection's reactor: a small
 * stack of its own (WR_FIBER_DEFAULT_STACK, 64 KiB, or wr_server_config.fiber_stack_bytes;
 * mapped with a guard page below it, so an overflow dies with SIGSEGV rather than corrupting
 * memory), taken from the reactor's pool. A call that would wait (wr_ws_read, a send past the
 * backpressure mark, wr_fiber_sleep) suspends the fiber and lets the reactor serve every other
 * connection meanwhile; the handler never blocks the thread.
 *
 * Choose this style for conversations (read, decide, answer, read again) and when porting
 * thread-per-connection code; choose callbacks (wr_ws_handlers) for the highest message rate
 * per core and for fan-out, where a message needs no context beyond the connection's. */
#ifndef WRING_FIBER_H
#define WRING_FIBER_H

#include "common.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WR_FIBER_DEFAULT_STACK (64u * 1024u)

typedef struct wr_ws_fiber {
	/* Optional, as in wr_ws_handlers: refuse the upgrade with an HTTP status before the 101. */
	int (*on_upgrade)(const wr_req *req, wr_upgrade *up, void *user);
	/* The connection's whole life, after the 101. req is borrowed until the handler first
	 * waits; ws until the handler returns. When it returns the connection closes with 1000,
	 * or with the code of a wr_ws_close the handler made itself. Once the connection has
	 * closed, every call that would wait returns at once (read 0, sends -EPIPE, sleep
	 * -ECANCELED): the handler should then return. */
	void (*handler)(wr_ws *ws, const wr_req *req, void *user);
	void *user;                   /* passed to both; must outlive the server */
	unsigned drain_timeout_ms;    /* a send past the mark waits this long for the peer to
	                                 read; then the send fails with -ETIMEDOUT and the
	                                 connection closes with 1008. 0: 30000 */
	wr_deflate_config deflate;    /* permessage-deflate, as in wr_ws_handlers: wr_ws_read
	                                 gives the inflated message */
} wr_ws_fiber;

/* Register a fiber WebSocket route; f is copied. 0, -EINVAL, -EBUSY, -ENOSPC, -ENOMEM.
 * A fiber route uses the connection's data slot itself (wr_ws_data is not the user's). */
WR_API int wr_server_websocket_fiber(wr_server *srv, const char *path, const wr_ws_fiber *f);

/* From the connection's own handler: wait for the next text or binary message (pings and
 * pongs are answered and skipped). Returns 1 with *out_msg, a view borrowed until the next
 * wr_ws_read or the handler's return; 0 once the connection has closed (out_msg untouched);
 * -EPERM when not called from ws's handler; -ENOMEM. */
WR_API int wr_ws_read(wr_ws *ws, wr_msg *out_msg);

/* From a fiber: let the reactor run for ms milliseconds (100 ms ticks are not involved: the
 * reactor's wait is cut to the first sleeper). 0; -ECANCELED at once once the fiber's
 * connection has closed; -EPERM off a fiber. */
WR_API int wr_fiber_sleep(unsigned ms);

#ifdef __cplusplus
}
#endif
#endif
