/* A worker over a built snapshot and a fresh flow table, with a burst of test frames: what the pipeline-level tests run bursts on. */
#ifndef KEEL_TEST_BURST_ENV_H
#define KEEL_TEST_BURST_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "pktgen.h"
#include "snapshot_build.h"

#define BURST_ENV_HEADROOM 128
#define BURST_ENV_FRAME_MAX 2048

struct burst_env {
	struct keel_worker w;
	struct keel_counters ctr;
	void *ftmem;
	struct keel_snapshot *snap;
	uint8_t frames[KEEL_BURST_MAX][BURST_ENV_HEADROOM + BURST_ENV_FRAME_MAX];
	struct keel_buf bufs[KEEL_BURST_MAX];
	uint8_t verdicts[KEEL_BURST_MAX];
};

/* The port the test frames arrive on: pktgen addresses them to its MAC. */
extern const struct keel_port burst_env_port;

/*
 * Zero e, then the worker: spec's snapshot (snapfix_build), a flow table of
 * capacity entries (secret 7; TCP 60 s, closing 5 s, UDP 30 s), the clock at
 * 1000 ms and non-VIP traffic to the kernel. Fails the test on any error.
 */
void burst_env_init(struct burst_env *e, const struct keel_snapshot_spec *spec, uint32_t capacity);
/* Free what init allocated (e itself is the caller's). */
void burst_env_fini(struct burst_env *e);
/* Frame i of the burst from g, in place with the fixture's headroom and tailroom; returns its length. */
size_t burst_env_load(struct burst_env *e, int i, const struct pktgen *g);
/* The first n frames through keel_pipeline_burst on burst_env_port; returns its count. */
uint32_t burst_env_run(struct burst_env *e, uint32_t n);

/* The index in be[0..n) of the backend forwarded frame i went to (its outer IPv4 or IPv6 destination), or -1. */
int burst_env_outer_backend(const struct burst_env *e, int i, const struct keel_backend_spec *be, uint32_t n);
/* The backend keel_pipeline_lookup gives g's 5-tuple in s (what keel-control's lookup says). */
uint16_t burst_env_lookup(const struct keel_snapshot *s, const struct pktgen *g);

/* Every drop of c, whatever the reason. */
uint64_t burst_env_drops(const struct keel_counters *c);
/* Drops of the reason named name; fails the test when no reason has that name. */
uint64_t burst_env_drops_named(const struct burst_env *e, const char *name);
/* Every received packet is accounted for: forwarded, replied, to the kernel or dropped. */
void burst_env_assert_accounted(const struct burst_env *e);

#endif
