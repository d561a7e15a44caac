/* DPDK adapter: runs the packet core over a burst of rte_mbufs and sorts them by verdict. */
#ifndef KEEL_DATAPLANE_BURST_H
#define KEEL_DATAPLANE_BURST_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "pipeline.h"
#include "trace.h"

struct keel_burst_out {
	struct rte_mbuf *tx[KEEL_BURST_MAX];     /* encapsulated (and answers, unless apart): send */
	struct rte_mbuf *reply[KEEL_BURST_MAX];  /* our ICMP answers, when apart: out of the RX port */
	struct rte_mbuf *kernel[KEEL_BURST_MAX]; /* for the exception path */
	uint16_t ntx;
	uint16_t nreply;
	uint16_t nkernel;
	/*
	 * Some next hop names its port (snapshot next_hop_ports): tx_port[j]
	 * is tx[j]'s port as keel_next_hop.port (0: the RX port's TX port).
	 * Else tx_port is not written and everything in tx leaves by one port.
	 */
	bool split;
	uint8_t tx_port[KEEL_BURST_MAX];
};

/*
 * Process n (<= KEEL_BURST_MAX) mbufs received on port. Dropped mbufs are
 * freed here; the others are handed back in out, already adjusted (data_off,
 * lengths). replies_apart: forwarded packets leave by another port than
 * port, so answers (which carry port's MAC) go to out->reply; otherwise they
 * stay in out->tx, in arrival order with the forwarded ones.
 */
void keel_burst_run(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts,
		    uint16_t n, bool replies_apart, struct keel_burst_out *out);

/* keel_burst_run while a trace is armed: the packets sink's filter takes run watched (trace.h). */
void keel_burst_run_traced(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts,
			   uint16_t n, bool replies_apart, struct keel_burst_out *out,
			   struct keel_trace_sink *sink);

#endif
