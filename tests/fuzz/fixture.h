/* A fixed forwarding state for fuzzers: IPv4 and IPv6 VIPs of every flavour with a few backends. */
#ifndef KEEL_FUZZ_FIXTURE_H
#define KEEL_FUZZ_FIXTURE_H

#include "pipeline.h"

struct fuzz_fixture {
	struct keel_worker worker;
	struct keel_counters counters;
	struct keel_port port; /* 02:00:00:00:00:02 (the seeds' destination), MTU 1500 */
};

/* Built once per process; aborts if the fixture cannot be built. */
struct fuzz_fixture *fuzz_fixture_get(void);

#endif
