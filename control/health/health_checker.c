/* The checker thread: one epoll loop; starts due probes within the budget, counts their results. */
#define _GNU_SOURCE /* the GNU strerror_r that returns its string */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "health_internal.h"
#include "health_probe.h"
#include "log.h"

uint64_t health_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t health_now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

void health_wake(int fd)
{
	uint64_t one = 1;

	/* Only fails with EAGAIN when the counter is about to overflow: already readable. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: someone else drained it; nothing is lost */
}

static void format_text(struct health_status *st, const struct health_probe_verdict *v)
{
	char buf[HEALTH_TEXT_MAX];

	switch (v->result) {
	case HEALTH_RESULT_BAD_STATUS:
		snprintf(st->last_text, sizeof(st->last_text), "bad status %u", v->http_status);
		break;
	case HEALTH_RESULT_BAD_RESPONSE:
		snprintf(st->last_text, sizeof(st->last_text), "bad_response%s%s",
			 v->detail ? ": " : "", v->detail ? v->detail : "");
		break;
	case HEALTH_RESULT_ERROR:
		snprintf(st->last_text, sizeof(st->last_text), "error: %s",
			 strerror_r(v->err, buf, sizeof(buf)));
		break;
	case HEALTH_RESULT_LOCAL_ERROR:
		snprintf(st->last_text, sizeof(st->last_text), "local error: %s",
			 strerror_r(v->err, buf, sizeof(buf)));
		break;
	default:
		snprintf(st->last_text, sizeof(st->last_text), "%s", health_result_name(v->result));
		break;
	}
}

/* 1 ms to 5 s: a check slower than its timeout is a timeout, and timeouts are below the interval. */
const uint32_t health_latency_bounds_us[HEALTH_LATENCY_BUCKETS] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

static unsigned int latency_bucket(uint64_t us)
{
	unsigned int i;

	for (i = 0; i < HEALTH_LATENCY_BUCKETS && us > health_latency_bounds_us[i]; i++)
		;
	return i;
}

/* A probe of e finished: count it, move the state, schedule the next one. Under lock. */
static void entry_complete(struct health *h, struct health_entry *e, uint64_t now_ns)
{
	const struct health_probe_verdict *v = &e->probe.verdict;
	struct health_status *st = &e->st;
	enum health_state old = st->state;
	bool bump;

	pthread_mutex_lock(&h->st_lock);
	st->last_result = v->result;
	st->last_http_status = v->http_status;
	st->last_errno = v->err;
	format_text(st, v);
	/* Our own failure (fd limit, no local port) says nothing about the backend. */
	if (v->result != HEALTH_RESULT_LOCAL_ERROR) {
		uint64_t us = v->latency_ns / 1000;

		st->last_latency_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		st->latency_sum_us += us;
		st->latency_hist[latency_bucket(us)]++;
		st->checks++;
		st->last_check_ms = health_now_real_ms();
		if (v->result == HEALTH_RESULT_OK) {
			st->consecutive_ok++;
			st->consecutive_fail = 0;
		} else {
			st->consecutive_fail++;
			st->consecutive_ok = 0;
		}
		if (st->state != HEALTH_STATE_DOWN && st->consecutive_fail >= e->key.fall)
			st->state = HEALTH_STATE_DOWN;
		else if (st->state == HEALTH_STATE_DOWN && st->consecutive_ok >= e->key.rise)
			st->state = HEALTH_STATE_UP;
		else if (st->state == HEALTH_STATE_UNKNOWN && st->consecutive_ok > 0)
			st->state = HEALTH_STATE_UP; /* already routed: rise has nothing to protect */
	}
	if (st->state != old)
		st->last_change_ms = health_now_real_ms();
	bump = (old == HEALTH_STATE_DOWN) != (st->state == HEALTH_STATE_DOWN);
	if (bump) {
		if (st->state == HEALTH_STATE_DOWN)
			st->went_down++;
		else
			st->came_up++;
	}
	pthread_mutex_unlock(&h->st_lock);
	if (bump) {
		/* Release: pairs with the acquire in health_generation(). */
		atomic_fetch_add_explicit(&h->generation, 1, memory_order_release);
		health_wake(h->event_fd);
	}

	e->probe.phase = HEALTH_PROBE_IDLE;
	health_heap_remove(h, e);
	if (h->budget_eff < h->budget)
		h->budget_eff++; /* a socket was freed: try one more at once next time */
	/* Keep the phase the jitter gave: start interval after the last start, not after its end. */
	e->due_ns = e->anchor_ns + (uint64_t)e->key.interval_ms * NS_PER_MS;
	if (e->due_ns < now_ns)
		e->due_ns = now_ns;
	health_heap_push(h, e, IN_WAIT);
}

