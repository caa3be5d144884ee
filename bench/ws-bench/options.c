/* ws-bench's command line: options, their defaults and limits, and the target URL — parsed and
 * resolved once here through the library's public URL API (wring/url.h), so that every connect
 * afterwards goes to a known address while the Host header and SNI keep the URL's name. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wring.h>

#include "wsb.h"

static void usage(FILE *f)
{
	fprintf(f,
	"usage: ws-bench [options] ws://host[:port]/path | wss://host[:port]/path\n"
	"       ws-bench merge [--json] [--out F] [--hgrm F] [--plot F] A.json B.json ...\n"
	"Load:\n"
	"  -t, --threads N      threads, one event loop each (default 1)\n"
	"  -c, --connections N  connections, shared out between the threads (default 10)\n"
	"  -d, --duration T     measured time: 10, 10s, 500ms, 2m (default 10s)\n"
	"  -w, --warmup T       time before measuring, not in the figures (default 1s)\n"
	"Modes (default: closed-loop ping-pong):\n"
	"      --pipeline K     K messages in flight per connection (closed loop, default 1)\n"
	"      --rate R         open loop: R messages/s in total, latency from the intended\n"
	"                       send time (coordinated omission corrected)\n"
	"      --no-echo        with --rate: the server does not echo; count what arrives and\n"
	"                       time replies by the send timestamp they copy back\n"
	"      --fanout PUB_URL pub/sub: --publishers connections to PUB_URL send at --rate\n"
	"                       in total; -c subscribers on the URL only receive; latency\n"
	"                       from the publish time in the payload, gaps and reorders per\n"
	"                       publisher (implies --no-echo)\n"
	"      --publishers P   fan-out publishers (default 1, at most 64)\n"
	"      --stats-path P   fan-out: GET P on the server before and after the window and\n"
	"                       report its \"delivered\", \"dropped\", \"conflated\" counts\n"
	"      --connect-rate   connect-upgrade-close cycles on -c concurrent slots\n"
	"      --idle           open -c connections and hold them for the duration\n"
	"Messages:\n"
	"  -s, --size S         bytes: 16, 4k, 1m; uniform LO-HI (64-4k); @FILE, one size a\n"
	"                       line, drawn at random (default 16; text needs >= %u)\n"
	"      --text | --binary  message type (default binary; text for --template)\n"
	"      --payload FILE   send the file's bytes as every message\n"
	"      --template FILE  send the file with {seq} and {ts} (send time, unix ns) filled in\n"
	"Connections:\n"
	"      --deflate        offer permessage-deflate (RFC 7692)\n"
	"      --ramp N         connects in flight at most, all threads (default 64)\n"
	"      --open-rate R    open at most R connections per second (ramp and reconnects)\n"
	"      --reconnect      reopen connections the server closes: hold -c open\n"
	"      --bind A[,B...]  source addresses, connections spread over them\n"
	"Handshake:\n"
	"  -H, --header 'N: v'  extra request header (repeatable)\n"
	"      --subprotocol P  offer subprotocol P (repeatable, or P1,P2)\n"
	"      --origin O       send Origin: O\n"
	"TLS (wss://):\n"
	"      --ca FILE        trust anchors (PEM); default: the system store\n"
	"      --insecure       skip certificate checks\n"
	"      --resume         resume TLS sessions from tickets (a thread's first\n"
	"                       connections are full handshakes)\n"
	"      --cert FILE --key FILE  client certificate and key (mutual TLS)\n"
	"      --sni NAME       server name sent and checked (default: the URL's host)\n"
	"Output:\n"
	"      --server-pid P   report the server's CPU per message (and RSS per connection\n"
	"                       with --idle) from /proc/P\n"
	"      --json           print the results as JSON on stdout instead of the table\n"
	"      --out FILE       write the JSON report with the full histograms (for merge)\n"
	"      --hgrm FILE      latency percentile distribution, HdrHistogram text format\n"
	"      --plot FILE.svg  latency by percentile and per second, self-contained SVG\n"
	"  -q, --quiet          no live line on stderr\n"
	"Other clients (ping-pong, --pipeline, --rate; a fixed -s; ws:// only):\n"
	"      --epoll          an epoll client, one recv and one send per message and\n"
	"                       connection (like uWebSockets' load_test); frames by hand\n"
	"      --raw            the epoll client over plain TCP, to a raw echo\n"
	"                       (bench/peers/raw_echo): each message is the bytes of a\n"
	"                       client frame of -s bytes, expected back as they are\n"
	"Several machines:\n"
	"      --start-at T     start traffic at unix time T (once connected): agents together\n"
	"Exit status: 0 clean run, 1 errors during the run, 2 bad usage or nothing connected.\n",
	WSB_HDR_TEXT);
}

static const char *const mode_names[] = { "ping-pong", "rate", "connect-rate", "idle" };

const char *wsb_mode_name(enum wsb_mode m)
{
	return (unsigned)m < 4 ? mode_names[m] : "?";
}

int wsb_mode_from_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	return -1;
}

static int parse_time(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		;
	else if (!strcmp(end, "ms"))
		v /= 1000.0;
	else if (!strcmp(end, "m"))
		v *= 60.0;
	else
		return -1;
	*out = v;
	return 0;
}

int wsb_parse_size(const char *s, size_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	if (!strcasecmp(end, "k") || !strcasecmp(end, "kib"))
		v <<= 10;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mib"))
		v <<= 20;
	else if (*end)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_rate(const char *s, double *out)
{
	char *e;
	double v = strtod(s, &e);
	if (e == s || *e || !(v > 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

/* Append to a NULL-terminated, growing array of borrowed strings. */
static int push(const char ***arr, unsigned *n, const char *s)
{
	const char **a = realloc(*arr, (*n + 2) * sizeof(char *));
	if (!a)
		return -1;
	a[(*n)++] = s;
	a[*n] = NULL;
	*arr = a;
	return 0;
}

