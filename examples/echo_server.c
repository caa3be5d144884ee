/* The seed's echo server: /ws echoes text as text and binary as binary.
 * Usage: echo_server [port] [max_message_bytes] (defaults 8080 and 16 MiB).
 * GET / serves a small page that talks to /ws from a browser and shows what came back;
 * GET /metrics the server's metrics in the Prometheus text format (WR_METRICS=0: metrics
 * off, and no /metrics; WR_KERNEL_TS=1: receipt times from the kernel's timestamps).
 * /canary echoes as /ws does, on a route of its own, so that its metrics (receipt to handler,
 * by route) tell one client from a crowd on /ws (bench/fairness); WR_METRICS_SAMPLE=1 times
 * every message instead of one in 64.
 * WR_MEMORY_BUDGET=64M: the server's memory budget (wr_server_config.memory_budget; bytes,
 * or with a K, M or G suffix for KiB, MiB, GiB; default physical memory / 8). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wring.h>

#include "serve.h"

/* The page echoes a text, a binary, a 1.25 MiB message and 500 KB of JSON (what
 * permessage-deflate, which browsers offer, is for), then closes with 4000; the outcome
 * lands in window.wrResult (read by tests/interop/browser.sh) and on screen. */
static const char page[] =
	"<!doctype html><meta charset=utf-8><title>wring echo</title>\n"
	"<pre id=log></pre>\n<script>\n"
	"const log = s => { document.getElementById('log').textContent += s + '\\n'; };\n"
	"const ws = new WebSocket(`ws://${location.host}/ws`);\n"
	"ws.binaryType = 'arraybuffer';\n"
	"const big = 'x\\u00e9\\u20ac\\u{1F600}'.repeat(1 << 17);\n"
	"const bin = Uint8Array.from({ length: 256 }, (_, i) => i);\n"
	"const json = JSON.stringify(Array.from({ length: 6000 }, (_, k) =>\n"
	"  ({ id: k, user: 'user' + k % 97, price: k * 1.25, ok: k % 3 === 0 })));\n"
	"const res = { text: false, binary: false, large: false, json: false, extensions: '' };\n"
	"const steps = [\n"
	"  [() => ws.send('Hello, WebSocket!'), d => res.text = d === 'Hello, WebSocket!'],\n"
	"  [() => ws.send(bin), d => res.binary = d instanceof ArrayBuffer &&\n"
	"      new Uint8Array(d).every((b, i) => b === i) && d.byteLength === 256],\n"
	"  [() => ws.send(big), d => res.large = d === big],\n"
	"  [() => ws.send(json), d => res.json = d === json && json.length > 300000],\n"
	"];\n"
	"let i = 0;\n"
	"ws.onopen = () => { res.extensions = ws.extensions; log('open ' + ws.extensions); steps[0][0](); };\n"
	"ws.onmessage = e => {\n"
	"  log('got ' + (typeof e.data === 'string' ? e.data.length + ' chars' : e.data.byteLength + ' bytes'));\n"
	"  steps[i][1](e.data);\n"
	"  if (++i < steps.length) steps[i][0](); else ws.close(4000, 'bye');\n"
	"};\n"
	"ws.onclose = e => {\n"
	"  Object.assign(res, { code: e.code, reason: e.reason, clean: e.wasClean });\n"
	"  log('closed ' + JSON.stringify(res));\n"
	"  window.wrResult = res;\n"
	"};\n"
	"</script>\n";

static void index_page(wr_req *req, wr_res *res, void *user)
{
	wr_res_header(res, "Content-Type", "text/html; charset=utf-8");
	wr_res_body(res, page, sizeof(page) - 1);
}

static void on_message(wr_ws *ws, wr_msg msg, void *user)
{
	wr_ws_send(ws, msg.data, msg.len, msg.opcode); /* same type back */
}

/* "64M" and the like: bytes with an optional K/M/G (binary) suffix; 0 on anything else. */
static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
	          : *end == 'G' || *end == 'g' ? 30 : 0;
	if (end == s || (shift && end[1]) || (!shift && *end) || v > (SIZE_MAX >> shift))
		return 0;
	return (size_t)v << shift;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	/* WR_THREADS: reactors (default one per CPU), e.g. to share a 2-core machine fairly
	 * with a load generator. */
	const char *threads = getenv("WR_THREADS");
	const char *metrics = getenv("WR_METRICS");
	bool metrics_off = metrics && strcmp(metrics, "0") == 0;
	const char *budget = getenv("WR_MEMORY_BUDGET");
	size_t budget_bytes = budget ? parse_size(budget) : 0;
	if (budget && !budget_bytes) {
		fprintf(stderr, "WR_MEMORY_BUDGET: a size in bytes, or with K, M or G, e.g. 64M\n");
		return 2;
	}
	/* WR_RECV_BUF: bytes per provided receive buffer (bench/large_echo.sh measures them). */
	const char *rbuf = getenv("WR_RECV_BUF");
	/* WR_SEND_ZC: zero-copy send threshold in bytes (0: never, the default). */
	const char *zc = getenv("WR_SEND_ZC");
	/* WR_SETTLE_US: the settling wait (wr_server_config.settle_us; "off": never). */
	const char *settle = getenv("WR_SETTLE_US");
	wr_server_config cfg = { .max_message_bytes = argc > 2 ? strtoull(argv[2], NULL, 0) : 0,
	                         .threads = threads ? (unsigned)atoi(threads) : 0,
	                         .recv_buf_size = rbuf ? (unsigned)atoi(rbuf) : 0,
	                         .send_zc_threshold = zc ? (size_t)strtoull(zc, NULL, 0) : 0,
	                         /* WR_RECV_BUNDLES=1: receive bundles (bench/kernel_path.sh) */
	                         .recv_bundles = getenv("WR_RECV_BUNDLES") != NULL &&
	                                         strcmp(getenv("WR_RECV_BUNDLES"), "1") == 0,
	                         .metrics_off = metrics_off,
	                         .memory_budget = budget_bytes,
	                         .metrics_sample = getenv("WR_METRICS_SAMPLE")
	                                         ? (unsigned)atoi(getenv("WR_METRICS_SAMPLE")) : 0,
	                         .kernel_timestamps = getenv("WR_KERNEL_TS") != NULL,
	                         .settle_us = !settle ? 0
	                                    : strcmp(settle, "off") == 0 ? (unsigned)-1
	                                                                 : (unsigned)atoi(settle) };
	wr_server *srv = example_server_new(&cfg);
	if (!srv)
		return 1;
	wr_server_get(srv, "/", index_page, NULL);
	if (!metrics_off)
		wr_server_metrics(srv, "/metrics");
	/* permessage-deflate is accepted when a client offers it (browsers always do);
	 * WR_DEFLATE=0 refuses it, WR_DEFLATE=shared uses one compressor per reactor. */
	const char *dfl = getenv("WR_DEFLATE");
	wr_deflate_config deflate = { .enable = !dfl || strcmp(dfl, "0") != 0,
	                              .shared = dfl && strcmp(dfl, "shared") == 0 };
	const wr_ws_handlers echo = { .on_message = on_message, .deflate = deflate };
	wr_server_websocket(srv, "/ws", &echo);
	wr_server_websocket(srv, "/canary", &echo);
	return example_serve(srv, port, "");
}
