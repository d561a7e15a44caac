/* DPDK adapter: runs the packet core over a burst of rte_mbufs and sorts them by verdict. */
#ifndef KEEL_DATAPLANE_BURST_H
#define KEEL_DATAPLANE_BURST_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "pipeline.h"

struct keel_burst_out {
	struct rte_mbuf *tx[KEEL_BURST_MAX];     /* encapsulated or answered: send on the port */
	struct rte_mbuf *kernel[KEEL_BURST_MAX]; /* for the exception path */
	uint16_t ntx;
	uint16_t nkernel;
};

/*
 * Process n (<= KEEL_BURST_MAX) received mbufs. Dropped mbufs are freed here;
 * the others are handed back in out, already adjusted (data_off, lengths).
 */
void keel_burst_run(struct keel_worker *w, struct rte_mbuf **pkts, uint16_t n,
		    struct keel_burst_out *out);

#endif
