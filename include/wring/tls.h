/* wring: which TLS library this build links, and which of its assembly runs on this CPU. */
#ifndef WRING_TLS_H
#define WRING_TLS_H

#include <stddef.h>
#include "wring/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The strings are static: valid for the life of the process, never freed by anyone. */
typedef struct wr_tls_lib {
	bool built;            /* false: built without TLS (-Dtls=disabled); strings are "" */
	const char *name;      /* "wolfSSL" */
	const char *version;   /* the linked library's own version, e.g. "5.5.4" */
	const char *build;     /* "local": tests/build-wolfssl's build of Debian's source with its
	                          assembly; "system": the distribution's package; "none" */
	bool aesni;            /* AES-GCM runs on AES-NI: built in, present in the CPU, allowed */
	bool avx2;             /* ChaCha20, Poly1305 and SHA-256 take their AVX2 paths: same three */
	const char *cipher13;  /* the TLS 1.3 suite wring's servers pick and clients offer first:
	                          AES-128-GCM with AES-NI, ChaCha20-Poly1305 without */
} wr_tls_lib;

/* What TLS is built in and how it runs here. Decided once per process from the CPU, capped
 * by the environment variable WR_TLS_ASM read at that moment: "none" turns AES-NI and AVX/AVX2
 * off in wolfSSL (AES and ChaCha20 then run in C, and ChaCha20-Poly1305 is preferred), as on
 * a CPU without them; unset or "all" keeps what the CPU has. The cap reaches wolfSSL only in
 * the local build (Debian's has no assembly to turn off). Safe from any thread. */
WR_API wr_tls_lib wr_tls_info(void);

/* wr_tls_info() as one line for a banner, e.g. "wolfSSL 5.5.4 (local build): AES-NI on,
 * AVX2 on, TLS 1.3 prefers TLS13-AES128-GCM-SHA256". buf is borrowed until return; at most
 * n bytes are written, NUL included. Returns the length the whole line needs, as snprintf. */
WR_API int wr_tls_describe(char *buf, size_t n);

typedef struct wr_ws wr_ws;

/* Did ws's TLS handshake resume an earlier session (wr_tls_config.resume on a client, a
 * ticket a wring server issued on a server)? false for a plain connection. ws is borrowed
 * until return. */
WR_API bool wr_ws_tls_resumed(const wr_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
