/* The worker loop: rx -> packet core -> tx for each port, then commands, flow flushing, status and idle policy. */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "burst.h"
#include "exception.h"
#include "exception_class.h"
#include "flow_store.h"
#include "log.h"
#include "seam.h"

#define WORKER_DRAIN_US 100        /* TX buffers are drained at least this often */
#define WORKER_FLUSH_BUCKETS 256   /* flow-table buckets scanned per loop while flushing a backend */
#define WORKER_IDLE_SPIN 100       /* empty polls before rte_pause */
#define WORKER_IDLE_PAUSE 1000     /* empty polls before sleeping */
#define WORKER_SLEEP_MIN_NS 1000
#define WORKER_SLEEP_MAX_NS 100000
#define WORKER_BITMAP_WORDS (KEEL_MAX_BACKENDS / 64)
/*
 * Tracked-flow census: buckets scanned each millisecond (with the flow-table
 * statistics), a thousandth of the table so that a pass takes about a
 * second, at most WORKER_CENSUS_MAX (256 lines, a few microseconds of
 * sequential reads: a full pass takes longer past 1M flows).
 */
#define WORKER_CENSUS_MIN 16
#define WORKER_CENSUS_MAX 256

/* TX on one data port from this worker's queue; the context of the unsent-packets callback. */
struct worker_tx {
	struct rte_eth_dev_tx_buffer *buf;
	struct keel_worker_counters *ctr;
	uint16_t port;
	uint16_t queue;
	uint16_t index;
};

struct worker {
	struct keel_worker kw; /* what the packet core sees: snapshot, flow table, counters */
	struct keel_region *region;
	struct keel_worker_status *status;
	struct keel_worker_counters *ctr;
	const int *quit;
	enum worker_idle idle;
	bool wait_snapshot;
	uint16_t queue;
	uint16_t n_ports;
	uint16_t ports[WORKER_MAX_PORTS];
	struct keel_port port_ctx[WORKER_MAX_PORTS]; /* per port: its MAC and MTU, for the core */
	uint16_t tx_index[WORKER_MAX_PORTS];
	uint16_t taps[WORKER_MAX_PORTS];
	struct worker_tx tx[WORKER_MAX_PORTS];
	struct keel_exc_budget exc_budget; /* non-control frames to the kernel (--exception-rate) */
	struct keel_seam_consumer seam;    /* an activation validated a step per loop (seam.h) */
	bool activating;                   /* ... under way: no idle back-off */
	uint64_t tsc_per_ms;
	uint64_t drain_tsc;
	struct flow_store flows; /* the flow table's file: outlives this process (flow_store.c) */
	uint64_t clock_tsc0;     /* TSC and table time at start: now_ms runs on from the table's clock */
	uint64_t clock_ms0;

	/*
	 * Backend flush: one pass over the table removes the flows of every id in
	 * flush_now, spread over loops; ids asked for meanwhile wait in
	 * flush_next for the following pass (the current one may be past their
	 * buckets already).
	 */
	bool flushing;
	bool flush_pending;
	uint32_t flush_cursor;
	uint64_t flush_now[WORKER_BITMAP_WORDS];
	uint64_t flush_next[WORKER_BITMAP_WORDS];

	/*
	 * Census of live flows by backend, counted in private memory over a
	 * pass and then published to the counters whole, so keel-control sums
	 * finished passes (a per-backend count kept on every insert and expiry
	 * would put stores into the packet path).
	 */
	uint32_t census_cursor;
	uint32_t census_step;
	uint32_t census_hi;     /* highest backend id + 1 counted in this pass */
	uint32_t census_pub_hi; /* ... and in the published one */
	uint64_t census[KEEL_MAX_BACKENDS];

	/*
	 * An adopted table is checked once against the first snapshot that
	 * activates: a flow whose backend id is not in it, or not on the flow's
	 * VIP, is dropped (a pass spread over loops, as a flush). The count goes
	 * to the main thread, which logs it (worker_report): adopt_done is
	 * stored with release after adopt_dropped, loaded there with acquire.
	 */
	bool adopt_check;       /* adopted and not checked yet: start at the first activation */
	bool adopt_checking;
	bool adopt_reported;    /* main thread only */
	uint32_t adopt_cursor;
	uint32_t adopt_dropped;
	uint32_t adopt_done;

