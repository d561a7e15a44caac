/* Packet traces through the seam: keel-control arms a filter and collects records; each worker takes up the armed trace and writes its own ring. */
#include <errno.h>
#include <string.h>

#include "seam.h"
#include "seam_priv.h"

/* --- the worker's side (keel-dataplane, tests' simulated workers) --- */

void keel_trace_worker_init(struct keel_trace_ctx *t, struct keel_region *r, uint32_t w)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	t->tw = keel_region_trace(r, w);
}

/* The worker saw another seq than its own, or traces now: take up, end or expire the trace. */
void keel_trace_worker_sync(struct keel_trace_ctx *t, uint64_t seq, uint64_t now_ms)
{
	struct keel_trace_worker *tw = t->tw;

	if (seq != t->seq) {
		struct keel_trace_filter f;

		t->on = false;
		if (seq == 0) {
			t->seq = 0;
			if (tw->state == KEEL_TRACE_RUNNING)
				__atomic_store_n(&tw->state, KEEL_TRACE_DISARMED, __ATOMIC_RELAXED);
			return;
		}
		/* A seqlock read: the filter is whole only if seq did not move while it was copied. */
		memcpy(&f, (const void *)&t->r->trace.filter, sizeof(f));
		if (__atomic_load_n(&t->r->trace.seq, __ATOMIC_ACQUIRE) != seq)
			return; /* being rewritten: next loop */
		if (keel_trace_filter_check(&f)) {
			t->seq = seq; /* refused: never taken up */
			__atomic_store_n(&tw->state, KEEL_TRACE_DISARMED, __ATOMIC_RELAXED);
			return;
		}
		t->f = f;
		t->seq = seq;
		t->until_ms = now_ms + f.duration_ms;
		__atomic_store_n(&tw->head, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&tw->state, KEEL_TRACE_RUNNING, __ATOMIC_RELAXED);
		/* release: the collector that sees this seq sees head reset and the state RUNNING (region.h). */
		__atomic_store_n(&tw->seq, seq, __ATOMIC_RELEASE);
		t->on = true;
		return;
	}
	if (t->on && now_ms >= t->until_ms) {
		t->on = false;
		__atomic_store_n(&tw->state, KEEL_TRACE_EXPIRED, __ATOMIC_RELAXED);
	}
}

struct keel_trace_record *keel_trace_worker_take(void *arg)
{
	struct keel_trace_ctx *t = arg;
	uint32_t head = t->tw->head;

	if (!t->on || head >= KEEL_TRACE_RECORDS)
		return NULL;
	return &t->tw->rec[head];
}

void keel_trace_worker_commit(void *arg, struct keel_trace_record *rec)
{
	struct keel_trace_ctx *t = arg;
	/* One RMW per kept record (traced packets only): the count is over all workers. */
	uint64_t n = __atomic_fetch_add(&t->r->trace.taken, 1, __ATOMIC_RELAXED);

	(void)rec;
	if (n >= t->f.count) {
		t->on = false;
		__atomic_store_n(&t->tw->state, KEEL_TRACE_FULL, __ATOMIC_RELAXED);
		return;
	}
	/* release: pairs with the collector's acquire load of head: the record is complete. */
	__atomic_store_n(&t->tw->head, t->tw->head + 1, __ATOMIC_RELEASE);
	if (n + 1 >= t->f.count || t->tw->head >= KEEL_TRACE_RECORDS) {
		t->on = false;
		__atomic_store_n(&t->tw->state, KEEL_TRACE_FULL, __ATOMIC_RELAXED);
	}
}

/* --- keel-control's side --- */

int keel_seam_trace_arm(struct keel_seam *s, const struct keel_trace_filter *f, uint64_t *seq,
			const char **why)
{
	struct keel_region *r = s->r;
	uint64_t next;
	const char *bad = keel_trace_filter_check(f);

	if (bad) {
		if (why)
			*why = bad;
		return -EINVAL;
	}
	if (!keel_seam_alive(s)) {
		if (why)
			*why = "dataplane not running";
		return -EPIPE;
	}
	next = __atomic_load_n(&r->trace.seq, __ATOMIC_RELAXED);
	/* Numbers go on from the last one this region saw (kept across disarms in last_seq). */
	if (next < s->trace_last)
		next = s->trace_last;
	next++;
	s->trace_last = next;
	/* release: a worker that loads 0 stops; one that loads the new seq sees this filter. */
	__atomic_store_n(&r->trace.seq, 0, __ATOMIC_RELEASE);
	memcpy((void *)&r->trace.filter, f, sizeof(*f));
	__atomic_store_n(&r->trace.taken, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->trace.seq, next, __ATOMIC_RELEASE);
	*seq = next;
	return 0;
}

void keel_seam_trace_disarm(struct keel_seam *s)
{
	uint64_t cur = __atomic_load_n(&s->r->trace.seq, __ATOMIC_RELAXED);

	if (cur > s->trace_last)
		s->trace_last = cur;
	__atomic_store_n(&s->r->trace.seq, 0, __ATOMIC_RELEASE);
}

int keel_seam_trace_collect(struct keel_seam *s, struct keel_seam_trace *out,
			    struct keel_seam_trace_record *recs, uint32_t max)
{
	struct keel_region *r = s->r;
	uint32_t w, n = 0;

	memset(out, 0, sizeof(*out));
	out->seq = __atomic_load_n(&r->trace.seq, __ATOMIC_ACQUIRE);
	out->armed = out->seq != 0;
	if (!out->armed)
		out->seq = s->trace_last;
	memcpy(&out->filter, (const void *)&r->trace.filter, sizeof(out->filter));
	out->taken = __atomic_load_n(&r->trace.taken, __ATOMIC_RELAXED);
	out->n_workers = r->n_workers;
	out->running = 0;
	for (w = 0; w < r->n_workers; w++) {
		struct keel_trace_worker *tw = keel_region_trace(r, w);
		uint32_t head, i, state;

		if (__atomic_load_n(&tw->seq, __ATOMIC_ACQUIRE) != out->seq || out->seq == 0)
			continue;
		/* After the acquire: at least the RUNNING stored with this seq, or a later state. */
		state = __atomic_load_n(&tw->state, __ATOMIC_RELAXED);
		out->taken_up++;
		out->running += state == KEEL_TRACE_RUNNING && out->armed;
		head = __atomic_load_n(&tw->head, __ATOMIC_ACQUIRE);
		if (head > KEEL_TRACE_RECORDS)
			head = KEEL_TRACE_RECORDS;
		for (i = 0; i < head && n < max; i++) {
			recs[n].worker = w;
			memcpy(&recs[n].rec, &tw->rec[i], sizeof(recs[n].rec));
			n++;
		}
		/* A worker that took up a newer trace meanwhile may have rewritten what was copied. */
		if (__atomic_load_n(&tw->seq, __ATOMIC_ACQUIRE) != out->seq)
			n -= i;
	}
	out->n = n;
	return (int)n;
}
