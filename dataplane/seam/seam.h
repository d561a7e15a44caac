/* The publishing side of the seam: open a dataplane's region, publish snapshots, read status and counters. */
#ifndef KEEL_SEAM_SEAM_H
#define KEEL_SEAM_SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"
#include "snapshot_build.h"

struct keel_seam;

/*
 * Map the region of dataplane instance `name` read-write. NULL with errno:
 * ENOENT (no such instance), EPROTO (bad magic, ABI version, or any section
 * or limit of another size: keel_region_check), or from open/mmap; *why
 * (when why is not NULL) names the reason.
 *
 * One keel_seam may be used from several threads: posts to the
 * single-producer rings are serialised inside. Publishes must come from one
 * thread at a time, and so must flow queries.
 */
struct keel_seam *keel_seam_open(const char *name, const char **why);
void keel_seam_close(struct keel_seam *s);

/*
 * Map the region of a running dataplane `name`: keel_seam_open, then NULL
 * with errno EPIPE (and *why) unless the dataplane is alive. Each new
 * attachment is a possibly new dataplane: compare keel_seam_workers' epoch.
 */
struct keel_seam *keel_seam_attach(const char *name, const char **why);

/*
 * Whether s still maps the live region of `name`: a restarted dataplane
 * replaces the region file (another inode), a dead one is not alive.
 */
bool keel_seam_current(struct keel_seam *s, const char *name);

/* The dataplane and its workers, read once: what keel-control decides and reports from. */
struct keel_seam_workers {
	uint32_t n;              /* workers */
	uint32_t state;          /* enum keel_region_state */
	uint64_t min_generation; /* lowest active generation over the workers (0: one has none yet) */
	uint64_t max_generation;
	uint64_t epoch;          /* random per dataplane start */
	uint32_t pid;
	uint32_t n_ports;
	uint32_t n_slots;        /* snapshot slots */
	uint64_t slot_size;      /* bytes per slot */
	uint32_t flow_capacity;  /* per worker */
	uint64_t started_ms;     /* CLOCK_REALTIME ms */
	uint64_t tsc_hz;         /* the rate of the workers' busy/idle cycles (0: not reported) */
	uint64_t stalled;        /* bit w: worker w's heartbeat has not moved for stall_ms */
	uint64_t still_ms[KEEL_REGION_MAX_WORKERS]; /* how long each heartbeat has not moved */
	uint64_t refused;        /* snapshots refused as invalid, all workers */
	char name[32];
};

/*
 * Fill out. Heartbeats are judged by this process's clock: a worker is
 * stalled when its heartbeat has not moved for stall_ms between calls on
 * this keel_seam (so call it regularly). Returns 0.
 */
int keel_seam_workers(struct keel_seam *s, uint64_t stall_ms, struct keel_seam_workers *out);

/* One port as the dataplane reports it. */
struct keel_seam_port {
	uint8_t mac[6];  /* the source MAC of what Keel sends on it */
	uint64_t missed; /* dropped by the NIC: RX queues full */
	uint64_t nombuf; /* RX mbuf allocation failures */
	char name[33];   /* the interface or DPDK device name, "" when not reported */
	uint8_t link;    /* KEEL_PORT_LINK_* (region.h) */
};

/* Up to max ports into out (the first 8 of the dataplane's); returns how many. */
uint32_t keel_seam_ports(struct keel_seam *s, struct keel_seam_port *out, uint32_t max);

/* Whether the dataplane behind the region is running: state RUNNING and its pid alive. */
bool keel_seam_alive(struct keel_seam *s);

/*
 * Build spec into a free snapshot slot (one no worker has active or pending),
 * post ACTIVATE on every worker's ring, and wait up to timeout_ms for every
 * worker to report the generation. Returns 0; -ETIMEDOUT when some worker did
 * not acknowledge (the slot stays reserved until it does); -EBUSY when no slot
 * is free; -ENOSPC when the snapshot exceeds the slot size; -EINVAL for a
 * spec the builder refused; -EPIPE when the dataplane is not running. *why
 * names the reason.
 */