	/* Packet trace (keelctl trace): taken up once a loop from the region (seam/trace.c). */
	struct keel_trace_ctx trace;
	struct keel_trace_sink trace_sink;
};

/* Whatever the NIC did not take: one retry (its ring may have drained meanwhile), then free and count. */
static void worker_tx_unsent(struct rte_mbuf **m, uint16_t n, void *arg)
{
	struct worker_tx *t = arg;
	uint16_t sent = rte_eth_tx_burst(t->port, t->queue, m, n);

	t->ctr->port_tx[t->index] += sent;
	if (sent < n) {
		rte_pktmbuf_free_bulk(m + sent, n - sent);
		t->ctr->tx_dropped += n - sent;
	}
}

static void worker_drain(struct worker *wk)
{
	uint16_t i;

	for (i = 0; i < wk->n_ports; i++) {
		struct worker_tx *t = &wk->tx[i];

		if (t->buf->length)
			wk->ctr->port_tx[t->index] += rte_eth_tx_buffer_flush(t->port, t->queue, t->buf);
	}
}

static inline void worker_send(struct worker *wk, uint16_t txi, struct rte_mbuf **m, uint16_t n)
{
	struct worker_tx *t = &wk->tx[txi];
	uint16_t i, sent = 0;

	for (i = 0; i < n; i++)
		sent += rte_eth_tx_buffer(t->port, t->queue, t->buf, m[i]);
	wk->ctr->port_tx[t->index] += sent;
}

/*
 * Several next hops on ports of their own (burst.h split): each frame into
 * its port's TX buffer, so every port still sends in bursts (a buffer
 * flushes when full, and at the drain). A port the worker does not have
 * (a snapshot for another set of ports) means the RX port's TX port.
 */
static void worker_send_split(struct worker *wk, uint16_t txi, const struct keel_burst_out *out)
{
	uint16_t j;

	for (j = 0; j < out->ntx; j++) {
		uint16_t p = out->tx_port[j];
		struct worker_tx *t = &wk->tx[p && p <= wk->n_ports ? p - 1 : txi];

		wk->ctr->port_tx[t->index] += rte_eth_tx_buffer(t->port, t->queue, t->buf, out->tx[j]);
	}
}

/*
 * The exception path with the host's control protocols first: ARP, ND, BGP,
 * BFD, OSPF (keel_exc_classify) go to the front of the TAP burst and are never
 * limited; the rest passes within the worker's budget, and what is over it is
 * freed here, before the TAP write that a flood would otherwise pay per frame,
 * counted as exception_limit (and no longer as kernel_pkts). One pass over
 * frames the packet core just read; nothing at all when a burst has none.
 */
static void worker_to_kernel(struct worker *wk, uint16_t i, struct rte_mbuf **m, uint16_t n)
{
	struct rte_mbuf *k[KEEL_BURST_MAX], *other[KEEL_BURST_MAX], *over[KEEL_BURST_MAX];
	uint16_t j, nk = 0, nother = 0, nover = 0, sent = 0;

	if (wk->taps[i] == WORKER_NO_TAP) {
		rte_pktmbuf_free_bulk(m, n);
		wk->ctr->tx_dropped += n;
		return;
	}
	for (j = 0; j < n; j++) {
		if (keel_exc_classify(rte_pktmbuf_mtod(m[j], const uint8_t *), m[j]->data_len) ==
		    KEEL_EXC_CONTROL)
			k[nk++] = m[j];
		else if (keel_exc_allowed(&wk->exc_budget, wk->kw.now_ms))
			other[nother++] = m[j];
		else
			over[nover++] = m[j];
	}
	wk->ctr->kernel_control += nk;
	if (nover) {
		rte_pktmbuf_free_bulk(over, nover);
		wk->kw.ctr->kernel_pkts -= nover;
		wk->kw.ctr->drops[KEEL_DROP_EXCEPTION_LIMIT] += nover;
	}
	for (j = 0; j < nother; j++)
		k[nk++] = other[j];
	if (nk)
		sent = exception_to_kernel(wk->taps[i], wk->queue, k, nk);
	wk->ctr->kernel_tx += sent;
	wk->ctr->tx_dropped += nk - sent;
}

