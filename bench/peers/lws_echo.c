/* A libwebsockets echo server, the C peer ws-bench compares wring against.
 * Usage: lws_echo PORT [CERT.pem KEY.pem]. Serves /ws (any path, in fact) on 127.0.0.1, over
 * TLS (OpenSSL, as libwebsockets is built on Debian) when given a certificate and key, and
 * echoes every text or
 * binary message with the same type. Messages of any size: received fragments are assembled
 * into one message, and a message is sent back in 64 KiB fragments, one per writable
 * callback, so that a big echo never forces libwebsockets to buffer a partial write. */
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define CHUNK 65536

typedef struct echo_msg {
	struct echo_msg *next;
	size_t len, off;       /* payload bytes, bytes already sent */
	bool binary;
	unsigned char buf[];   /* LWS_PRE bytes of headroom, then the payload */
} echo_msg;

typedef struct session {
	unsigned char *rx;     /* the message being assembled */
	size_t rx_len, rx_cap;
	echo_msg *head, *tail; /* echoes waiting to be written */
} session;

static volatile sig_atomic_t stopping;
static struct lws_context *ctx;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
	lws_cancel_service(ctx);
}

static int rx_append(session *s, const void *p, size_t n)
{
	if (s->rx_len + n > s->rx_cap) {
		size_t cap = s->rx_cap ? s->rx_cap : 4096;
		while (cap < s->rx_len + n)
			cap *= 2;
		unsigned char *q = realloc(s->rx, cap);
		if (!q)
			return -1;
		s->rx = q;
		s->rx_cap = cap;
	}
	memcpy(s->rx + s->rx_len, p, n);
	s->rx_len += n;
	return 0;
}

static void free_queue(session *s)
{
	while (s->head) {
		echo_msg *m = s->head;
		s->head = m->next;
		free(m);
	}
	s->tail = NULL;
	free(s->rx);
	s->rx = NULL;
	s->rx_len = s->rx_cap = 0;
}

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	session *s = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		break;
	case LWS_CALLBACK_RECEIVE:
		if (rx_append(s, in, len) < 0)
			return -1;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			echo_msg *m = malloc(sizeof(*m) + LWS_PRE + s->rx_len);
			if (!m)
				return -1;
			m->next = NULL;
			m->len = s->rx_len;
			m->off = 0;
			m->binary = lws_frame_is_binary(wsi);
			memcpy(m->buf + LWS_PRE, s->rx, s->rx_len);
			s->rx_len = 0;
			if (s->tail)
				s->tail->next = m;
			else
				s->head = m;
			s->tail = m;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		echo_msg *m = s->head;
		if (!m)
			break;
		size_t n = m->len - m->off > CHUNK ? CHUNK : m->len - m->off;
		int first = m->off == 0, last = m->off + n == m->len;
		int flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, last);
		/* LWS_PRE bytes before the fragment are free for the header: the previous fragment's
		 * tail is already sent, so overwriting it is harmless. */
		if (lws_write(wsi, m->buf + LWS_PRE + m->off, n, (enum lws_write_protocol)flags) < (int)n)
			return -1;
		m->off += n;
		if (last) {
			s->head = m->next;
			if (!s->head)
				s->tail = NULL;
			free(m);
		}
		if (s->head)
			lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_CLOSED:
		free_queue(s);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "echo", on_event, sizeof(session), CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	if (argc > 3) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = argv[2];
		info.ssl_private_key_filepath = argv[3];
	}
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "lws_create_context failed\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("Listening on port %d%s\n", port, argc > 3 ? " (wss)" : "");
	fflush(stdout);
	while (!stopping)
		if (lws_service(ctx, 0) < 0)
			break;
	lws_context_destroy(ctx);
	return 0;
}