/* The URL through the library's own parser and resolver: what ws-bench accepts is what the
 * clients accept. */
static int target(wsb_opts *o)
{
	wr_url u;
	int rc = wr_url_parse(o->url, &u);
	if (rc < 0) {
		fprintf(stderr, "ws-bench: %s: bad URL: expected ws://host[:port]/path or wss://...\n",
		        o->url);
		return -1;
	}
	o->tls = u.tls;
	snprintf(o->host_port, sizeof(o->host_port), "%s%.*s%s:%u", u.ipv6 ? "[" : "",
	         (int)u.host.len, u.host.data, u.ipv6 ? "]" : "", u.port);
	rc = wr_url_resolve(&u, &o->addr, &o->addr_len);
	if (rc < 0) {
		fprintf(stderr, "ws-bench: %s: cannot resolve %.*s: %s\n", o->url, (int)u.host.len,
		        u.host.data, wr_strerror(rc));
		return -1;
	}
	return 0;
}

/* --bind A,B,...: numeric addresses of the target's family. */
static int parse_binds(wsb_opts *o, const char *list)
{
	char *copy = strdup(list);
	if (!copy)
		return -1;
	unsigned cap = 0;
	int rc = 0;
	for (char *save, *a = strtok_r(copy, ",", &save); a && !rc; a = strtok_r(NULL, ",", &save)) {
		if (o->nbinds == cap) {
			cap = cap ? 2 * cap : 8;
			struct sockaddr_storage *nb = realloc(o->binds, cap * sizeof(*nb));
			if (!nb) {
				rc = -1;
				break;
			}
			o->binds = nb;
		}
		struct sockaddr_storage *ss = &o->binds[o->nbinds];
		memset(ss, 0, sizeof(*ss));
		size_t al = strlen(a);
		if (al > 2 && a[0] == '[' && a[al - 1] == ']') {
			a[al - 1] = 0;
			a++;
		}
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (o->addr.ss_family == AF_INET && inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			o->bind_len = sizeof(*s4);
		} else if (o->addr.ss_family == AF_INET6 && inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			o->bind_len = sizeof(*s6);
		} else {
			fprintf(stderr, "ws-bench: --bind %s: not a numeric IPv%c address (the target's "
			        "family)\n", a, o->addr.ss_family == AF_INET ? '4' : '6');
			rc = -1;
			break;
		}
		o->nbinds++;
	}
	free(copy);
	return rc;
}

enum { O_TEXT = 256, O_BINARY, O_PIPELINE, O_RATE, O_CONNECT, O_IDLE, O_RAMP, O_PID, O_JSON,
       O_HGRM, O_PLOT, O_CA, O_INSECURE, O_NOECHO, O_PAYLOAD, O_TEMPLATE, O_OPENRATE,
       O_RECONNECT, O_BIND, O_SUBPROTO, O_ORIGIN, O_CERT, O_KEY, O_SNI, O_OUT, O_STARTAT,
       O_DEFLATE, O_RESUME, O_FANOUT, O_PUBLISHERS, O_STATSPATH, O_EPOLL, O_RAW };

