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

struct keel_region *keel_seam_region(struct keel_seam *s);

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

/* A copy of worker w's status words, each loaded as region.h says (the worker writes them meanwhile). */
void keel_seam_read_status(struct keel_seam *s, uint32_t w, struct keel_worker_status *out);

/* Sum every worker's counters into out. */
void keel_seam_sum_counters(struct keel_seam *s, struct keel_worker_counters *out);

#endif
