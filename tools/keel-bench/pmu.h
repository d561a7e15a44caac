/* Hardware counters for keel-bench through perf_event_open: one group, user space only. */
#ifndef KEEL_BENCH_PMU_H
#define KEEL_BENCH_PMU_H

#include <stdbool.h>
#include <stdint.h>

enum pmu_event {
	PMU_INSTRUCTIONS = 0,
	PMU_CYCLES,
	PMU_BRANCH_MISSES,
	PMU_L1D_MISSES,
	PMU_LLC_MISSES,
	PMU_COUNT,
};

struct pmu {
	int fd[PMU_COUNT];     /* -1 where the event is not available */
	uint64_t val[PMU_COUNT];
	bool ok[PMU_COUNT];
	int err;               /* errno of the first event, when none opened */
};

extern const char *const pmu_names[PMU_COUNT];

/* Open the counters on this thread, stopped. Returns the number of events that opened. */
int pmu_open(struct pmu *p);
void pmu_start(struct pmu *p);
/* Stop and read into p->val (scaled if the kernel multiplexed them). */
void pmu_stop(struct pmu *p);
void pmu_close(struct pmu *p);

#endif
