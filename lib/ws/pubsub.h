/* Pub/sub inside the WebSocket layer (the public side is wring/pubsub.h).
 *
 * A hub (wr_pubsub) is server-wide and read-only once started, apart from atomics: the
 * topic policies, the frame pool, and per reactor a gate (is it taking posts, how many
 * posters are inside, has it subscriptions at all). Each reactor has its own topic index
 * (reactor->topics), touched only by its thread: topic name -> subscribers. A connection's
 * subscriptions and its queue of unsent publications hang on its WebSocket state. */
#ifndef WR_LIB_PUBSUB_H
#define WR_LIB_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "inbox.h"
#include "ws.h"
#include "wring/pubsub.h"

typedef struct wr_pubsub wr_pubsub;

typedef struct wr_pubsub_config {
	unsigned reactors;
	unsigned max_subscriptions;   /* 0: 64 */
	size_t send_mark;             /* 0: 64 KiB */
} wr_pubsub_config;

/* NULL on -ENOMEM. */
wr_pubsub *wr__pubsub_new(const wr_pubsub_config *cfg);
/* After every reactor was detached. Accepts NULL. */
void wr__pubsub_free(wr_pubsub *ps);
/* Before start: a topic policy (wr_server_topic). */
int wr__pubsub_policy(wr_pubsub *ps, const char *pattern, const wr_topic_config *cfg);
/* On reactor idx's thread, before it runs: its topic index. 0 or -ENOMEM. */
int wr__pubsub_attach(wr_pubsub *ps, unsigned idx, wr_reactor *r);
/* The reactor's loop has ended: no more posts to it (waits for posters inside). */
void wr__pubsub_close(wr_pubsub *ps, unsigned idx);
/* After the reactor (and its connections) were freed: its index goes (its counts stay). */
void wr__pubsub_detach(wr_pubsub *ps, unsigned idx);
/* Any thread. key may be NULL. Returns as wr_server_publish. */
int wr__pubsub_publish(wr_pubsub *ps, const char *topic, const char *key, const void *data,
                       size_t len, wr_opcode op);
void wr__pubsub_stats(const wr_pubsub *ps, wr_pubsub_stats *out);

/* The kind of the reactor posts that carry a publication. */
enum { WR_PUBSUB_POST = 16 };
/* Reactor thread: a publication posted by another thread or reactor. */
void wr__pubsub_on_post(wr_reactor *r, const wr_inbox_msg *m);

/* The connection side (ws_conn.c): c is going (leave every topic, drop what waits); c's
 * output emptied (send what waits, up to the mark); c's state is freed. */
void wr__pubsub_conn_gone(wr_conn *c, wr_ws_state *s);
void wr__pubsub_writable(wr_conn *c, wr_ws_state *s);
void wr__pubsub_conn_free(wr_conn *c, wr_ws_state *s);
/* A publication's compressed variant was made on c's reactor (for the counts). */
void wr__pubsub_count_compressed(wr_conn *c);

#endif
