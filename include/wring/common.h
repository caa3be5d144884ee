/* wring: shared value types, export macro and error helpers.
 *
 * Errors follow one convention everywhere: functions returning int/ssize_t give >= 0 on success
 * and a negative errno value on failure; constructors return NULL and, where they take one,
 * fill an out_err. wr_strerror() names every code wring returns. */
#ifndef WRING_COMMON_H
#define WRING_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WRING_BUILD)
#define WR_API __attribute__((visibility("default")))
#else
#define WR_API
#endif

/* A borrowed byte range; never NUL-terminated unless stated. data is NULL when absent. */
typedef struct wr_str {
	const char *data;
	size_t len;
} wr_str;

/* WebSocket opcodes (RFC 6455 §5.2). */
typedef enum wr_opcode {
	WR_OP_CONT = 0x0,
	WR_OP_TEXT = 0x1,
	WR_OP_BINARY = 0x2,
	WR_OP_CLOSE = 0x8,
	WR_OP_PING = 0x9,
	WR_OP_PONG = 0xA,
} wr_opcode;

/* WebSocket close codes (RFC 6455 §7.4.1). Never mixed with errno values. */
typedef enum wr_close_code {
	WR_CLOSE_NORMAL = 1000,
	WR_CLOSE_GOING_AWAY = 1001,
	WR_CLOSE_PROTOCOL_ERROR = 1002,
	WR_CLOSE_UNSUPPORTED = 1003,
	WR_CLOSE_NO_STATUS = 1005,   /* reported only: never sent */
	WR_CLOSE_ABNORMAL = 1006,    /* reported only: connection dropped without a close frame */
	WR_CLOSE_INVALID_DATA = 1007,
	WR_CLOSE_POLICY_VIOLATION = 1008,
	WR_CLOSE_TOO_BIG = 1009,
	WR_CLOSE_EXTENSION = 1010,
	WR_CLOSE_INTERNAL_ERROR = 1011,
	WR_CLOSE_TRY_AGAIN = 1013,
} wr_close_code;

/* A received message: a view valid until the callback (or the next wr_client_read) returns. */
typedef struct wr_msg {
	const uint8_t *data;
	size_t len;
	wr_opcode opcode;
	/* Streamed receive only (wr_ws_handlers.stream_large): more pieces of this message
	 * follow, and offset is where this piece begins in the message. A whole message has
	 * more false and offset 0. */
	bool more;
	uint64_t offset;
} wr_msg;

/* Completion of a send without copy: data is the caller's buffer, status 0 once the kernel is
 * done with it, or a negative errno when the connection closed first. */
typedef void (*wr_send_done)(const void *data, int status, void *user);

/* TLS settings shared by server and client. Strings are borrowed until wr_server_new or
 * wr_client_connect returns. */
typedef struct wr_tls_config {
	const char *cert_file;  /* PEM chain (server; client certificate on a client) */
	const char *key_file;   /* PEM private key */
	const char *ca_file;    /* server: CA for client certificates; client: trust anchors
	                           (NULL: the system store) */
	int min_version;        /* 12 (default) or 13 */
	bool verify_peer;       /* server: require a client certificate */
	bool insecure;          /* client: skip certificate and hostname checks (explicit opt-out) */
	bool resume;            /* async client (wr_loop): keep the session (ticket) of the last
	                           connection to a host and offer it on the next one to that host */
} wr_tls_config;

/* permessage-deflate (RFC 7692). Zero is "off"; with enable set, zero fields are defaults.
 * A server route accepts an offer it can honour and answers with what it will do; a client
 * offers these and fails the connection on an answer it did not allow. */
typedef struct wr_deflate_config {
	bool enable;
	/* Ask (client) or require (server) that the side resets its compression context after
	 * every message: costs ratio, saves that side's compressor window between messages. */
	bool server_no_context_takeover;
	bool client_no_context_takeover;
	uint8_t server_max_window_bits; /* 9..15; 0 = 15 (a peer may ask for less) */
	uint8_t client_max_window_bits; /* 9..15; 0 = 15 */
	uint8_t mem_level;              /* zlib memLevel 1..9; 0 = 8 */
	uint8_t level;                  /* zlib level 1..9; 0 = 6 */
	/* Shared-compressor mode: our side never keeps context (no_context_takeover is
	 * negotiated for it), and every connection of a reactor compresses with one zlib stream,
	 * so an idle connection holds no compressor at all. */
	bool shared;
	size_t threshold;               /* messages shorter than this go uncompressed; 0 = 64 */
} wr_deflate_config;

/* Name of any error code wring returns (negative errno). Never NULL. */
WR_API const char *wr_strerror(int err);

/* Debug log sink: the library is silent unless one is installed. Process-wide, set before
 * starting reactors; fn is called from reactor threads. */
typedef void (*wr_log_fn)(const char *msg, void *user);
WR_API void wr_set_log(wr_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