int wsb_opts_parse(int argc, char **argv, wsb_opts *o)
{
	static const struct option lo[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "connections", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "text", no_argument, NULL, O_TEXT },
		{ "binary", no_argument, NULL, O_BINARY },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "template", required_argument, NULL, O_TEMPLATE },
		{ "pipeline", required_argument, NULL, O_PIPELINE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "no-echo", no_argument, NULL, O_NOECHO },
		{ "fanout", required_argument, NULL, O_FANOUT },
		{ "publishers", required_argument, NULL, O_PUBLISHERS },
		{ "stats-path", required_argument, NULL, O_STATSPATH },
		{ "connect-rate", no_argument, NULL, O_CONNECT },
		{ "idle", no_argument, NULL, O_IDLE },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "open-rate", required_argument, NULL, O_OPENRATE },
		{ "reconnect", no_argument, NULL, O_RECONNECT },
		{ "bind", required_argument, NULL, O_BIND },
		{ "header", required_argument, NULL, 'H' },
		{ "subprotocol", required_argument, NULL, O_SUBPROTO },
		{ "origin", required_argument, NULL, O_ORIGIN },
		{ "server-pid", required_argument, NULL, O_PID },
		{ "json", no_argument, NULL, O_JSON },
		{ "out", required_argument, NULL, O_OUT },
		{ "hgrm", required_argument, NULL, O_HGRM },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "ca", required_argument, NULL, O_CA },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "sni", required_argument, NULL, O_SNI },
		{ "start-at", required_argument, NULL, O_STARTAT },
		{ "deflate", no_argument, NULL, O_DEFLATE },
		{ "epoll", no_argument, NULL, O_EPOLL },
		{ "raw", no_argument, NULL, O_RAW },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (wsb_opts){ .threads = 1, .conns = 10, .duration_s = 10, .warmup_s = 1,
	                 .size_spec = "16", .mode = WSB_PINGPONG, .pipeline = 1, .ramp = 64 };
	int ch, modes = 0;
	unsigned pid = 0, nheaders = 0, nprotos = 0;
	bool type_given = false, size_given = false;
	const char *bind_list = NULL;
	char *origin = NULL;
	const char *bad = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:c:d:w:s:H:qh", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (parse_uint(optarg, 1, 256, &o->threads))
				bad = "-t: 1..256";
			break;
		case 'c':
			if (parse_uint(optarg, 1, 1000000, &o->conns))
				bad = "-c: 1..1000000";
			break;
		case 'd':
			if (parse_time(optarg, &o->duration_s) || o->duration_s <= 0)
				bad = "-d: a positive time (10, 10s, 500ms, 1m)";
			break;
		case 'w':
			if (parse_time(optarg, &o->warmup_s))
				bad = "-w: a time (0, 1s, 500ms)";
			break;
		case 's': o->size_spec = optarg; size_given = true; break;
		case O_TEXT: o->text = true; type_given = true; break;
		case O_BINARY: o->text = false; type_given = true; break;
		case O_PAYLOAD:
		case O_TEMPLATE:
			if (o->payload != WSB_PAY_GEN)
				bad = "--payload and --template exclude each other";
			o->payload = ch == O_PAYLOAD ? WSB_PAY_FILE : WSB_PAY_TEMPLATE;
			o->payload_path = optarg;
			break;
		case O_PIPELINE:
			if (parse_uint(optarg, 1, 65536, &o->pipeline))
				bad = "--pipeline: 1..65536";
			break;
		case O_RATE:
			if (parse_rate(optarg, &o->rate))
				bad = "--rate: messages per second, > 0";
			o->mode = WSB_RATE;
			modes++;
			break;
		case O_NOECHO: o->no_echo = true; break;
		case O_FANOUT: o->pub_url = optarg; o->no_echo = true; break;
		case O_PUBLISHERS:
			if (parse_uint(optarg, 1, 64, &o->publishers))
				bad = "--publishers: 1..64";
			break;
		case O_STATSPATH:
			if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
				bad = "--stats-path: a path, /stats";
			o->stats_path = optarg;
			break;
		case O_CONNECT: o->mode = WSB_CONNECT; modes++; break;
		case O_IDLE: o->mode = WSB_IDLE; modes++; break;
		case O_DEFLATE: o->deflate = true; break;
		case O_RAMP:
			if (parse_uint(optarg, 1, 100000, &o->ramp))
				bad = "--ramp: 1..100000";
			break;
		case O_OPENRATE:
			if (parse_rate(optarg, &o->open_rate))
				bad = "--open-rate: connections per second, > 0";
			break;
		case O_RECONNECT: o->reconnect = true; break;
		case O_BIND: bind_list = optarg; break;
		case 'H':
			if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n"))
				bad = "-H: 'Name: value'";
			else if (push(&o->headers, &nheaders, optarg))
				bad = "out of memory";
			break;
		case O_SUBPROTO:
			for (char *save, *p = strtok_r(optarg, ",", &save); p && !bad;
			     p = strtok_r(NULL, ",", &save))
				if (push(&o->protocols, &nprotos, p))
					bad = "out of memory";
			break;
		case O_ORIGIN:
			free(origin);
			origin = malloc(strlen(optarg) + 9);
			if (!origin || strpbrk(optarg, "\r\n"))
				bad = "--origin: one line";
			else
				sprintf(origin, "Origin: %s", optarg);
			break;
		case O_PID:
			if (parse_uint(optarg, 1, 1u << 30, &pid))
				bad = "--server-pid: a process id";
			o->server_pid = (int)pid;
			break;
		case O_JSON: o->json = true; break;
		case O_OUT: o->out_path = optarg; break;
		case O_HGRM: o->hgrm_path = optarg; break;
		case O_PLOT: o->plot_path = optarg; break;
		case O_CA: o->ca_file = optarg; break;
		case O_INSECURE: o->insecure = true; break;
		case O_RESUME: o->resume = true; break;
		case O_CERT: o->cert_file = optarg; break;
		case O_KEY: o->key_file = optarg; break;
		case O_SNI: o->sni = optarg; break;
		case O_STARTAT: {
			char *e;
			o->start_at = strtod(optarg, &e);
			if (e == optarg || *e || o->start_at < 1e9)
				bad = "--start-at: a unix time in seconds (date +%s)";
			break;
		}
		case O_EPOLL: o->epoll = true; break;
		case O_RAW: o->raw = o->epoll = true; break;
		case 'q': o->quiet = true; break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "ws-bench: %s\n", bad);
			return -1;
		}
	}
	o->origin_line = origin;
	if (origin && push(&o->headers, &nheaders, origin)) {
		fprintf(stderr, "ws-bench: out of memory\n");
		return -1;
	}
	if (modes > 1)
		bad = "--rate, --connect-rate and --idle exclude each other";
	else if (o->pipeline > 1 && o->mode != WSB_PINGPONG)
		bad = "--pipeline goes with the (default) ping-pong mode only";
	else if (o->pub_url && o->mode != WSB_RATE)
		bad = "--fanout needs --rate: the publishers' total rate";
	else if ((o->publishers || o->stats_path) && !o->pub_url)
		bad = "--publishers and --stats-path go with --fanout";
	else if (o->pub_url && o->payload != WSB_PAY_GEN)
		bad = "--fanout times generated messages: no --payload or --template";
	else if (o->no_echo && o->mode != WSB_RATE)
		bad = "--no-echo needs --rate: without echoes there is no loop to close";
	else if (o->payload != WSB_PAY_GEN && size_given)
		bad = "-s goes with generated messages, not --payload or --template";
	else if (o->epoll && ((o->mode != WSB_PINGPONG && o->mode != WSB_RATE) || o->no_echo ||
	                      o->payload != WSB_PAY_GEN || o->deflate || o->headers || o->protocols))
		bad = "--epoll and --raw go with ping-pong or --rate echoes of generated messages "
		      "(no --no-echo, --fanout, --payload, --template, --deflate, -H, --subprotocol)";
	else if (!o->cert_file != !o->key_file)
		bad = "--cert and --key go together";
	if (bad) {
		fprintf(stderr, "ws-bench: %s\n", bad);
		return -1;
	}
	if (o->payload == WSB_PAY_TEMPLATE && !type_given)
		o->text = true;
	if (o->pub_url) {
		if (!o->publishers)
			o->publishers = 1;
		o->subscribers = o->conns;
		o->conns += o->publishers; /* publishers first: connections 0..P-1 */
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (optind + 1 != argc) {
		fprintf(stderr, "ws-bench: %s\n", optind >= argc ? "no URL given" : "one URL only");
		usage(stderr);
		return -1;
	}
	o->url = argv[optind];
	if (target(o) < 0)
		return -1;
	if (!o->tls && (o->cert_file || o->sni || o->ca_file || o->insecure || o->resume)) {
		fprintf(stderr, "ws-bench: --ca, --insecure, --resume, --cert, --key and --sni need a wss:// URL\n");
		return -1;
	}
	if (bind_list && parse_binds(o, bind_list) < 0)
		return -1;
	if (wsb_payload_load(o) < 0)
		return -1;
	if (o->epoll && (o->tls || o->size_kind != WSB_SIZE_FIXED)) {
		fprintf(stderr, "ws-bench: --epoll and --raw take ws:// and one fixed -s size\n");
		return -1;
	}
	return 0;
}

void wsb_opts_free(wsb_opts *o)
{
	free(o->origin_line);
	free(o->headers);
	free(o->protocols);
	free(o->binds);
	free(o->sizes);
	free(o->file_data);
}