int keel_seam_publish(struct keel_seam *s, const struct keel_snapshot_spec *spec,
		      uint32_t timeout_ms, const char **why);

/*
 * The snapshot worker 0 runs, to read in place, or NULL when none is active
 * yet. Until keel_seam_read_done (which must follow a non-NULL answer), no
 * publish writes into any slot. Never hold it across a publish.
 */
const struct keel_snapshot *keel_seam_read_active(struct keel_seam *s);
void keel_seam_read_done(struct keel_seam *s);

/* One VIP's table digest: its snapshot id, the digest, the generation it was read from. */
typedef void (*keel_seam_digest_fn)(void *arg, uint16_t vip_id, uint64_t digest, uint64_t generation);

/*
 * Digests already computed, by VIP id, each with a fingerprint of what it
 * was computed from: the table's raw ids (maglev_table_fingerprint), its
 * size and the keys of the VIP's backends. A VIP whose fingerprint is
 * unchanged in a later snapshot keeps its digest without being hashed again:
 * at 1000 VIPs x M = 65537 hashing every table costs hundreds of
 * milliseconds, and an edit changes one table. Zeroed: empty.
 */
struct keel_seam_digest_memo {
	uint64_t fp[KEEL_MAX_VIPS];
	uint64_t digest[KEEL_MAX_VIPS];
	uint8_t have[KEEL_MAX_VIPS];
	uint32_t hashed, reused; /* by the last keel_seam_digests: digests computed, taken from the memo */
};

/*
 * Each VIP's Maglev table digest in the snapshot worker 0 runs, keyed by
 * backend address (maglev_digest: hosts with other backend ids agree), read
 * through keel_seam_read_active/read_done so no publish rewrites the slot
 * meanwhile. With a memo (or NULL), tables unchanged since it was filled are
 * not hashed again, and it is updated. fn is called with the slot held: keep
 * it short. Returns 0, -EAGAIN when no snapshot is active yet, or -ENOMEM.
 */
int keel_seam_digests(struct keel_seam *s, struct keel_seam_digest_memo *memo, keel_seam_digest_fn fn,
		      void *arg);

/*
 * A worker's side of the seam across polls: the activation it is
 * validating, a step at a time (keel_snapshot_check_step). Zeroed: idle.
 * Worker-private (never in the region).
 */
struct keel_seam_consumer {
	struct keel_snapshot_check check;
	struct keel_cmd cmd; /* the ACTIVATE being validated */
	bool checking;
};

/*
 * Units of validation per poll (keel_snapshot_check_step): some 64 K table
 * slots or 512 KB of checksum, tens of microseconds, so that a worker never
 * stops forwarding for the whole validation of a large snapshot (1000 VIPs
 * at M = 65537: 100-300 ms in one go).
 */
#define KEEL_SEAM_CHECK_BUDGET 65536u
#define KEEL_SEAM_CHECKING 0x100u /* keel_seam_worker_poll: an activation is being validated */

/*
 * The worker's side, between two bursts: while an activation is being
 * validated, one more step of it; otherwise dequeue at most one command from
 * worker w's ring. An ACTIVATE is bounded and validated in steps, one per
 * poll, and no other command is taken meanwhile (they stay in order); a
 * valid one sets *snap and reports the generation in the worker's status,
 * an invalid one is refused (counted in the status, *snap unchanged).
 * Returns the command's type (cmd filled) when one was obeyed or is for the
 * caller to act on (KEEL_CMD_ACTIVATE once the verdict is in),
 * KEEL_SEAM_CHECKING while a validation goes on (call again soon: no idle
 * back-off), or 0 when the ring was empty.
 */
uint32_t keel_seam_worker_poll(struct keel_region *r, uint32_t w, struct keel_seam_consumer *cons,
			       const struct keel_snapshot **snap, struct keel_cmd *cmd);

