/* Stage clock for keel-bench-stages: TSC cycles per burst stage, and the callgrind window of one stage. */
#ifndef KEEL_BENCH_STAGE_CLOCK_H
#define KEEL_BENCH_STAGE_CLOCK_H

#include <stdint.h>

#include <valgrind/callgrind.h>

/*
 * The stages of one burst, in order. A mark says "this stage starts now"; the
 * time since the previous mark goes to the previous stage. Forced into every
 * file of the stages build with -include; other builds leave KEEL_STAGE_MARK empty.
 */
enum keel_stage {
	KEEL_STAGE_RX = 0,  /* generator and mbuf alloc (a NIC's rx), burst adapter in */
	KEEL_STAGE_PARSE,   /* parse + classify (VIP) */
	KEEL_STAGE_LOOKUP,  /* flow hash, prefetch, flow-table lookup */
	KEEL_STAGE_ENCAP,   /* Maglev select, insert, encapsulate, counters */
	KEEL_STAGE_TX,      /* verdict sort and mbuf free (a NIC's tx) */
	KEEL_STAGE_COUNT,
};

struct keel_stage_clock {
	uint64_t cycles[KEEL_STAGE_COUNT + 1]; /* the last: outside the measured run */
	uint64_t last;
	int cur;
	int collect; /* stage whose instructions callgrind collects, -1 for none */
};

extern struct keel_stage_clock keel_stage_clock;

static inline uint64_t keel_stage_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void keel_stage_mark(int s)
{
	struct keel_stage_clock *c = &keel_stage_clock;
	uint64_t t = keel_stage_tsc();

	c->cycles[c->cur] += t - c->last;
	c->last = t;
	/* Callgrind counts only inside the chosen stage (run with --collect-atstart=no). */
	if (c->collect >= 0 && (c->cur == c->collect) != (s == c->collect))
		CALLGRIND_TOGGLE_COLLECT;
	c->cur = s;
}

#define KEEL_STAGE_MARK(s) keel_stage_mark(s)

#endif
