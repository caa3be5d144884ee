/* Pub/sub (pubsub.h): the hub, each reactor's topic index, delivery with the
 * slow-subscriber policies, and the public wr_ws_* calls.
 *
 * The hot path of a publish: one pooled block (frame + topic + key), one reference and one
 * inbox post per other reactor that has subscriptions, then on each reactor one lookup of the
 * name (and one per "prefix.*" when wildcards are subscribed there) and, per subscriber, a
 * copy of the frame into its output (wr_ws_send_frame; large frames go by reference). */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "frame_pool.h"
#include "pubsub.h"
#include "reactor.h"
#include "sub_queue.h"
#include "topic.h"
#include "utf8.h"
#include "ws_frame_int.h"
#include "ws_int.h"

#define DEFAULT_MAX_SUBS 64u
#define DEFAULT_MARK (64u * 1024u)
#define DEFAULT_LIMIT 1024u

/* ---- the hub ---- */

typedef struct policy {
	char *pattern;
	size_t len;
	wr_topic_config cfg;
} policy;

/* What a poster on any thread sees of a reactor. */
typedef struct gate {
	wr_reactor *r;
	atomic_bool open;
	atomic_uint posters;
	atomic_uint subs;        /* subscriptions there: 0 means no post is needed */
} gate;

typedef struct ps_reactor ps_reactor;

struct wr_pubsub {
	unsigned n;
	unsigned max_subs;
	size_t mark;
	policy *pol;
	unsigned npol;
	struct wr_frame_pool pool;
	atomic_uint_least64_t published;   /* from threads that are no reactor of ours */
	atomic_uint_least64_t unrouted;
	atomic_uint_least64_t posts, wakeups; /* to other reactors, and the MSG_RINGs they took */
	gate *g;
	ps_reactor **pr;
};

/* ---- a reactor's topic index ---- */

typedef struct member {
	wr_conn *c;              /* NULL: left during a delivery, squeezed out after it */
	uint32_t slot;           /* its subscription in c's list */
} member;

typedef struct ps_topic {
	struct ps_topic *next;   /* hash chain */
	uint64_t hash;
	member *v;
	uint32_t n, cap, dead;
	uint32_t walking;        /* deliveries walking v: removals leave holes meanwhile */
	bool wild;
	uint16_t len;
	char name[];
} ps_topic;

/* Counters: written by the reactor only (a relaxed load and store, no locked add), read by
 * any thread. */
typedef struct ps_counts {
	atomic_uint_least64_t published, delivered, dropped, conflated, closed, subs, waiting, compressed;
} ps_counts;

struct ps_reactor {
	wr_pubsub *hub;
	unsigned idx;
	ps_topic **bucket;
	uint32_t nbucket;        /* a power of 2 */
	uint32_t ntopics;
	uint32_t nwild;          /* wildcard topics: 0 skips the prefix lookups */
	uint64_t seq;            /* per delivery: a subscriber matched twice gets it once */
	ps_counts cnt;
};

/* A connection's subscriptions and unsent publications. */
typedef struct ps_sub {
	ps_topic *t;             /* NULL: a free slot */
	uint32_t pos;            /* its member in t->v */
	uint32_t waiting;        /* unsent messages that came through it */
} ps_sub;

typedef struct wr_ws_subs {
	uint64_t seq;
	uint64_t delivered, dropped, conflated;
	ps_sub *sub;
	uint32_t nslots, cap, count;
	bool gone;
	wr_subq q;
} wr_ws_subs;

