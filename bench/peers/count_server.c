/* A wring WebSocket server that counts what it receives, and when: the reference ws-bench's
 * own figures are checked against (tests/interop/bench_*.sh).
 *
 * usage: count_server PORT [threads] [options]
 *   --host H          listen address (default 127.0.0.1; ::1 for IPv6)
 *   --reply MODE      echo (default) | none | head:N (send back the first N bytes: a server
 *                     that copies the send timestamp back but does not echo)
 *   --stall-after N   at the Nth message, stop the reactor for --stall-ms (default 200) ms
 *   --stall-at S      the same, at the first message S seconds (decimal) after the first one
 *   --close-every K   close every Kth connection (1000) right after it opens
 *   --protocol P      choose subprotocol P when the client offers it
 *   --tls CERT KEY    wss://; --client-ca CA also requires a client certificate signed by CA
 *   --stats FILE      on stop, write the counts as JSON: opens, closes, messages, bytes,
 *                     replies, messages per unix second, open times, the stall, and the first
 *                     handshake's request headers
 * Prints "Listening on port N" once accepting and "messages N" on SIGTERM/SIGINT. */
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wring.h>

#define MAX_REACTORS 64
#define SECONDS 4096 /* per-second counts kept for this long after start */

static wr_server *srv;

/* Counters per reactor, each written by its own thread only; padded apart. */
static struct counts {
	_Alignas(64) _Atomic unsigned long long msgs, text, bytes, replies, opens, closes;
	_Atomic unsigned per_sec[SECONDS];
	_Atomic unsigned opens_per_sec[SECONDS];
} counts[MAX_REACTORS];

static struct {
	enum { R_ECHO, R_NONE, R_HEAD } reply;
	size_t head;
	unsigned long long stall_after;
	double stall_at;
	unsigned stall_ms;
	unsigned long long close_every;
	const char *protocol;
	const char *stats;
} opt = { .stall_ms = 200 };

static long long base_sec;
static _Atomic unsigned long long all_msgs, all_opens;
static _Atomic long long first_msg_ns, last_msg_ns, first_open_ns, last_open_ns;
static _Atomic long long stall_start_ns, stall_end_ns;
static _Atomic int headers_taken, stalled;
static char headers[4096];
static char chosen[64];

static long long wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	wr_server_stop(srv);
}