/* One RX queue of one data port: the packet core decides, then out by the TX port or to the kernel. */
static inline uint16_t worker_poll_port(struct worker *wk, uint16_t i, struct keel_burst_out *out,
					bool traced)
{
	struct rte_mbuf *pkts[KEEL_BURST_MAX];
	uint16_t n = rte_eth_rx_burst(wk->ports[i], wk->queue, pkts, KEEL_BURST_MAX);

	if (n == 0)
		return 0;
	wk->ctr->port_rx[i] += n;
	/* The one check per burst a trace costs when none is armed. */
	if (unlikely(traced)) {
		wk->trace_sink.port = i;
		keel_burst_run_traced(&wk->kw, &wk->port_ctx[i], pkts, n, wk->tx_index[i] != i, out,
				      &wk->trace_sink);
	} else {
		keel_burst_run(&wk->kw, &wk->port_ctx[i], pkts, n, wk->tx_index[i] != i, out);
	}
	if (likely(!out->split)) {
		if (out->ntx)
			worker_send(wk, wk->tx_index[i], out->tx, out->ntx);
	} else {
		worker_send_split(wk, wk->tx_index[i], out);
	}
	/* Answers carry this port's MAC and go to a neighbour on its link: out of this port. */
	if (out->nreply)
		worker_send(wk, i, out->reply, out->nreply);
	if (out->nkernel)
		worker_to_kernel(wk, i, out->kernel, out->nkernel);
	return n;
}

/* What the kernel sends on a port's TAP leaves by that port: the host's own ARP, SSH, BGP. */
static inline uint16_t worker_poll_tap(struct worker *wk, uint16_t i)
{
	struct rte_mbuf *pkts[KEEL_BURST_MAX];
	uint16_t n = rte_eth_rx_burst(wk->taps[i], wk->queue, pkts, KEEL_BURST_MAX);

	if (n) {
		wk->ctr->kernel_rx += n;
		worker_send(wk, i, pkts, n);
	}
	return n;
}

static int worker_flush_match(const struct flow_value *v, void *arg)
{
	const uint64_t *bm = arg;

	return v->backend < KEEL_MAX_BACKENDS && (bm[v->backend / 64] >> (v->backend % 64)) & 1;
}

static void worker_flush_request(struct worker *wk, uint64_t id)
{
	if (id >= KEEL_MAX_BACKENDS)
		return;
	if (!wk->flushing) {
		wk->flush_now[id / 64] |= 1ull << (id % 64);
		wk->flushing = true;
		wk->flush_cursor = 0;
	} else {
		wk->flush_next[id / 64] |= 1ull << (id % 64);
		wk->flush_pending = true;
	}
}

static void worker_flush_step(struct worker *wk)
{
	flow_table_flush(wk->kw.ft, worker_flush_match, wk->flush_now, &wk->flush_cursor,
			 WORKER_FLUSH_BUCKETS);
	if (wk->flush_cursor != 0)
		return;
	/* A full pass is done: start the next one for ids that came in meanwhile. */
	if (wk->flush_pending) {
		memcpy(wk->flush_now, wk->flush_next, sizeof(wk->flush_now));
		memset(wk->flush_next, 0, sizeof(wk->flush_next));
		wk->flush_pending = false;
	} else {
		memset(wk->flush_now, 0, sizeof(wk->flush_now));
		wk->flushing = false;
	}
}