/* Ask every worker to drop the tracked flows of a backend id. */
int keel_seam_flush_backend(struct keel_seam *s, uint16_t backend_id);

/* One worker's answer to keel_seam_query_flow. */
struct keel_flow_answer {
	bool answered; /* within the timeout */
	bool hit;      /* the flow is tracked by this worker */
	uint16_t backend;
	uint16_t vip;
};

/*
 * Ask every worker whether it tracks this flow (a read-only peek at its
 * table, done between two bursts). out has one entry per worker. Returns
 * the number of workers that answered within timeout_ms, or -EPIPE.
 */
int keel_seam_query_flow(struct keel_seam *s, const struct keel_flow_key *key,
			 uint32_t timeout_ms, struct keel_flow_answer *out);

/*
 * Packet traces (trace.c). keel-control arms one trace at a time: the filter
 * (checked: keel_trace_filter_check) goes into the region and every worker
 * takes it up within a loop. Returns 0 and the trace's number; -EINVAL (bad
 * filter) or -EPIPE (not running), with *why. Arming replaces any trace.
 */
int keel_seam_trace_arm(struct keel_seam *s, const struct keel_trace_filter *f, uint64_t *seq,
			const char **why);

/* Stop the armed trace (its records stay readable until the next arm). */
void keel_seam_trace_disarm(struct keel_seam *s);

/* What a trace is doing, and its records. */
struct keel_seam_trace {
	uint64_t seq;      /* the armed trace, else the last this process armed (0: none) */
	bool armed;
	uint64_t taken;    /* records kept by all workers (may pass count by the ones refused) */
	uint32_t running;  /* workers still tracing it */
	uint32_t taken_up; /* workers that took it up (the others have not seen it yet) */
	uint32_t n_workers;
	uint32_t n;        /* records copied */
	struct keel_trace_filter filter;
};

struct keel_seam_trace_record {
	uint32_t worker;
	struct keel_trace_record rec;
};

/* Copy up to max records of the current (or last) trace into recs; returns how many. */
int keel_seam_trace_collect(struct keel_seam *s, struct keel_seam_trace *out,
			    struct keel_seam_trace_record *recs, uint32_t max);

/*
 * The worker's side: its private trace state. keel_trace_worker_tick, once
 * a loop, is the one check a worker pays while no trace is armed (a load
 * and a compare); the rest runs only when a trace is new, ended or on.
 */
struct keel_trace_ctx {
	struct keel_region *r;
	struct keel_trace_worker *tw;
	uint64_t seq;      /* the region's seq this worker last took up (0: none) */
	uint64_t until_ms; /* the worker's clock when its trace expires */
	bool on;           /* tracing now: bursts run through keel_trace_pipeline */
	struct keel_trace_filter f;
};

void keel_trace_worker_init(struct keel_trace_ctx *t, struct keel_region *r, uint32_t w);
void keel_trace_worker_sync(struct keel_trace_ctx *t, uint64_t seq, uint64_t now_ms);
struct keel_trace_record *keel_trace_worker_take(void *arg);
void keel_trace_worker_commit(void *arg, struct keel_trace_record *rec);

/* Once a loop: whether this worker traces its bursts now. */
static inline bool keel_trace_worker_tick(struct keel_trace_ctx *t, uint64_t now_ms)
{
	/* acquire: pairs with keel_seam_trace_arm's release store of seq (the filter before it). */
	uint64_t seq = __atomic_load_n(&t->r->trace.seq, __ATOMIC_ACQUIRE);

	if (__builtin_expect(seq != t->seq || t->on, 0))
		keel_trace_worker_sync(t, seq, now_ms);
	return t->on;
}

/* A copy of worker w's status words, each loaded as region.h says (the worker writes them meanwhile). */
void keel_seam_read_status(struct keel_seam *s, uint32_t w, struct keel_worker_status *out);

/* Sum every worker's counters into out. */
void keel_seam_sum_counters(struct keel_seam *s, struct keel_worker_counters *out);

#endif
