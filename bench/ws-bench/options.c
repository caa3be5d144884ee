/* ws-bench's command line: options, their defaults and limits, and the target URL (checked and
 * resolved once here, so that every connect afterwards is a numeric address). */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsb.h"

#define MIN_BINARY 16u  /* sequence number + timestamp */
#define MIN_TEXT 22u    /* the same, 6 bits per character */

static void usage(FILE *f)
{
	fprintf(f,
	"usage: ws-bench [options] ws://host[:port]/path | wss://host[:port]/path\n"
	"  -t, --threads N      threads, one event loop each (default 1)\n"
	"  -c, --connections N  connections, shared out between the threads (default 10)\n"
	"  -d, --duration T     measured time: 10, 10s, 500ms, 2m (default 10s)\n"
	"  -w, --warmup T       time before measuring, not in the figures (default 1s)\n"
	"  -s, --size N         message bytes: 16, 4k, 1m (default 16; text needs >= %u)\n"
	"      --text | --binary  message type (default binary)\n"
	"      --pipeline K     K messages in flight per connection (closed loop, default 1)\n"
	"      --rate R         open loop: R messages/s in total, latency from the intended\n"
	"                       send time (coordinated omission corrected)\n"
	"      --connect-rate   connect-upgrade-close cycles on -c concurrent slots\n"
	"      --idle           open -c connections and hold them for the duration\n"
	"      --ramp N         connects in flight at most, all threads (default 64)\n"
	"      --server-pid P   report the server's CPU per message (and RSS per connection\n"
	"                       with --idle) from /proc/P\n"
	"      --json           print the results as JSON on stdout instead of the table\n"
	"      --hgrm FILE      latency percentile distribution, HdrHistogram text format\n"
	"      --plot FILE.svg  latency by percentile, self-contained SVG\n"
	"      --ca FILE        wss://: trust anchors (PEM); default: the system store\n"
	"      --insecure       wss://: skip certificate checks\n"
	"      --resume         wss://: resume TLS sessions from tickets (a thread's first\n"
	"                       connections are full handshakes)\n"
	"  -q, --quiet          no live line on stderr\n"
	"Exit status: 0 clean run, 1 errors during the run, 2 bad usage or nothing connected.\n",
	MIN_TEXT);
}

const char *wsb_mode_name(enum wsb_mode m)
{
	switch (m) {
	case WSB_PINGPONG: return "ping-pong";
	case WSB_RATE: return "rate";
	case WSB_CONNECT: return "connect-rate";
	case WSB_IDLE: return "idle";
	}
	return "?";
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

static int parse_size(const char *s, size_t *out)
{
	char *end;
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

/* ws://host[:port][/path]: checked, the host resolved once, the connect URL rebuilt around the
 * numeric address. */
static int parse_url(wsb_opts *o)
{
	const char *u = o->url;
	o->tls = !strncasecmp(u, "wss://", 6);
	if (!o->tls && strncasecmp(u, "ws://", 5)) {
		fprintf(stderr, "ws-bench: %s: bad URL: expected ws://host[:port]/path or wss://...\n", u);
		return -1;
	}
	const char *h = u + (o->tls ? 6 : 5), *hend, *p;
	char host[256];
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend)
			goto bad;
		h++;
		p = hend + 1;
	} else {
		hend = h + strcspn(h, ":/?#");
		p = hend;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(host))
		goto bad;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = 0;
	unsigned port = o->tls ? 443 : 80;
	if (*p == ':') {
		char *e;
		unsigned long v = strtoul(p + 1, &e, 10);
		if (e == p + 1 || v == 0 || v > 65535)
			goto bad;
		port = (unsigned)v;
		p = e;
	}
	if (*p && *p != '/' && *p != '?')
		goto bad;
	const char *path = *p ? p : "/";
	for (const char *q = path; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == '#' || (unsigned char)*q >= 0x7f)
			goto bad;

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int gai = getaddrinfo(host, NULL, &hints, &ai);
	if (gai) {
		fprintf(stderr, "ws-bench: %s: cannot resolve %s: %s\n", u, host, gai_strerror(gai));
		return -1;
	}
	char num[INET6_ADDRSTRLEN];
	bool v6 = ai->ai_family == AF_INET6;
	const void *a = v6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
	                   : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	inet_ntop(ai->ai_family, a, num, sizeof(num));
	freeaddrinfo(ai);
	/* With TLS the name stays: it is what the certificate is checked against (and the SNI). */
	bool keep_name = o->tls && strcmp(host, num) != 0;
	int n = snprintf(o->connect_url, sizeof(o->connect_url), "%s://%s%s%s:%u%s",
	                 o->tls ? "wss" : "ws", v6 && !keep_name ? "[" : "", keep_name ? host : num,
	                 v6 && !keep_name ? "]" : "", port, path);
	if (n < 0 || (size_t)n >= sizeof(o->connect_url))
		goto bad;
	snprintf(o->host_port, sizeof(o->host_port), "%s:%u", host, port);
	return 0;
bad:
	fprintf(stderr, "ws-bench: %s: bad URL: expected ws://host[:port]/path or wss://...\n", u);
	return -1;
}