/*
 * How late a start may be before it counts as late: a quarter of the interval
 * is the schedule slipping; under LATE_FLOOR_NS it is a busy machine's
 * scheduler, not the checker (timer wakeups are otherwise late by microseconds).
 */
#define LATE_FLOOR_NS (100ull * NS_PER_MS)

uint64_t health_late_after_ns(uint32_t interval_ms)
{
	uint64_t q = (uint64_t)interval_ms * NS_PER_MS / 4;

	return q > LATE_FLOOR_NS ? q : LATE_FLOOR_NS;
}

/* Could not open a socket (EMFILE, ENFILE, ENOBUFS, ENOMEM): our shortage, not the backend's. */
static bool start_deferred(const struct health_entry *e)
{
	int err = e->probe.verdict.err;

	return e->probe.verdict.result == HEALTH_RESULT_LOCAL_ERROR &&
	       (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM);
}

/* One line when checks start running late, then at most one a minute while they do. Under lock. */
static void log_behind(struct health *h, uint64_t now_ns, uint64_t lag_ns)
{
	uint64_t now_ms = now_ns / NS_PER_MS;

	if (h->late == h->late_logged ||
	    (h->last_log_ms && now_ms - h->last_log_ms < BEHIND_LOG_MS))
		return;
	log_event(LOG_WARN, "health_behind_schedule",
		  "late=%llu late_total=%llu lag_ms=%llu in_flight=%u budget=%u targets=%u "
		  "hint=%s",
		  (unsigned long long)(h->late - h->late_logged), (unsigned long long)h->late,
		  (unsigned long long)(lag_ns / NS_PER_MS), h->flight.n, h->budget,
		  h->wait.n + h->flight.n,
		  "raise the open-file limit (LimitNOFILE) or lengthen intervals / shorten timeouts");
	h->late_logged = h->late;
	h->last_log_ms = now_ms;
}

/*
 * Times out every probe past its deadline, then starts due probes, most
 * overdue first, while the budget allows. Under lock.
 */
static void run_due(struct health *h, uint64_t now_ns)
{
	uint64_t worst_lag = 0;

	while (h->flight.n > 0 && h->flight.a[0]->due_ns <= now_ns) {
		struct health_entry *e = h->flight.a[0];

		health_probe_timeout(&e->probe, now_ns);
		entry_complete(h, e, now_ns);
	}
	while (h->wait.n > 0 && h->wait.a[0]->due_ns <= now_ns && h->flight.n < h->budget_eff) {
		struct health_entry *e = h->wait.a[0];
		uint64_t lag = now_ns - e->due_ns;

		health_heap_remove(h, e);
		e->anchor_ns = now_ns;
		if (health_probe_start(&e->probe, &e->key, now_ns)) {
			if (start_deferred(e)) {
				/* Not a check: wait for a socket to be freed, at once when one is in flight. */
				h->deferred++;
				h->budget_eff = h->flight.n > 1 ? h->flight.n - h->flight.n / 8 : 1;
				e->probe.phase = HEALTH_PROBE_IDLE;
				e->due_ns = h->flight.n ? now_ns : now_ns + DEFER_RETRY_NS;
				health_heap_push(h, e, IN_WAIT);
				if (!h->flight.n)
					break;
				continue;
			}
			entry_complete(h, e, now_ns);
		} else {
			e->due_ns = now_ns + (uint64_t)e->key.timeout_ms * NS_PER_MS;
			health_heap_push(h, e, IN_FLIGHT);
		}
		h->started++;
		if (lag > health_late_after_ns(e->key.interval_ms)) {
			h->late++;
			h->last_late_ns = now_ns;
			if (lag > worst_lag)
				worst_lag = lag;
		}
	}
	if (worst_lag)
		log_behind(h, now_ns, worst_lag);
}