static inline void bump(atomic_uint_least64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline ps_reactor *pr_of(const wr_conn *c) { return c->r->topics; }

/* ---- the hub's life ---- */

wr_pubsub *wr__pubsub_new(const wr_pubsub_config *cfg)
{
	wr_pubsub *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->n = cfg->reactors;
	ps->max_subs = cfg->max_subscriptions ? cfg->max_subscriptions : DEFAULT_MAX_SUBS;
	ps->mark = cfg->send_mark ? cfg->send_mark : DEFAULT_MARK;
	ps->g = calloc(ps->n, sizeof(*ps->g));
	ps->pr = calloc(ps->n, sizeof(*ps->pr));
	if (!ps->g || !ps->pr || wr__frame_pool_init(&ps->pool) < 0) {
		wr__pubsub_free(ps);
		return NULL;
	}
	for (unsigned i = 0; i < ps->n; i++) {
		atomic_init(&ps->g[i].open, false);
		atomic_init(&ps->g[i].posters, 0);
		atomic_init(&ps->g[i].subs, 0);
	}
	atomic_init(&ps->published, 0);
	atomic_init(&ps->unrouted, 0);
	atomic_init(&ps->posts, 0);
	atomic_init(&ps->wakeups, 0);
	return ps;
}

void wr__pubsub_free(wr_pubsub *ps)
{
	if (!ps)
		return;
	wr__frame_pool_finish(&ps->pool);
	for (unsigned i = 0; i < ps->npol; i++)
		free(ps->pol[i].pattern);
	free(ps->pol);
	for (unsigned i = 0; ps->pr && i < ps->n; i++) {
		wr__pubsub_detach(ps, i);
		free(ps->pr[i]);
	}
	free(ps->pr);
	free(ps->g);
	free(ps);
}

int wr__pubsub_policy(wr_pubsub *ps, const char *pattern, const wr_topic_config *cfg)
{
	size_t n = pattern ? strlen(pattern) : 0;
	if (!cfg || wr__topic_check(pattern, n, true) < 0 || cfg->policy > WR_TOPIC_CLOSE)
		return -EINVAL;
	wr_topic_config c = *cfg;
	if (!c.limit)
		c.limit = DEFAULT_LIMIT;
	for (unsigned i = 0; i < ps->npol; i++)
		if (ps->pol[i].len == n && memcmp(ps->pol[i].pattern, pattern, n) == 0) {
			ps->pol[i].cfg = c;
			return 0;
		}
	policy *p = realloc(ps->pol, (ps->npol + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	ps->pol = p;
	char *copy = strdup(pattern);
	if (!copy)
		return -ENOMEM;
	ps->pol[ps->npol++] = (policy){ copy, n, c };
	return 0;
}

/* The exact name's policy, else the longest wildcard's, else the default. */
static wr_topic_config policy_for(const wr_pubsub *ps, const char *t, size_t n)
{
	wr_topic_config best = { WR_TOPIC_DROP_OLDEST, DEFAULT_LIMIT };
	size_t best_len = 0;
	bool found = false;
	for (unsigned i = 0; i < ps->npol; i++) {
		const policy *p = &ps->pol[i];
		if (!wr__topic_match(p->pattern, p->len, t, n))
			continue;
		bool exact = p->pattern[p->len - 1] != '*';
		if (exact)
			return p->cfg;
		if (!found || p->len > best_len) {
			best = p->cfg;
			best_len = p->len;
			found = true;
		}
	}
	return best;
}

int wr__pubsub_attach(wr_pubsub *ps, unsigned idx, wr_reactor *r)
{
	ps_reactor *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pr->hub = ps;
	pr->idx = idx;
	pr->nbucket = 64;
	pr->bucket = calloc(pr->nbucket, sizeof(*pr->bucket));
	if (!pr->bucket) {
		free(pr);
		return -ENOMEM;
	}
	ps->pr[idx] = pr;
	ps->g[idx].r = r;
	r->topics = pr;
	atomic_store(&ps->g[idx].open, true);
	return 0;
}

void wr__pubsub_close(wr_pubsub *ps, unsigned idx)
{
	gate *g = &ps->g[idx];
	atomic_store(&g->open, false);
	/* A poster counts itself in before it looks at open: once the count is zero, nobody
	 * is between the look and the post, and the reactor's last drain sees every post. */
	while (atomic_load(&g->posters))
		sched_yield();
}

void wr__pubsub_detach(wr_pubsub *ps, unsigned idx)
{
	ps_reactor *pr = ps->pr[idx];
	if (!pr || !pr->bucket)
		return;
	/* Its connections are freed: every topic left with its last member. The counters stay
	 * until the hub goes, so the counts can still be read once the server has stopped. */
	for (uint32_t i = 0; i < pr->nbucket; i++)
		for (ps_topic *t = pr->bucket[i], *n; t; t = n) {
			n = t->next;
			free(t->v);
			free(t);
		}
	free(pr->bucket);
	pr->bucket = NULL;
	pr->nbucket = 0;
	ps->g[idx].r = NULL;
}

/* ---- the topic index ---- */

static ps_topic *find(const ps_reactor *pr, const char *name, size_t len, uint64_t h)
{
	for (ps_topic *t = pr->bucket[h & (pr->nbucket - 1)]; t; t = t->next)
		if (t->hash == h && t->len == len && memcmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

static void rehash(ps_reactor *pr)
{
	uint32_t n = pr->nbucket * 2;
	ps_topic **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (uint32_t i = 0; i < pr->nbucket; i++)
		for (ps_topic *t = pr->bucket[i], *next; t; t = next) {
			next = t->next;
			t->next = b[t->hash & (n - 1)];
			b[t->hash & (n - 1)] = t;
		}
	free(pr->bucket);
	pr->bucket = b;
	pr->nbucket = n;
}

static ps_topic *topic_get(ps_reactor *pr, const char *name, size_t len, bool wild)
{
	uint64_t h = wr__topic_hash(name, len);
	ps_topic *t = find(pr, name, len, h);
	if (t)
		return t;
	t = calloc(1, sizeof(*t) + len + 1);
	if (!t)
		return NULL;
	t->hash = h;
	t->len = (uint16_t)len;
	t->wild = wild;
	memcpy(t->name, name, len);
	if (pr->ntopics >= pr->nbucket)
		rehash(pr);
	ps_topic **b = &pr->bucket[h & (pr->nbucket - 1)];
	t->next = *b;
	*b = t;
	pr->ntopics++;
	pr->nwild += wild;
	return t;
}

static void topic_drop(ps_reactor *pr, ps_topic *t)
{
	ps_topic **p = &pr->bucket[t->hash & (pr->nbucket - 1)];
	while (*p != t)
		p = &(*p)->next;
	*p = t->next;
	pr->ntopics--;
	pr->nwild -= t->wild;
	free(t->v);
	free(t);
}

static wr_ws_subs *subs_of(const wr_conn *c) { return ws_state(c)->subs; }

/* After a delivery: squeeze out the holes members left, and the topic if none is left. */
static void topic_settle(ps_reactor *pr, ps_topic *t)
{
	if (t->walking)
		return;
	if (t->dead) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < t->n; i++) {
			if (!t->v[i].c)
				continue;
			t->v[k] = t->v[i];
			subs_of(t->v[k].c)->sub[t->v[k].slot].pos = k;
			k++;
		}
		t->n = k;
		t->dead = 0;
	}
	if (!t->n)
		topic_drop(pr, t);
}

static void member_remove(ps_reactor *pr, ps_topic *t, uint32_t pos)
{
	if (t->walking) {
		t->v[pos].c = NULL;
		t->dead++;
		return;
	}
	member last = t->v[--t->n];
	if (pos != t->n) {
		t->v[pos] = last;
		subs_of(last.c)->sub[last.slot].pos = pos;
	}
	topic_settle(pr, t);
}

/* ---- delivery ---- */

static void frame_release(void *p) { wr_frame_unref(p); }

static bool same_key(const void *a, const void *b)
{
	const wr_frame *x = a, *y = b;
	return x->topic_hash == y->topic_hash && x->key_hash == y->key_hash &&
	       x->topic_len == y->topic_len && x->key_len == y->key_len &&
	       memcmp(x->topic, y->topic, x->topic_len) == 0 &&
	       memcmp(x->key, y->key, x->key_len) == 0;
}

static void drop_waiting(ps_reactor *pr, wr_ws_subs *x)
{
	bump(&pr->cnt.waiting, (uint64_t)0 - x->q.live);
	wr__subq_finish(&x->q, frame_release);
	for (uint32_t i = 0; i < x->nslots; i++)
		x->sub[i].waiting = 0;
}

/* WR_TOPIC_CLOSE: the subscriber is told 1008 after what it already has queued. */
static void policy_close(ps_reactor *pr, wr_conn *c, wr_ws_state *s, wr_ws_subs *x)
{
	drop_waiting(pr, x);
	bump(&pr->cnt.closed, 1);
	const char *why = "subscriber too slow";
	wr__ws_report(c, s, WR_CLOSE_POLICY_VIOLATION, why);
	wr__ws_shutdown(c, s, WR_CLOSE_POLICY_VIOLATION, why);
}

/* c is above the mark: f waits in c's queue, and the topic's policy has its say. */
static void hold(ps_reactor *pr, wr_conn *c, wr_ws_state *s, wr_ws_subs *x, uint32_t slot,
                 wr_frame *f)
{
	if (f->policy == WR_TOPIC_CONFLATE) {
		uint32_t was;
		wr_frame *old = wr__subq_take_if(&x->q, same_key, f, &was);
		if (old) {
			x->sub[was].waiting--;
			x->conflated++;
			bump(&pr->cnt.conflated, 1);
			wr__stats_pubsub(c->r->stats, 0, 1);
			bump(&pr->cnt.waiting, (uint64_t)-1);
			wr_frame_unref(old);
		}
	}
	if (wr__subq_push(&x->q, f, slot) < 0) {
		x->dropped++; /* no memory to hold it: as if dropped at once */
		bump(&pr->cnt.dropped, 1);
		wr__stats_pubsub(c->r->stats, 1, 0);
		return;
	}
	wr_frame_ref(f);
	bump(&pr->cnt.waiting, 1);
	if (++x->sub[slot].waiting > f->limit) {
		if (f->policy == WR_TOPIC_CLOSE) {
			policy_close(pr, c, s, x);
			return;
		}
		wr_frame *old = wr__subq_drop_oldest(&x->q, slot);
		if (old) {
			x->sub[slot].waiting--;
			x->dropped++;
			bump(&pr->cnt.dropped, 1);
			wr__stats_pubsub(c->r->stats, 1, 0);
			bump(&pr->cnt.waiting, (uint64_t)-1);
			wr_frame_unref(old);
		}
	}
	wr__conn_want_writable(c);
}

static uint64_t deliver_one(ps_reactor *pr, wr_conn *c, uint32_t slot, wr_frame *f)
{
	wr_ws_state *s = ws_state(c);
	wr_ws_subs *x = s->subs;
	if (x->seq == pr->seq)
		return 0; /* matched through another subscription already */
	x->seq = pr->seq;
	if ((s->flags & WS_CLOSE_SENT) || !wr__conn_is_open(c))
		return 0;
	if (!x->q.live && c->out_bytes <= pr->hub->mark) {
		if (wr_ws_send_frame((wr_ws *)c, f) < 0) {
			/* The handler is half way through a fragmented message of its own (-EBUSY),
			 * or the connection failed: lost for this subscriber, and counted. */
			x->dropped++;
			bump(&pr->cnt.dropped, 1);
			wr__stats_pubsub(c->r->stats, 1, 0);
			return 0;
		}
		x->delivered++;
		return 1;
	}
	hold(pr, c, s, x, slot, f);
	return 0;
}

static uint64_t deliver_topic(ps_reactor *pr, ps_topic *t, wr_frame *f)
{
	uint64_t n = 0;
	t->walking++;
	/* Members that join during the walk (a callback subscribing) come after t->n as it was;
	 * those that leave leave holes. v may move: indexed afresh each time. */
	for (uint32_t i = 0, end = t->n; i < end; i++) {
		wr_conn *c = t->v[i].c;
		if (c)
			n += deliver_one(pr, c, t->v[i].slot, f);
	}
	t->walking--;
	topic_settle(pr, t);
	return n;
}

static void deliver(ps_reactor *pr, wr_frame *f)
{
	pr->seq++;
	uint64_t n = 0;
	ps_topic *t = find(pr, f->topic, f->topic_len, f->topic_hash);
	if (t)
		n += deliver_topic(pr, t, f);
	if (pr->nwild) {
		/* Every "prefix.*" of the name, and "*": hashed as the name is walked once. */
		char pat[WR_TOPIC_MAX + 1];
		uint64_t h = WR_TOPIC_SEED;
		for (size_t i = 0; i < f->topic_len; i++) {
			h = wr__topic_hash_step(h, &f->topic[i], 1);
			pat[i] = f->topic[i];
			if (f->topic[i] != '.' || i + 1 == f->topic_len)
				continue;
			pat[i + 1] = '*';
			if ((t = find(pr, pat, i + 2, wr__topic_hash_step(h, "*", 1))))
				n += deliver_topic(pr, t, f);
		}
		if ((t = find(pr, "*", 1, wr__topic_hash("*", 1))))
			n += deliver_topic(pr, t, f);
	}
	bump(&pr->cnt.delivered, n);
}

void wr__pubsub_count_compressed(wr_conn *c)
{
	if (pr_of(c))
		bump(&pr_of(c)->cnt.compressed, 1);
}

void wr__pubsub_on_post(wr_reactor *r, const wr_inbox_msg *m)
{
	wr_frame *f = m->ptr;
	ps_reactor *pr = r->topics;
	if (pr && m->kind == WR_PUBSUB_POST)
		deliver(pr, f);
	wr_frame_unref(f);
}

/* ---- publishing: any thread ---- */

int wr__pubsub_publish(wr_pubsub *ps, const char *topic, const char *key, const void *data,
                       size_t len, wr_opcode op)
{
	size_t tl = topic ? strlen(topic) : 0, kl = key ? strlen(key) : 0;
	if (!ps || wr__topic_check(topic, tl, false) < 0 || kl > WR_TOPIC_MAX ||
	    (op != WR_OP_TEXT && op != WR_OP_BINARY) || wr__ws_post_check(op, data, len) < 0)
		return -EINVAL;
	wr_topic_config cfg = policy_for(ps, topic, tl);
	wr_frame *f = wr__frame_pool_get(&ps->pool, sizeof(wr_frame) + 14 + len + tl + kl);
	if (!f)
		return -ENOMEM;
	struct wr_frame_pool *pool = f->pool;
	wr__frame_init(f, data, len, op);
	f->pool = pool;
	char *meta = (char *)f->bytes + f->hdr_len + len;
	memcpy(meta, topic, tl);
	if (kl)
		memcpy(meta + tl, key, kl);
	f->topic = meta;
	f->key = meta + tl;
	f->topic_len = (uint16_t)tl;
	f->key_len = (uint16_t)kl;
	f->topic_hash = wr__topic_hash(topic, tl);
	f->key_hash = wr__topic_hash(key, kl);
	f->policy = (uint8_t)cfg.policy;
	f->limit = cfg.limit;

	/* A handler of one of our reactors delivers there itself, at once; the others are
	 * posted to (from a reactor: woken with its next submit, once per turn). */
	wr_reactor *me = wr__reactor_current();
	ps_reactor *mine = me && me->topics && ((ps_reactor *)me->topics)->hub == ps ? me->topics : NULL;
	int rc = 0;
	unsigned posts = 0, wakeups = 0;
	bool any_open = mine != NULL;
	for (unsigned i = 0; i < ps->n; i++) {
		if (mine && i == mine->idx)
			continue;
		gate *g = &ps->g[i];
		atomic_fetch_add(&g->posters, 1);
		if (atomic_load(&g->open)) {
			any_open = true;
			if (atomic_load_explicit(&g->subs, memory_order_relaxed)) {
				wr_frame_ref(f);
				int prc = wr__reactor_post_ptr(g->r, WR_PUBSUB_POST, f);
				if (prc < 0) {
					wr_frame_unref(f);
					atomic_fetch_add_explicit(&ps->unrouted, 1, memory_order_relaxed);
					rc = prc == -ENOMEM ? -ENOMEM : -EAGAIN;
				} else {
					posts++;
					wakeups += (unsigned)prc;
				}
			}
		}
		atomic_fetch_sub(&g->posters, 1);
	}
	if (posts)
		atomic_fetch_add_explicit(&ps->posts, posts, memory_order_relaxed);
	if (wakeups)
		atomic_fetch_add_explicit(&ps->wakeups, wakeups, memory_order_relaxed);
	if (mine) {
		bump(&mine->cnt.published, 1);
		deliver(mine, f);
	} else if (any_open) {
		atomic_fetch_add_explicit(&ps->published, 1, memory_order_relaxed);
	}
	wr_frame_unref(f);
	return any_open ? rc : -ESHUTDOWN;
}

void wr__pubsub_stats(const wr_pubsub *ps, wr_pubsub_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!ps)
		return;
	out->published = atomic_load(&ps->published);
	out->unrouted = atomic_load(&ps->unrouted);
	out->posts = atomic_load(&ps->posts);
	out->wakeups = atomic_load(&ps->wakeups);
	for (unsigned i = 0; i < ps->n; i++) {
		const ps_reactor *pr = ps->pr[i];
		if (!pr)
			continue;
		out->published += atomic_load_explicit(&pr->cnt.published, memory_order_relaxed);
		out->delivered += atomic_load_explicit(&pr->cnt.delivered, memory_order_relaxed);
		out->dropped += atomic_load_explicit(&pr->cnt.dropped, memory_order_relaxed);
		out->conflated += atomic_load_explicit(&pr->cnt.conflated, memory_order_relaxed);
		out->closed += atomic_load_explicit(&pr->cnt.closed, memory_order_relaxed);
		out->subscriptions += atomic_load_explicit(&pr->cnt.subs, memory_order_relaxed);
		out->waiting += atomic_load_explicit(&pr->cnt.waiting, memory_order_relaxed);
		out->compressed += atomic_load_explicit(&pr->cnt.compressed, memory_order_relaxed);
	}
}

/* ---- subscriptions: the connection's reactor ---- */

static void count_subs(ps_reactor *pr, int d)
{
	bump(&pr->cnt.subs, (uint64_t)(int64_t)d);
	gate *g = &pr->hub->g[pr->idx];
	atomic_store_explicit(&g->subs, atomic_load_explicit(&g->subs, memory_order_relaxed) + (unsigned)d,
	                      memory_order_relaxed);
}

static int slot_of(const wr_ws_subs *x, const char *name, size_t n)
{
	for (uint32_t i = 0; x && i < x->nslots; i++) {
		const ps_topic *t = x->sub[i].t;
		if (t && t->len == n && memcmp(t->name, name, n) == 0)
			return (int)i;
	}
	return -1;
}

int wr_ws_subscribe(wr_ws *ws, const char *topic)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_state *s = ws_state(c);
	size_t n = topic ? strlen(topic) : 0;
	int kind = wr__topic_check(topic, n, true);
	if (kind < 0)
		return -EINVAL;
	ps_reactor *pr = pr_of(c);
	if (!pr || (s->flags & WS_CLIENT))
		return -ENOTSUP;
	if (!(s->flags & WS_OPEN) || (s->flags & WS_CLOSE_SENT) || !wr__conn_is_open(c))
		return -EPIPE;
	wr_ws_subs *x = s->subs;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return -ENOMEM;
		x->seq = UINT64_MAX;
		s->subs = x;
	}
	if (x->gone)
		return -EPIPE;
	if (slot_of(x, topic, n) >= 0)
		return 0;
	if (x->count >= pr->hub->max_subs)
		return -ENOSPC;
	uint32_t slot = 0;
	while (slot < x->nslots && x->sub[slot].t)
		slot++;
	if (slot == x->cap) {
		uint32_t cap = x->cap ? x->cap * 2 : 2;
		ps_sub *a = realloc(x->sub, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		x->sub = a;
		x->cap = cap;
	}
	ps_topic *t = topic_get(pr, topic, n, kind == WR_TOPIC_WILD);
	if (!t)
		return -ENOMEM;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 4;
		member *v = realloc(t->v, cap * sizeof(*v));
		if (!v) {
			topic_settle(pr, t); /* a new, empty topic goes again */
			return -ENOMEM;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = (member){ c, slot };
	x->sub[slot] = (ps_sub){ t, t->n, 0 };
	t->n++;
	if (slot == x->nslots)
		x->nslots++;
	x->count++;
	count_subs(pr, 1);
	return 0;
}

static void leave(ps_reactor *pr, wr_ws_subs *x, uint32_t slot)
{
	ps_sub *sb = &x->sub[slot];
	ps_topic *t = sb->t;
	sb->t = NULL;
	x->count--;
	count_subs(pr, -1);
	member_remove(pr, t, sb->pos);
}

int wr_ws_unsubscribe(wr_ws *ws, const char *topic)
{
	wr_conn *c = ws_conn(ws);
	wr_ws_subs *x = subs_of(c);
	int slot = topic ? slot_of(x, topic, strlen(topic)) : -1;
	if (slot < 0)
		return -ENOENT;
	ps_reactor *pr = pr_of(c);
	uint32_t before = x->q.live;
	wr__subq_remove_sub(&x->q, (uint32_t)slot, frame_release);
	bump(&pr->cnt.waiting, (uint64_t)0 - (before - x->q.live));
	x->sub[slot].waiting = 0;
	leave(pr, x, (uint32_t)slot);
	return 0;
}

bool wr_ws_is_subscribed(const wr_ws *ws, const char *topic)
{
	return topic && slot_of(subs_of(ws_conn(ws)), topic, strlen(topic)) >= 0;
}

int wr_ws_publish(wr_ws *ws, const char *topic, const void *data, size_t len, wr_opcode op)
{
	ps_reactor *pr = pr_of(ws_conn(ws));
	if (!pr)
		return -ENOTSUP;
	return wr__pubsub_publish(pr->hub, topic, NULL, data, len, op);
}

void wr_ws_pubsub_stats(const wr_ws *ws, wr_pubsub_stats *out)
{
	memset(out, 0, sizeof(*out));
	const wr_ws_subs *x = subs_of(ws_conn(ws));
	if (!x)
		return;
	out->delivered = x->delivered;
	out->dropped = x->dropped;
	out->conflated = x->conflated;
	out->subscriptions = x->count;
	out->waiting = x->q.live;
}

void wr__pubsub_conn_gone(wr_conn *c, wr_ws_state *s)
{
	wr_ws_subs *x = s->subs;
	if (!x || x->gone)
		return;
	x->gone = true;
	ps_reactor *pr = pr_of(c);
	drop_waiting(pr, x);
	for (uint32_t i = 0; i < x->nslots; i++)
		if (x->sub[i].t)
			leave(pr, x, i);
}

void wr__pubsub_conn_free(wr_conn *c, wr_ws_state *s)
{
	wr_ws_subs *x = s->subs;
	if (!x)
		return;
	wr__pubsub_conn_gone(c, s);
	free(x->sub);
	free(x);
	s->subs = NULL;
}

void wr__pubsub_writable(wr_conn *c, wr_ws_state *s)
{
	wr_ws_subs *x = s->subs;
	if (!x || !x->q.live)
		return;
	ps_reactor *pr = pr_of(c);
	uint64_t n = 0;
	wr_subq_item it;
	while (!x->gone && c->out_bytes <= pr->hub->mark && wr__subq_pop(&x->q, &it)) {
		x->sub[it.sub].waiting--;
		bump(&pr->cnt.waiting, (uint64_t)-1);
		if (wr_ws_send_frame((wr_ws *)c, it.p) == 0) {
			x->delivered++;
			n++;
		} else if (!x->gone) {
			x->dropped++; /* a fragmented message of the handler's own is under way */
			bump(&pr->cnt.dropped, 1);
			wr__stats_pubsub(c->r->stats, 1, 0);
		}
		wr_frame_unref(it.p);
	}
	bump(&pr->cnt.delivered, n);
	if (!x->gone && x->q.live)
		wr__conn_want_writable(c);
}
