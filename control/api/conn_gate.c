/* Admission and request deadlines for the HTTP servers' connections (see conn_gate.h). */
#include "conn_gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

#define GATE_LOG_INTERVAL_MS 1000u
#define GATE_TICK_MS 250u

enum slot_state {
	SLOT_FREE = 0,
	SLOT_WAITING, /* the request has not all arrived: the deadline runs */
	SLOT_BUSY,    /* being handled or answered */
	SLOT_CLOSED,  /* shut down by the gate, MHD has not released it yet */
};

struct conn_gate_slot {
	enum slot_state state;
	int fd;
	uint64_t since_ms; /* accept, or the end of the previous answer */
	uint64_t seq;      /* admission order: ties of since_ms */
	struct conn_gate_client c;
};

struct conn_gate {
	char name[16];
	struct conn_gate_limits l;
	pthread_mutex_t mu;
	unsigned int n_slots;
	uint64_t seq;
	struct log_limit log_refused, log_closed, log_timeout;
	pthread_t thread;
	pthread_cond_t cond;
	bool has_thread, stop;
	struct conn_gate_slot slots[];
};

uint64_t conn_gate_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool log_limit_ok(struct log_limit *l, uint64_t now_ms, uint64_t interval_ms, unsigned long *left_out)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	bool ok;

	pthread_mutex_lock(&mu);
	ok = !l->used || now_ms - l->last_ms >= interval_ms;
	if (ok) {
		*left_out = l->left_out;
		l->left_out = 0;
		l->last_ms = now_ms;
		l->used = true;
	} else {
		l->left_out++;
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

/* The short answer before the gate hangs up: best effort, never blocking. */
static void answer(const struct conn_gate *g, int fd, unsigned int status, const char *reason,
		   const char *why)
{
	char body[256], msg[512];
	int bl, ml;

	bl = g->l.json ? snprintf(body, sizeof(body), "{\"error\": \"%s\"}\n", why)
		       : snprintf(body, sizeof(body), "%s\n", why);
	if (bl < 0 || (size_t)bl >= sizeof(body))
		bl = (int)strlen(body);
	ml = snprintf(msg, sizeof(msg),
		      "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nConnection: close\r\n"
		      "Content-Length: %d\r\n\r\n%s",
		      status, reason, g->l.json ? "application/json" : "text/plain", bl, body);
	if (ml > 0 && (size_t)ml < sizeof(msg) &&
	    send(fd, msg, (size_t)ml, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* A full buffer or a gone client: the hang-up alone says it. */
	}
	shutdown(fd, SHUT_RDWR);
}

static void close_slot(struct conn_gate *g, struct conn_gate_slot *s, unsigned int status,
		       const char *reason, const char *why)
{
	answer(g, s->fd, status, reason, why);
	s->state = SLOT_CLOSED;
}

static bool counted(const struct conn_gate_slot *s)
{
	return s->state == SLOT_WAITING || s->state == SLOT_BUSY;
}

static bool same_client(const struct conn_gate_slot *s, const struct conn_gate_client *c)
{
	return !memcmp(s->c.id, c->id, sizeof(c->id));
}

/* The oldest slot still waiting for its request that matches; NULL if none. */
static struct conn_gate_slot *oldest_waiting(struct conn_gate *g, const struct conn_gate_client *c,
					     int privileged)
{
	struct conn_gate_slot *best = NULL;

	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct conn_gate_slot *s = &g->slots[i];

		if (s->state != SLOT_WAITING || (c && !same_client(s, c)) ||
		    (privileged >= 0 && s->c.privileged != (privileged != 0)))
			continue;
		if (!best || s->since_ms < best->since_ms ||
		    (s->since_ms == best->since_ms && s->seq < best->seq))
			best = s;
	}
	return best;
}

/* NAME_connection_refused (the newcomer) or NAME_connection_closed (one that made room for it). */
static void log_refusal(struct conn_gate *g, const char *what, const struct conn_gate_client *c,
			const char *why, uint64_t now_ms)
{
	struct log_limit *l = strcmp(what, "refused") ? &g->log_closed : &g->log_refused;
	unsigned long left_out;
	char event[48];

	if (!log_limit_ok(l, now_ms, GATE_LOG_INTERVAL_MS, &left_out))
		return;
	snprintf(event, sizeof(event), "%s_connection_%s", g->name, what);
	log_event(LOG_WARN, event, "client=%s reason=%s left_out=%lu", c->label, why,
		  left_out);
}

struct conn_gate_slot *conn_gate_admit(struct conn_gate *g, int fd, const struct conn_gate_client *c,
				       uint64_t now_ms)
{
	static const char same[] = "closed: a newer connection of the same client needed its place";
	static const char room[] =
		"closed: its request had not arrived and a new connection needed the place";
	struct conn_gate_client gone = { .label = "" };
	struct conn_gate_slot *slot = NULL, *victim;
	unsigned int mine = 0, unpriv = 0, total = 0, cap, have;
	const char *closed_why = NULL;
	char why[160] = "";

	pthread_mutex_lock(&g->mu);
	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct conn_gate_slot *s = &g->slots[i];

		if (s->state == SLOT_FREE) {
			if (!slot)
				slot = s;
			continue;
		}
		if (!counted(s))
			continue;
		total++;
		unpriv += !s->c.privileged;
		mine += same_client(s, c);
	}
	if (!slot) {
		/* Every slot holds a connection MHD has not closed yet. */
		snprintf(why, sizeof(why), "%s is at its connection limit (%u)", g->name, g->l.max);
		goto refuse;
	}
	/* One client's slow connections give way to its own new ones, never to others'. */
	if (!c->privileged && g->l.per_client && mine >= g->l.per_client) {
		victim = oldest_waiting(g, c, -1);
		if (!victim) {
			snprintf(why, sizeof(why), "too many connections from %s (%u at once)", c->label,
				 g->l.per_client);
			goto refuse;
		}
		close_slot(g, victim, 503, "Service Unavailable", same);
		gone = victim->c;
		closed_why = same;
		total--;
		unpriv -= !victim->c.privileged;
	}
	cap = c->privileged ? g->l.max : g->l.max - g->l.reserved;
	have = c->privileged ? total : unpriv;
	if (have >= cap) {
		victim = oldest_waiting(g, NULL, 0);
		if (!victim && c->privileged)
			victim = oldest_waiting(g, NULL, 1);
		if (!victim) {
			snprintf(why, sizeof(why), "%s is at its connection limit (%u%s)", g->name, cap,
				 c->privileged ? "" : " for unprivileged clients");
			goto refuse;
		}
		close_slot(g, victim, 503, "Service Unavailable", room);
		gone = victim->c;
		closed_why = room;
	}
	slot->state = SLOT_WAITING;
	slot->fd = fd;
	slot->since_ms = now_ms;
	slot->seq = ++g->seq;
	slot->c = *c;
	pthread_mutex_unlock(&g->mu);
	if (closed_why)
		log_refusal(g, "closed", &gone, closed_why, now_ms);
	return slot;

refuse:
	answer(g, fd, 503, "Service Unavailable", why);
	pthread_mutex_unlock(&g->mu);
	if (closed_why)
		log_refusal(g, "closed", &gone, closed_why, now_ms);
	log_refusal(g, "refused", c, why, now_ms);
	return NULL;
}