/*
 * Arms the timerfd at the earliest deadline, or the earliest start when the
 * budget allows one (absolute time, so a late wakeup does not drift). With the
 * budget spent, a finished probe's event wakes the loop instead.
 */
static void arm_timer(struct health *h)
{
	struct itimerspec its = { 0 };
	uint64_t due = UINT64_MAX;

	if (h->flight.n > 0)
		due = h->flight.a[0]->due_ns;
	if (h->wait.n > 0 && h->flight.n < h->budget_eff && h->wait.a[0]->due_ns < due)
		due = h->wait.a[0]->due_ns;
	if (due != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(due / 1000000000ull);
		its.it_value.tv_nsec = (long)(due % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* all zero would disarm */
	}
	if (timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		abort(); /* only EINVAL/EBADF: a bug; keel-control restarts without losing packets */
}

void health_reap_retired(struct health *h)
{
	while (h->retired) {
		struct health_entry *e = h->retired;

		h->retired = e->next_retired;
		health_probe_abort(&e->probe);
		free(e);
	}
}

/*
 * Due entries of the wait heap: a walk of the heap's due part only (a child is
 * never due before its parent). Depth first, so the stack holds at most one
 * pending sibling per level: 2 * log2(HEALTH_TARGETS_MAX) + 1 entries.
 */
static uint32_t count_due(const struct entry_heap *q, uint64_t now_ns)
{
	uint32_t stack[64], top = 0, n = 0;

	if (q->n > 0 && q->a[0]->due_ns <= now_ns)
		stack[top++] = 0;
	while (top > 0) {
		uint32_t j = stack[--top];

		n++;
		for (uint32_t c = 2 * j + 1; c <= 2 * j + 2 && c < q->n; c++)
			if (q->a[c]->due_ns <= now_ns)
				stack[top++] = c;
	}
	return n;
}

/* Copies the checker's figures where readers see them (under h->lock). */
static void publish_stats(struct health *h, uint64_t now_ns)
{
	struct health_pub p = h->pub;

	p.targets = h->wait.n + h->flight.n;
	p.in_flight = h->flight.n;
	/* Counting is O(waiting): ten times a second is plenty for a gauge. */
	if (h->flight.n < h->budget_eff) {
		p.waiting = 0; /* run_due() started everything due */
	} else if (now_ns - h->waiting_at_ns >= 100 * NS_PER_MS) {
		p.waiting = count_due(&h->wait, now_ns);
		h->waiting_at_ns = now_ns;
	}
	p.started = h->started;
	p.late = h->late;
	p.deferred = h->deferred;
	p.last_late_ns = h->last_late_ns;
	p.oldest_due_ns = h->wait.n ? h->wait.a[0]->due_ns : 0;
	p.oldest_interval_ms = h->wait.n ? h->wait.a[0]->key.interval_ms : 0;
	pthread_mutex_lock(&h->st_lock);
	h->pub = p;
	pthread_mutex_unlock(&h->st_lock);
}

void *health_checker_main(void *arg)
{
	struct health *h = arg;
	struct epoll_event ev[CHECKER_EVENTS];

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		uint64_t t = health_now_mono_ns();
		int n;

		health_reap_retired(h);
		run_due(h, t);
		arm_timer(h);
		publish_stats(h, t);
		pthread_mutex_unlock(&h->lock);

		n = epoll_wait(h->epfd, ev, CHECKER_EVENTS, -1);
		if (n < 0 && errno != EINTR)
			abort(); /* EBADF/EFAULT/EINVAL: a bug, and a checker that stops is worse */

		pthread_mutex_lock(&h->lock);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			struct health_entry *e = p;
			uint64_t now_ns;

			if (p == &h->wake_fd || p == &h->timer_fd) {
				drain_fd(*(int *)p);
				continue;
			}
			/* Retired after epoll_wait() fetched the event: skip, the reaper owns it. */
			if (e->retired || !health_probe_in_flight(&e->probe))
				continue;
			now_ns = health_now_mono_ns();
			if (health_probe_step(&e->probe, now_ns))
				entry_complete(h, e, now_ns);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

