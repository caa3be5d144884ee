/* permessage-deflate figures against a running echo server (bench/deflate_bench.sh drives
 * it): ping-pong of 1 KiB JSON-like messages with the server's CPU time per message read
 * from /proc, the compression ratio of those messages as zlib compresses them with the
 * negotiated parameters, or connections opened, given one message each, and held while the
 * server's RSS is read.
 *
 *   deflate_bench echo URL PID N [deflate]     -> "cpu_us_per_msg X ratio Y"
 *   deflate_bench idle URL PID N MODE          -> "rss_per_conn_bytes X"
 *     MODE: plain | deflate | deflate-nct (both sides without context takeover) | quiet
 *     (deflate negotiated, no message sent) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wring.h>
#include <zlib.h>

static char *json_msg(unsigned seq, size_t len)
{
	static const char *names[] = { "alice", "bob", "carol", "dave", "erin", "frank" };
	static const char *sym[] = { "AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA" };
	char *s = malloc(len + 256);
	size_t k = 0;
	unsigned x = seq * 2654435761u;
	k += (size_t)sprintf(s, "{\"seq\":%u,\"type\":\"update\",\"items\":[", seq);
	while (k < len - 2) {
		x = x * 1103515245u + 12345u;
		k += (size_t)sprintf(s + k, "{\"user\":\"%s\",\"symbol\":\"%s\",\"price\":%u.%02u,"
		                     "\"qty\":%u,\"side\":\"%s\"},", names[x % 6], sym[(x >> 8) % 6],
		                     100 + (x >> 12) % 900, (x >> 4) % 100, (x >> 20) % 500,
		                     x & 1 ? "buy" : "sell");
	}
	s[len - 2] = ']';
	s[len - 1] = '}';
	s[len] = 0;
	return s;
}

static long long cpu_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		return -1;
	fclose(f);
	char *p = strrchr(buf, ')');
	long long ut, st;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
		return -1;
	return ut + st;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return fprintf(stderr, "usage: see the comment at the top\n"), 2;
	const char *url = argv[2];
	int pid = atoi(argv[3]);
	unsigned n = (unsigned)atoi(argv[4]);
	const char *mode = argc > 5 ? argv[5] : "plain";
	bool dfl = strcmp(mode, "plain") != 0;
	wr_client_options o = { .read_timeout_ms = 10000,
	                        .deflate = { .enable = dfl,
	                                     .server_no_context_takeover = !strcmp(mode, "deflate-nct"),
	                                     .client_no_context_takeover = !strcmp(mode, "deflate-nct") } };
	if (!strcmp(argv[1], "echo")) {
		wr_client_err err;
		wr_client *c = wr_client_connect(url, &o, &err);
		if (!c || wr_client_deflate(c) != dfl)
			return fprintf(stderr, "connect: %d\n", err.code), 1;
		/* The ratio: the same messages through zlib as the server compresses them (raw,
		 * level 6, memLevel 8, 15 bits, context kept, sync flush, tail dropped). */
		z_stream z = { 0 };
		deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		static uint8_t zout[8192];
		size_t raw = 0, packed = 0;
		long long t0 = 0;
		for (unsigned i = 0; i < n + 1000; i++) {
			if (i == 1000)
				t0 = cpu_ticks(pid); /* after a warm-up */
			char *m = json_msg(i, 1024);
			if (wr_client_send_text(c, m) < 0)
				return 1;
			wr_msg r;
			if (wr_client_read(c, &r) != WR_OP_TEXT || r.len != 1024 || memcmp(r.data, m, 1024))
				return fprintf(stderr, "bad echo\n"), 1;
			z.next_in = (Bytef *)m;
			z.avail_in = 1024;
			z.next_out = zout;
			z.avail_out = sizeof(zout);
			deflate(&z, Z_SYNC_FLUSH);
			raw += 1024;
			packed += sizeof(zout) - z.avail_out - 4;
			free(m);
		}
		long long t1 = cpu_ticks(pid);
		double us = (double)(t1 - t0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / n;
		printf("cpu_us_per_msg %.2f ratio %.2f\n", us, dfl ? (double)raw / (double)packed : 1.0);
		wr_client_close(c, 1000, "");
		wr_client_free(c);
		deflateEnd(&z);
		return 0;
	}
	/* idle */
	wr_client **cs = calloc(n, sizeof(*cs));
	sleep(1);
	long before = rss_kib(pid);
	char *m = json_msg(1, 1024);
	for (unsigned i = 0; i < n; i++) {
		cs[i] = wr_client_connect(url, &o, NULL);
		if (!cs[i] || wr_client_deflate(cs[i]) != dfl)
			return fprintf(stderr, "connect %u failed\n", i), 1;
		if (strcmp(mode, "quiet") != 0) {
			wr_msg r;
			if (wr_client_send_text(cs[i], m) < 0 || wr_client_read(cs[i], &r) != WR_OP_TEXT)
				return 1;
		}
	}
	sleep(1);
	long after = rss_kib(pid);
	printf("rss_per_conn_bytes %.0f\n", (double)(after - before) * 1024.0 / n);
	for (unsigned i = 0; i < n; i++)
		wr_client_free(cs[i]);
	free(cs);
	free(m);
	return 0;
}