enum { O_TEXT = 256, O_BINARY, O_PIPELINE, O_RATE, O_CONNECT, O_IDLE, O_RAMP, O_PID, O_JSON,
       O_HGRM, O_PLOT, O_CA, O_INSECURE, O_RESUME };

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
		{ "pipeline", required_argument, NULL, O_PIPELINE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "connect-rate", no_argument, NULL, O_CONNECT },
		{ "idle", no_argument, NULL, O_IDLE },
		{ "ramp", required_argument, NULL, O_RAMP },
		{ "server-pid", required_argument, NULL, O_PID },
		{ "json", no_argument, NULL, O_JSON },
		{ "hgrm", required_argument, NULL, O_HGRM },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "ca", required_argument, NULL, O_CA },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (wsb_opts){ .threads = 1, .conns = 10, .duration_s = 10, .warmup_s = 1, .size = 16,
	                 .mode = WSB_PINGPONG, .pipeline = 1, .ramp = 64 };
	int ch, modes = 0;
	unsigned pid = 0;
	const char *bad = NULL;
	while ((ch = getopt_long(argc, argv, "t:c:d:w:s:qh", lo, NULL)) != -1) {
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
		case 's':
			if (parse_size(optarg, &o->size) || o->size > (256u << 20))
				bad = "-s: bytes, at most 256m";
			break;
		case O_TEXT: o->text = true; break;
		case O_BINARY: o->text = false; break;
		case O_PIPELINE:
			if (parse_uint(optarg, 1, 65536, &o->pipeline))
				bad = "--pipeline: 1..65536";
			break;
		case O_RATE: {
			char *e;
			o->rate = strtod(optarg, &e);
			if (e == optarg || *e || o->rate <= 0)
				bad = "--rate: messages per second, > 0";
			o->mode = WSB_RATE;
			modes++;
			break;
		}
		case O_CONNECT: o->mode = WSB_CONNECT; modes++; break;
		case O_IDLE: o->mode = WSB_IDLE; modes++; break;
		case O_RAMP:
			if (parse_uint(optarg, 1, 100000, &o->ramp))
				bad = "--ramp: 1..100000";
			break;
		case O_PID:
			if (parse_uint(optarg, 1, 1u << 30, &pid))
				bad = "--server-pid: a process id";
			o->server_pid = (int)pid;
			break;
		case O_JSON: o->json = true; break;
		case O_HGRM: o->hgrm_path = optarg; break;
		case O_PLOT: o->plot_path = optarg; break;
		case O_CA: o->ca_file = optarg; break;
		case O_INSECURE: o->insecure = true; break;
		case O_RESUME: o->resume = true; break;
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
	if (modes > 1) {
		fprintf(stderr, "ws-bench: --rate, --connect-rate and --idle exclude each other\n");
		return -1;
	}
	if (o->pipeline > 1 && o->mode != WSB_PINGPONG) {
		fprintf(stderr, "ws-bench: --pipeline goes with the (default) ping-pong mode only\n");
		return -1;
	}
	unsigned min = o->text ? MIN_TEXT : MIN_BINARY;
	if (o->size < min && (o->mode == WSB_PINGPONG || o->mode == WSB_RATE)) {
		fprintf(stderr, "ws-bench: -s %zu: %s messages carry a sequence number and a "
		        "timestamp and need at least %u bytes\n", o->size, o->text ? "text" : "binary", min);
		return -1;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (optind + 1 != argc) {
		fprintf(stderr, "ws-bench: %s\n", optind >= argc ? "no URL given" : "one URL only");
		usage(stderr);
		return -1;
	}
	o->url = argv[optind];
	return parse_url(o);
}