/* One step of the census; at the end of a pass, publish it (relaxed stores: single writer). */
static void worker_census_step(struct worker *wk)
{
	uint32_t id, top;

	flow_table_census(wk->kw.ft, wk->kw.now_ms, wk->census, KEEL_MAX_BACKENDS, &wk->census_hi,
			  &wk->census_cursor, wk->census_step);
	if (wk->census_cursor != 0)
		return;
	/* Ids above both passes' highest were zero in both: nothing to store there. */
	top = wk->census_hi > wk->census_pub_hi ? wk->census_hi : wk->census_pub_hi;
	for (id = 0; id < top; id++) {
		__atomic_store_n(&wk->ctr->backend_flows[id], wk->census[id], __ATOMIC_RELAXED);
		wk->census[id] = 0;
	}
	wk->census_pub_hi = wk->census_hi;
	wk->census_hi = 0;
	__atomic_store_n(&wk->ctr->census_passes, wk->ctr->census_passes + 1, __ATOMIC_RELAXED);
}

/* An adopted flow the current snapshot cannot have made: its backend is not there, or on another VIP. */
static int worker_adopt_stale(const struct flow_value *v, void *arg)
{
	return !keel_snapshot_has_backend_on(arg, v->backend, v->vip);
}

static void worker_adopt_check_step(struct worker *wk)
{
	wk->adopt_dropped += flow_table_flush(wk->kw.ft, worker_adopt_stale, (void *)(uintptr_t)wk->kw.snap,
					      &wk->adopt_cursor, WORKER_FLUSH_BUCKETS);
	if (wk->adopt_cursor != 0)
		return;
	wk->adopt_checking = false;
	__atomic_store_n(&wk->adopt_done, 1, __ATOMIC_RELEASE);
}

void worker_report(struct worker *wk)
{
	if (wk->adopt_reported || !__atomic_load_n(&wk->adopt_done, __ATOMIC_ACQUIRE))
		return;
	wk->adopt_reported = true;
	log_event(wk->adopt_dropped ? LOG_WARN : LOG_INFO, "flow_table_checked",
		  "worker=%u dropped=%u reason=%s", wk->queue, wk->adopt_dropped,
		  "backend not in the first snapshot, or not on the flow's VIP");
}

/* keel-control asks whether a flow is tracked here: answer from the table without touching it. */
static void worker_lookup(struct worker *wk, uint64_t seq)
{
	struct keel_region *r = wk->region;
	const struct flow_value *v = flow_table_peek(wk->kw.ft, &r->query_key, wk->kw.now_ms);
	__typeof__(r->query_reply[0]) *rep = &r->query_reply[wk->queue] /* worker w owns RX queue w */;

	rep->hit = v != NULL;
	rep->backend = v ? v->backend : 0;
	rep->vip = v ? v->vip : 0;
	__atomic_store_n(&rep->seq, seq, __ATOMIC_RELEASE);
}

/*
 * Between bursts: at most one message per loop, and of an activation one
 * step of its validation (KEEL_SEAM_CHECK_BUDGET), so that validating a
 * large snapshot never stops forwarding for more than tens of microseconds.
 */
static void worker_command(struct worker *wk)
{
	struct keel_cmd c;
	uint32_t type;

	const struct keel_snapshot *before = wk->kw.snap;

	/* Activations are the seam's business (validated there); the rest is this worker's. */
	type = keel_seam_worker_poll(wk->region, wk->queue /* worker w owns queue w */, &wk->seam, &wk->kw.snap, &c);
	wk->activating = type == KEEL_SEAM_CHECKING;
	switch (type) {
	case KEEL_CMD_ACTIVATE:
		/* An adopted table is checked against the first snapshot that activates. */
		if (wk->kw.snap != before && wk->adopt_check) {
			wk->adopt_check = false;
			wk->adopt_checking = true;
			wk->adopt_cursor = 0;
		}
		break;
	case KEEL_CMD_FLUSH_BACKEND:
		worker_flush_request(wk, c.arg);
		break;
	case KEEL_CMD_LOOKUP:
		worker_lookup(wk, c.arg);
		break;
	default:
		break;
	}
}