bool conn_gate_busy(struct conn_gate *g, struct conn_gate_slot *s)
{
	bool open;

	if (!s)
		return false;
	pthread_mutex_lock(&g->mu);
	open = counted(s);
	if (open)
		s->state = SLOT_BUSY;
	pthread_mutex_unlock(&g->mu);
	return open;
}

void conn_gate_idle(struct conn_gate *g, struct conn_gate_slot *s, uint64_t now_ms)
{
	if (!s)
		return;
	pthread_mutex_lock(&g->mu);
	if (counted(s)) {
		s->state = SLOT_WAITING;
		s->since_ms = now_ms;
	}
	pthread_mutex_unlock(&g->mu);
}

bool conn_gate_open(struct conn_gate *g, const struct conn_gate_slot *s)
{
	bool open;

	if (!s)
		return false;
	pthread_mutex_lock(&g->mu);
	open = counted(s);
	pthread_mutex_unlock(&g->mu);
	return open;
}

void conn_gate_release(struct conn_gate *g, struct conn_gate_slot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&g->mu);
	s->state = SLOT_FREE;
	s->fd = -1;
	pthread_mutex_unlock(&g->mu);
}

unsigned int conn_gate_expire(struct conn_gate *g, uint64_t now_ms)
{
	struct conn_gate_client last = { .label = "" };
	unsigned int n = 0;
	unsigned long left_out;
	char event[48];

	if (!g->l.request_ms)
		return 0;
	pthread_mutex_lock(&g->mu);
	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct conn_gate_slot *s = &g->slots[i];

		if (s->state != SLOT_WAITING || now_ms - s->since_ms < g->l.request_ms)
			continue;
		close_slot(g, s, 408, "Request Timeout", "the request did not arrive in time");
		last = s->c;
		n++;
	}
	pthread_mutex_unlock(&g->mu);
	if (n && log_limit_ok(&g->log_timeout, now_ms, GATE_LOG_INTERVAL_MS, &left_out)) {
		snprintf(event, sizeof(event), "%s_request_timeout", g->name);
		log_event(LOG_WARN, event, "client=%s closed=%u limit_ms=%u left_out=%lu", last.label,
			  n, g->l.request_ms, left_out);
	}
	return n;
}

unsigned int conn_gate_count(struct conn_gate *g)
{
	unsigned int n = 0;

	pthread_mutex_lock(&g->mu);
	for (unsigned int i = 0; i < g->n_slots; i++)
		n += counted(&g->slots[i]);
	pthread_mutex_unlock(&g->mu);
	return n;
}

unsigned int conn_gate_capacity(const struct conn_gate *g)
{
	return g->n_slots;
}

static void *watchdog(void *arg)
{
	struct conn_gate *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += GATE_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cond, &g->mu, &ts);
		if (g->stop)
			break;
		pthread_mutex_unlock(&g->mu);
		conn_gate_expire(g, conn_gate_now_ms());
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct conn_gate *conn_gate_new(const char *name, const struct conn_gate_limits *l, bool watch)
{
	/* Room for closed connections that MHD has not noticed yet: twice the limit. */
	unsigned int n = l->max * 2;
	pthread_condattr_t ca;
	struct conn_gate *g;

	if (!l->max || l->reserved >= l->max) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g) + n * sizeof(g->slots[0]));
	if (!g)
		return NULL;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->l = *l;
	g->n_slots = n;
	for (unsigned int i = 0; i < n; i++)
		g->slots[i].fd = -1;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (watch && l->request_ms) {
		int err = pthread_create(&g->thread, NULL, watchdog, g);

		if (err) {
			conn_gate_free(g);
			errno = err;
			return NULL;
		}
		g->has_thread = true;
	}
	return g;
}

void conn_gate_free(struct conn_gate *g)
{
	if (!g)
		return;
	if (g->has_thread) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_signal(&g->cond);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
