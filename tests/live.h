/* Helpers for live tests: a server on an ephemeral loopback port in background threads, and
 * raw blocking sockets with timeouts for hand-made traffic. */
#ifndef WR_TESTS_LIVE_H
#define WR_TESTS_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <wring.h>

/* Start srv on 127.0.0.1 port 0; returns the port (asserts on failure). */
uint16_t live_start(wr_server *srv);
/* Connect a blocking TCP socket to 127.0.0.1:port with 5 s send/receive timeouts. */
int live_connect(uint16_t port);
/* The same with a receive buffer of rcvbuf bytes (0: the default), so that what the server
 * sends waits in its own queues rather than in a large autotuned socket buffer, and
 * send/receive timeouts of timeout_s seconds (live_connect: 5). */
int live_connect_window(uint16_t port, int rcvbuf, int timeout_s);
/* recv(2) with flags 0, again after EINTR (see live.c). */
ssize_t live_recv(int fd, void *p, size_t n);
/* Send all of p. Returns 0 or -errno. */
int live_send(int fd, const void *p, size_t n);
int live_send_str(int fd, const char *s);
/* Read until `needle` was seen, EOF, timeout, or cap bytes; returns bytes read (NUL-terminated
 * in buf, cap includes the NUL). */
ssize_t live_recv_until(int fd, char *buf, size_t cap, const char *needle);
/* Read exactly n bytes (or fewer at EOF/timeout); returns bytes read. */
ssize_t live_recv_n(int fd, void *buf, size_t n);
/* Read until EOF or timeout; returns bytes read. */
ssize_t live_recv_all(int fd, char *buf, size_t cap);
/* Is the peer closed (EOF within ms)? */
int live_wait_eof(int fd, int ms);
/* Count of open file descriptors of this process (leak checks). */
int live_fd_count(void);

/* Client-side WebSocket frames over a raw socket (masked, as a browser sends them). */
int live_ws_handshake(int fd, const char *path);
int live_ws_send(int fd, int fin, int opcode, const void *p, size_t n);
/* Read one frame: returns payload length, fills *opcode and *fin; -1 on EOF/timeout. */
ssize_t live_ws_recv(int fd, int *opcode, int *fin, void *buf, size_t cap);

/* For hand-written servers (live_ws.c): a frame header (2..14 bytes, mask NULL for an
 * unmasked server frame) and Sec-WebSocket-Accept for a key (28 chars + NUL). */
size_t live_ws_frame_header(uint8_t out[14], bool fin, int opcode, uint64_t len,
                            const uint8_t *mask);
void live_ws_accept_key(const char *key, size_t key_len, char out[29]);

/* Failure paths. A failing assertion leaves the test function at once, so the server, client
 * or loop it made would stay behind, and under ASan the failure would come buried under leak
 * reports. Every one made through the names below is remembered, and what the test did not
 * free itself is freed when the test process exits (clients, then loops, then servers). The
 * live tests call the library's names; these macros route them through the registry. */
wr_server *live_track_server(wr_server *s);
wr_client *live_track_client(wr_client *c);
wr_loop *live_track_loop(wr_loop *l);
void live_server_free(wr_server *s);
void live_client_free(wr_client *c);
void live_loop_free(wr_loop *l);
#ifndef WR_LIVE_IMPL
#define wr_server_new(...) live_track_server(wr_server_new(__VA_ARGS__))
#define wr_client_connect(...) live_track_client(wr_client_connect(__VA_ARGS__))
#define wr_loop_new(...) live_track_loop(wr_loop_new(__VA_ARGS__))
#define wr_server_free(s) live_server_free(s)
#define wr_client_free(c) live_client_free(c)
#define wr_loop_free(l) live_loop_free(l)
#endif

#endif