/* Back off when idle: spin, then pause, then sleep (a system call, but only when there is no packet). */
static void worker_backoff(uint32_t *empty, uint64_t *sleep_ns)
{
	struct timespec ts;

	if (++*empty <= WORKER_IDLE_SPIN)
		return;
	if (*empty <= WORKER_IDLE_PAUSE) {
		rte_pause();
		return;
	}
	ts.tv_sec = 0;
	ts.tv_nsec = (long)*sleep_ns;
	nanosleep(&ts, NULL);
	if (*sleep_ns < WORKER_SLEEP_MAX_NS)
		*sleep_ns = RTE_MIN(*sleep_ns * 2, (uint64_t)WORKER_SLEEP_MAX_NS);
}

int worker_main(void *arg)
{
	struct worker *wk = arg;
	struct keel_worker_status *st = wk->status;
	struct keel_burst_out out;
	uint64_t last_drain, last_stats, t0, t1, sleep_ns = WORKER_SLEEP_MIN_NS;
	uint32_t empty = 0;

	t0 = rte_rdtsc();
	last_drain = last_stats = t0;
	while (!__atomic_load_n(wk->quit, __ATOMIC_RELAXED)) {
		uint32_t nrx = 0;
		uint16_t i;
		bool traced;

		wk->kw.now_ms = wk->clock_ms0 + (t0 - wk->clock_tsc0) / wk->tsc_per_ms;
		/* Once a loop: one load and compare while no trace is armed. */
		traced = keel_trace_worker_tick(&wk->trace, wk->kw.now_ms);
		/* Replays (pcap golden tests) want every packet to meet the first snapshot, not no_snapshot. */
		for (i = 0; i < wk->n_ports && (wk->kw.snap || !wk->wait_snapshot); i++) {
			nrx += worker_poll_port(wk, i, &out, traced);
			if (wk->taps[i] != WORKER_NO_TAP)
				nrx += worker_poll_tap(wk, i);
		}
		t1 = rte_rdtsc();
		/* Batch while queues are saturated; drain at once when they are not, or on the timer. */
		if (nrx < KEEL_BURST_MAX || t1 - last_drain >= wk->drain_tsc) {
			worker_drain(wk);
			last_drain = t1;
		}
		worker_command(wk);
		if (wk->flushing)
			worker_flush_step(wk);
		if (wk->adopt_checking)
			worker_adopt_check_step(wk);
		if (t1 - last_stats >= wk->tsc_per_ms) {
			flow_table_get_stats(wk->kw.ft, &wk->ctr->flows);
			worker_census_step(wk);
			last_stats = t1;
		}
		/* Heartbeat and cycle counts: relaxed stores, paired with keel-control's relaxed loads (region.h). */
		keel_status_beat(st, t1 / wk->tsc_per_ms, nrx ? t1 - t0 : 0, nrx ? 0 : t1 - t0);
		if (nrx) {
			empty = 0;
			sleep_ns = WORKER_SLEEP_MIN_NS;
		} else {
			if (wk->idle == WORKER_IDLE_BACKOFF && !wk->flushing && !wk->adopt_checking &&
			    !wk->activating)
				worker_backoff(&empty, &sleep_ns);
		}
		t0 = t1;
	}
	worker_drain(wk);
	flow_table_get_stats(wk->kw.ft, &wk->ctr->flows);
	return 0;
}

struct worker *worker_create(const struct worker_params *p, char *err, size_t errlen)
{
	int socket = (int)rte_lcore_to_socket_id(p->lcore);
	struct keel_worker_status *st;
	struct worker *wk;
	uint16_t i;

