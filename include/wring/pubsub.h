/* wring: publish/subscribe across reactors.
 *
 * A WebSocket connection subscribes to topics; a publish reaches every subscriber on every
 * reactor. A publish is framed once, into one reference-counted frame (permessage-deflate
 * subscribers: compressed once per window size) shared by every subscriber; each other
 * reactor that has subscriptions gets it through its inbox, woken by one IORING_OP_MSG_RING
 * per loop turn of the publishing reactor (or per batch from another thread). No mutex, and
 * for messages that fit a pool block (about 870 bytes of payload, topic and key) no
 * allocation per publish once the pool has warmed up.
 *
 * Topics: a name is 1..255 bytes without NUL or '*'. A subscription is a name or a trailing
 * wildcard: "prices.*" matches every name that begins with "prices." (at any depth), "*"
 * matches every name. A connection that matches a publish through several subscriptions gets
 * it once. Order: a subscriber receives one publisher's messages in the order of the calls
 * (one thread, or one reactor's handlers, is one publisher).
 *
 * Slow subscribers: while a subscriber's connection has more than topic_send_mark bytes
 * queued, publications wait, unsent, in its queue (one per connection, in publication order).
 * Each topic has a policy (wr_server_topic) that acts when a subscription's unsent messages
 * pass the topic's limit, and the counts are readable per connection and per server. */
#ifndef WRING_PUBSUB_H
#define WRING_PUBSUB_H

#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum wr_topic_policy {
	/* Past the limit, the subscription's oldest unsent message is dropped (counted). */
	WR_TOPIC_DROP_OLDEST = 0,
	/* An unsent message is replaced by a newer one with the same key (wr_server_publish_keyed;
	 * no key: the topic is one key), which goes to the back of the queue, so one publisher's
	 * order holds for what is sent. Past the limit (that many distinct keys waiting), the
	 * oldest is dropped. Market data: the latest price per instrument, never a stale one. */
	WR_TOPIC_CONFLATE,
	/* Past the limit, the subscriber is closed with 1008 (its unsent messages are dropped;
	 * the close frame follows what was already queued). */
	WR_TOPIC_CLOSE,
} wr_topic_policy;

typedef struct wr_topic_config {
	wr_topic_policy policy;
	unsigned limit;          /* unsent messages per subscription; 0 = 1024 */
} wr_topic_config;

/* Before wr_server_start/listen: the policy of the topics pattern matches (a name, "x.*" or
 * "*"; copied). A publish takes the policy of its exact name if set, else of the longest
 * wildcard that matches, else drop-oldest with limit 1024. Returns 0, -EINVAL (bad pattern),
 * -EBUSY (started), -ENOMEM. */
WR_API int wr_server_topic(wr_server *srv, const char *pattern, const wr_topic_config *cfg);

/* On ws's reactor (its callbacks or its fiber): subscribe to a name or pattern (copied).
 * Subscribing twice to the same string is one subscription. Returns 0; -EINVAL (bad name);
 * -ENOSPC (already wr_server_config.max_subscriptions); -EPIPE (closing or closed);
 * -ENOTSUP (a client connection); -ENOMEM. */
WR_API int wr_ws_subscribe(wr_ws *ws, const char *topic);
/* Leave a subscription (its unsent messages are dropped, not counted). 0 or -ENOENT. */
WR_API int wr_ws_unsubscribe(wr_ws *ws, const char *topic);
WR_API bool wr_ws_is_subscribed(const wr_ws *ws, const char *topic);
/* A closing connection leaves all its topics by itself. */

/* Thread-safe and lock-free: publish data (copied before return) on topic (a name, no
 * wildcard) to every subscriber of every reactor. op is WR_OP_TEXT (checked UTF-8) or
 * WR_OP_BINARY. Returns 0; -EINVAL; -ESHUTDOWN (the server is not running); -EAGAIN when a
 * reactor's inbox was full (its subscribers miss this message; counted as unrouted); -ENOMEM.
 * Not concurrently with wr_server_free. */
WR_API int wr_server_publish(wr_server *srv, const char *topic, const void *data, size_t len,
                             wr_opcode op);
/* The same with a conflation key (NUL-terminated, <= 255 bytes) for WR_TOPIC_CONFLATE. */
WR_API int wr_server_publish_keyed(wr_server *srv, const char *topic, const char *key,
                                   const void *data, size_t len, wr_opcode op);
/* From a handler: publish through ws's server (ws itself receives it too if subscribed). */
WR_API int wr_ws_publish(wr_ws *ws, const char *topic, const void *data, size_t len,
                         wr_opcode op);

typedef struct wr_pubsub_stats {
	uint64_t published;     /* publishes accepted (server only) */
	uint64_t delivered;     /* messages queued on subscribers' connections */
	uint64_t dropped;       /* unsent messages dropped by a policy */
	uint64_t conflated;     /* unsent messages replaced by a newer one with the same key */
	uint64_t closed;        /* subscribers closed with 1008 by WR_TOPIC_CLOSE */
	uint64_t unrouted;      /* reactor posts refused (inbox full), server only */
	uint64_t subscriptions; /* open now (server), or this connection's */
	uint64_t waiting;       /* unsent messages held now (server: summed over reactors) */
	uint64_t compressed;    /* permessage-deflate: publications compressed, once per window
	                           size each, shared by every subscriber with that window (server) */
	uint64_t posts;         /* publications posted to other reactors (server) */
	uint64_t wakeups;       /* the IORING_OP_MSG_RING wake-ups those posts took: one per
	                           target while one is pending, one per publishing turn (server) */
} wr_pubsub_stats;

/* Any thread, until wr_server_free: the server's counts, summed over its reactors (each
 * reactor writes its own; the sum is a moment's picture, not a snapshot); after a stop, the
 * final counts. */
WR_API void wr_server_pubsub_stats(const wr_server *srv, wr_pubsub_stats *out_stats);
/* On ws's reactor: this subscriber's counts. */
WR_API void wr_ws_pubsub_stats(const wr_ws *ws, wr_pubsub_stats *out_stats);

#ifdef __cplusplus
}
#endif
#endif
