/* Hardware counters for keel-bench: perf_event_open on the calling thread, user space only, read once around the run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "pmu.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *const pmu_names[PMU_COUNT] = {
	[PMU_INSTRUCTIONS] = "instructions",
	[PMU_CYCLES] = "cycles",
	[PMU_BRANCH_MISSES] = "branch_misses",
	[PMU_L1D_MISSES] = "l1d_misses",
	[PMU_LLC_MISSES] = "llc_misses",
};

static const struct {
	uint32_t type;
	uint64_t config;
} pmu_events[PMU_COUNT] = {
	[PMU_INSTRUCTIONS] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	[PMU_CYCLES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	[PMU_BRANCH_MISSES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
	[PMU_L1D_MISSES] = { PERF_TYPE_HW_CACHE, PERF_COUNT_HW_CACHE_L1D |
		PERF_COUNT_HW_CACHE_OP_READ << 8 | PERF_COUNT_HW_CACHE_RESULT_MISS << 16 },
	[PMU_LLC_MISSES] = { PERF_TYPE_HW_CACHE, PERF_COUNT_HW_CACHE_LL |
		PERF_COUNT_HW_CACHE_OP_READ << 8 | PERF_COUNT_HW_CACHE_RESULT_MISS << 16 },
};

int pmu_open(struct pmu *p)
{
	int i, n = 0;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < PMU_COUNT; i++) {
		struct perf_event_attr a = {
			.size = sizeof(a),
			.type = pmu_events[i].type,
			.config = pmu_events[i].config,
			.disabled = 1,
			.exclude_kernel = 1, /* perf_event_paranoid 2 allows user space only */
			.exclude_hv = 1,
			.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING,
		};

		/* Separate events rather than one group: a VM that lacks LLC events still gives the rest. */
		p->fd[i] = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		if (p->fd[i] < 0) {
			if (!n && !p->err)
				p->err = errno;
			continue;
		}
		n++;
	}
	return n;
}

void pmu_start(struct pmu *p)
{
	int i;

	for (i = 0; i < PMU_COUNT; i++)
		if (p->fd[i] >= 0) {
			ioctl(p->fd[i], PERF_EVENT_IOC_RESET, 0);
			ioctl(p->fd[i], PERF_EVENT_IOC_ENABLE, 0);
		}
}

void pmu_stop(struct pmu *p)
{
	int i;

	for (i = 0; i < PMU_COUNT; i++) {
		uint64_t v[3];

		p->ok[i] = false;
		if (p->fd[i] < 0)
			continue;
		ioctl(p->fd[i], PERF_EVENT_IOC_DISABLE, 0);
		if (read(p->fd[i], v, sizeof(v)) != (ssize_t)sizeof(v) || !v[2])
			continue;
		/* v = value, time enabled, time running: scale when multiplexed. */
		p->val[i] = v[2] == v[1] ? v[0] : (uint64_t)((double)v[0] * (double)v[1] / (double)v[2]);
		p->ok[i] = true;
	}
}

void pmu_close(struct pmu *p)
{
	int i;

	for (i = 0; i < PMU_COUNT; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
}