	wk = rte_zmalloc_socket("keel-worker", sizeof(*wk), RTE_CACHE_LINE_SIZE, socket);
	if (!wk) {
		snprintf(err, errlen, "worker %u: no hugepage memory on socket %d for its state", p->id, socket);
		return NULL;
	}
	wk->region = p->region;
	wk->status = keel_region_status(p->region, p->id);
	wk->ctr = keel_region_counters(p->region, p->id);
	wk->quit = p->quit;
	wk->idle = p->idle;
	wk->wait_snapshot = p->wait_snapshot;
	wk->queue = (uint16_t)p->id;
	wk->n_ports = p->n_ports;
	wk->tsc_per_ms = rte_get_tsc_hz() / 1000;
	if (wk->tsc_per_ms == 0)
		wk->tsc_per_ms = 1;
	wk->drain_tsc = rte_get_tsc_hz() / 1000000 * WORKER_DRAIN_US;
	wk->kw.ctr = &wk->ctr->core;
	wk->kw.non_vip_to_kernel = p->non_vip_to_kernel;
	wk->exc_budget.rate = p->exception_rate;
	keel_trace_worker_init(&wk->trace, p->region, p->id);
	wk->trace_sink.f = &wk->trace.f;
	wk->trace_sink.queue = (uint16_t)p->id;
	wk->trace_sink.take = keel_trace_worker_take;
	wk->trace_sink.commit = keel_trace_worker_commit;
	wk->trace_sink.arg = &wk->trace;

	{
		struct flow_store_params sp = { .name = p->name, .worker = p->id, .n_workers = p->n_workers,
						.flows = p->flows, .adopt = p->adopt_flows,
						.socket = socket };

		if (flow_store_open(&wk->flows, &sp, err, errlen))
			goto out_free_worker;
	}
	wk->kw.ft = wk->flows.ft;
	wk->census_step = flow_table_buckets(wk->kw.ft) / 1000;
	if (wk->census_step > WORKER_CENSUS_MAX)
		wk->census_step = WORKER_CENSUS_MAX;
	if (wk->census_step < WORKER_CENSUS_MIN)
		wk->census_step = WORKER_CENSUS_MIN;
	wk->adopt_check = wk->flows.adopted;
	/* The table's times continue from the file's clock base, whatever this process's TSC calibration. */
	wk->clock_tsc0 = rte_rdtsc();
	wk->clock_ms0 = flow_store_now_ms(&wk->flows);
	if (wk->flows.adopted)
		log_event(wk->flows.dropped ? LOG_WARN : LOG_INFO, "flow_table_adopted",
			  "worker=%u flows=%" PRIu64 " dropped=%u path=%s adoptions=%u", p->id,
			  wk->flows.adopted_flows, wk->flows.dropped, wk->flows.path, wk->flows.h->adoptions);
	else
		log_event(p->adopt_flows ? LOG_WARN : LOG_INFO, "flow_table_empty", "worker=%u path=%s reason=%s",
			  p->id, wk->flows.path, wk->flows.note);

	for (i = 0; i < p->n_ports; i++) {
		struct worker_tx *t = &wk->tx[i];

		wk->ports[i] = p->ports[i];
		wk->port_ctx[i] = p->port_ctx[i];
		wk->tx_index[i] = p->tx_index[i];
		wk->taps[i] = p->taps ? p->taps[i] : WORKER_NO_TAP;
		t->port = p->ports[i];
		t->queue = wk->queue;
		t->index = i;
		t->ctr = wk->ctr;
		t->buf = rte_zmalloc_socket("keel-txbuf", RTE_ETH_TX_BUFFER_SIZE(KEEL_BURST_MAX),
					    RTE_CACHE_LINE_SIZE, socket);
		if (!t->buf) {
			snprintf(err, errlen, "worker %u: no memory for TX buffers", p->id);
			goto out_free_worker;
		}
		rte_eth_tx_buffer_init(t->buf, KEEL_BURST_MAX);
		rte_eth_tx_buffer_set_err_callback(t->buf, worker_tx_unsent, t);
	}

	st = wk->status;
	st->lcore = p->lcore;
	st->socket = (uint32_t)socket;
	st->numa_mismatch = p->numa_mismatch;
	st->active_slot = UINT32_MAX;
	return wk;

out_free_worker:
	worker_destroy(wk);
	return NULL;
}

void worker_destroy(struct worker *wk)
{
	uint16_t i;

	if (!wk)
		return;
	for (i = 0; i < WORKER_MAX_PORTS; i++)
		rte_free(wk->tx[i].buf);
	flow_store_close(&wk->flows);
	rte_free(wk);
}
