/* The publisher's private state, shared by the seam's own files (publish.c, summary.c) and no one else. */
#ifndef KEEL_SEAM_SEAM_PRIV_H
#define KEEL_SEAM_SEAM_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "region.h"
#include "snapshot_build.h"

struct keel_seam {
	int fd;
	struct keel_region *r;
	size_t size;
	/*
	 * Generation last posted into each slot (0: never, by this process). A
	 * worker that has not reached it may still dequeue that activation, so
	 * the slot stays reserved until every worker's generation passed it -
	 * however many later activations were posted meanwhile.
	 */
	uint64_t slot_gen[KEEL_REGION_MAX_SLOTS];
	/* Opened on a live region: messages of an earlier publisher may still be queued. */
	bool inherited;
	/* Last flow query posted; answers carrying another number are stale. */
	uint64_t query_seq;
	/*
	 * The rings are single-producer (RING_F_SP_ENQ): a publish, a flush and
	 * a flow query may come from different threads of keel-control, so
	 * every enqueue is made under this lock. It is held for the enqueues
	 * only (a full ring makes them wait, at most to the caller's deadline),
	 * never across the wait for the workers' acknowledgements.
	 */
	pthread_mutex_t post_mu;
	/*
	 * Readers of the active snapshot in place (keel_seam_read_active) hold it
	 * shared; a publish holds it exclusively only while it writes a free slot,
	 * not while it waits for the workers: a slot a reader found active is not
	 * rewritten under it.
	 */
	pthread_rwlock_t slot_rw;
	/* The region file's inode: a restarted dataplane replaces the file (keel_seam_attach). */
	ino_t ino;
	/*
	 * Heartbeat tracking for keel_seam_workers (summary.c): the value last
	 * seen per worker and when it last moved, by this process's clock. Under
	 * summary_mu: keel-control's threads may ask at once.
	 */
	pthread_mutex_t summary_mu;
	uint64_t hb_seen[KEEL_REGION_MAX_WORKERS];
	uint64_t hb_moved_ms[KEEL_REGION_MAX_WORKERS];
	/* The last trace number this process armed (trace.c): a disarmed region says 0. */
	uint64_t trace_last;
	/*
	 * What this process last wrote into each slot (keel_snapshot_build_over):
	 * unchanged tables stay in place. NULL until first used; all cleared when
	 * a publish fails (a worker that refused a snapshot may have seen a slot
	 * that another publisher wrote).
	 */
	struct keel_slot_memo *memo[KEEL_REGION_MAX_SLOTS];
};

uint64_t keel_seam_now_ms(void);

#endif