static inline void add(_Atomic unsigned long long *a, unsigned long long n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static void per_second(_Atomic unsigned *arr, long long now)
{
	long long s = now / 1000000000 - base_sec;
	if (s >= 0 && s < SECONDS)
		atomic_fetch_add_explicit(&arr[s], 1, memory_order_relaxed);
}

static void first_last(_Atomic long long *first, _Atomic long long *last, long long now)
{
	long long zero = 0;
	atomic_compare_exchange_strong(first, &zero, now);
	atomic_store_explicit(last, now, memory_order_relaxed);
}

static int on_upgrade(const wr_req *req, wr_upgrade *up, void *user)
{
	if (!atomic_exchange(&headers_taken, 1)) {
		size_t off = 0;
		for (size_t i = 0; i < wr_req_header_count(req); i++) {
			wr_str n, v;
			if (wr_req_header_at(req, i, &n, &v) == 0 && off < sizeof(headers))
				off += (size_t)snprintf(headers + off, sizeof(headers) - off, "%.*s: %.*s\n",
				                        (int)n.len, n.data, (int)v.len, v.data);
		}
	}
	wr_str p = wr_req_header(req, "Sec-WebSocket-Protocol");
	if (opt.protocol && p.data) {
		/* a comma-separated token list: find ours as a whole token */
		size_t pl = strlen(opt.protocol);
		for (size_t i = 0; i + pl <= p.len; i++) {
			bool start = i == 0 || p.data[i - 1] == ',' || p.data[i - 1] == ' ';
			bool end = i + pl == p.len || p.data[i + pl] == ',' || p.data[i + pl] == ' ';
			if (start && end && !memcmp(p.data + i, opt.protocol, pl)) {
				wr_upgrade_protocol(up, opt.protocol);
				snprintf(chosen, sizeof(chosen), "%s", opt.protocol);
				break;
			}
		}
	}
	return 0;
}

static void on_open(wr_ws *ws, const wr_req *req, void *user)
{
	struct counts *c = &counts[wr_ws_reactor(ws) % MAX_REACTORS];
	long long now = wall_ns();
	add(&c->opens, 1);
	per_second(c->opens_per_sec, now);
	first_last(&first_open_ns, &last_open_ns, now);
	unsigned long long n = atomic_fetch_add(&all_opens, 1) + 1;
	if (opt.close_every && n % opt.close_every == 0)
		wr_ws_close(ws, WR_CLOSE_NORMAL, "rotating");
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	struct counts *c = &counts[wr_ws_reactor(ws) % MAX_REACTORS];
	long long now = wall_ns();
	add(&c->msgs, 1);
	add(&c->text, msg.opcode == WR_OP_TEXT);
	add(&c->bytes, msg.len);
	per_second(c->per_sec, now);
	first_last(&first_msg_ns, &last_msg_ns, now);
	unsigned long long n = atomic_fetch_add(&all_msgs, 1) + 1;
	bool due = opt.stall_after ? n == opt.stall_after
	         : opt.stall_at > 0 && now - atomic_load(&first_msg_ns) >= (long long)(opt.stall_at * 1e9);
	if (due && !atomic_exchange(&stalled, 1)) {
		/* the whole reactor stops: nothing is read, answered or flushed meanwhile */
		atomic_store(&stall_start_ns, now);
		struct timespec ts = { opt.stall_ms / 1000, (long)(opt.stall_ms % 1000) * 1000000 };
		while (nanosleep(&ts, &ts))
			;
		atomic_store(&stall_end_ns, wall_ns());
	}
	if (opt.reply == R_NONE)
		return;
	size_t len = opt.reply == R_HEAD && msg.len > opt.head ? opt.head : msg.len;
	if (wr_ws_send(ws, msg.data, len, msg.opcode) == 0)
		add(&c->replies, 1);
}

static void on_close(wr_ws *ws, int code, wr_str reason, void *user)
{
	add(&counts[wr_ws_reactor(ws) % MAX_REACTORS].closes, 1);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_seconds(FILE *f, const char *key, size_t field)
{
	fprintf(f, "  \"%s\": {", key);
	bool first = true;
	for (long long s = 0; s < SECONDS; s++) {
		unsigned long long n = 0;
		for (unsigned r = 0; r < MAX_REACTORS; r++)
			n += atomic_load((_Atomic unsigned *)((char *)&counts[r] + field) + s);
		if (n) {
			fprintf(f, "%s\"%lld\": %llu", first ? "" : ", ", base_sec + s, n);
			first = false;
		}
	}
	fprintf(f, "},\n");
}

static unsigned long long total(size_t field)
{
	unsigned long long n = 0;
	for (unsigned r = 0; r < MAX_REACTORS; r++)
		n += atomic_load((_Atomic unsigned long long *)((char *)&counts[r] + field));
	return n;
}

static int write_stats(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "{\n  \"opens\": %llu, \"closes\": %llu, \"messages\": %llu, \"text\": %llu, "
	        "\"bytes\": %llu, \"replies\": %llu,\n", total(offsetof(struct counts, opens)),
	        total(offsetof(struct counts, closes)), total(offsetof(struct counts, msgs)),
	        total(offsetof(struct counts, text)),
	        total(offsetof(struct counts, bytes)), total(offsetof(struct counts, replies)));
	fprintf(f, "  \"first_msg_ns\": %lld, \"last_msg_ns\": %lld, \"first_open_ns\": %lld, "
	        "\"last_open_ns\": %lld, \"stall_start_ns\": %lld, \"stall_end_ns\": %lld,\n",
	        atomic_load(&first_msg_ns), atomic_load(&last_msg_ns), atomic_load(&first_open_ns),
	        atomic_load(&last_open_ns), atomic_load(&stall_start_ns), atomic_load(&stall_end_ns));
	json_seconds(f, "per_second", offsetof(struct counts, per_sec));
	json_seconds(f, "opens_per_second", offsetof(struct counts, opens_per_sec));
	fprintf(f, "  \"protocol\": ");
	json_string(f, chosen);
	fprintf(f, ",\n  \"headers\": ");
	json_string(f, headers);
	fprintf(f, "\n}\n");
	return fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "reply", required_argument, NULL, 'r' },
		{ "stall-after", required_argument, NULL, 's' },
		{ "stall-ms", required_argument, NULL, 'm' },
		{ "stall-at", required_argument, NULL, 'S' },
		{ "close-every", required_argument, NULL, 'k' },
		{ "protocol", required_argument, NULL, 'p' },
		{ "tls", required_argument, NULL, 't' },
		{ "client-ca", required_argument, NULL, 'a' },
		{ "stats", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *host = "127.0.0.1";
	wr_tls_config tls = { 0 };
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'r':
			if (!strcmp(optarg, "none"))
				opt.reply = R_NONE;
			else if (!strncmp(optarg, "head:", 5))
				opt.reply = R_HEAD, opt.head = strtoul(optarg + 5, NULL, 10);
			break;
		case 's': opt.stall_after = strtoull(optarg, NULL, 10); break;
		case 'S': opt.stall_at = strtod(optarg, NULL); break;
		case 'm': opt.stall_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': opt.close_every = strtoull(optarg, NULL, 10); break;
		case 'p': opt.protocol = optarg; break;
		case 't':
			if (optind >= argc) {
				fprintf(stderr, "--tls CERT KEY\n");
				return 2;
			}
			tls.cert_file = optarg;
			tls.key_file = argv[optind++];
			break;
		case 'a': tls.ca_file = optarg; tls.verify_peer = true; break;
		case 'o': opt.stats = optarg; break;
		default: return 2;
		}
	}
	int port = optind < argc ? atoi(argv[optind]) : 8080;
	unsigned threads = optind + 1 < argc ? (unsigned)atoi(argv[optind + 1]) : 0;
	base_sec = wall_ns() / 1000000000;
	int err;
	srv = wr_server_new(&(wr_server_config){ .threads = threads,
	                                         .tls = tls.cert_file ? &tls : NULL }, &err);
	if (!srv) {
		fprintf(stderr, "wr_server_new: %s\n", wr_strerror(err));
		return 1;
	}
	wr_server_websocket(srv, "/ws", &(wr_ws_handlers){ .on_upgrade = on_upgrade,
	                    .on_open = on_open, .on_message = on_message, .on_close = on_close });
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	err = wr_server_start(srv, host, (uint16_t)port);
	if (err < 0) {
		fprintf(stderr, "listen: %s\n", wr_strerror(err));
		wr_server_free(srv);
		return 1;
	}
	printf("Listening on port %u\n", wr_server_port(srv));
	fflush(stdout);
	err = wr_server_wait(srv);
	printf("messages %llu\n", total(offsetof(struct counts, msgs)));
	fflush(stdout);
	if (opt.stats && write_stats(opt.stats) != 0)
		perror(opt.stats);
	wr_server_free(srv);
	return err < 0 ? 1 : 0;
}
