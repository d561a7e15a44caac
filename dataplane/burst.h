/* DPDK adapter: runs the packet core over a burst of rte_mbufs and sorts them by verdict. */
#ifndef KEEL_DATAPLANE_BURST_H
#define KEEL_DATAPLANE_BURST_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "pipeline.h"

struct keel_burst_out {
	struct rte_mbuf *tx[KEEL_BURST_MAX];     /* encapsulated (and answers, unless apart): send */
	struct rte_mbuf *reply[KEEL_BURST_MAX];  /* our ICMP answers, when apart: out of the RX port */
	struct rte_mbuf *kernel[KEEL_BURST_MAX]; /* for the exception path */
	uint16_t ntx;
	uint16_t nreply;
	uint16_t nkernel;
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

/* One burst started and not yet finished: its mbufs and what the core knows of it. */
struct keel_burst_slot {
	struct keel_burst_state core;
	struct rte_mbuf *m[KEEL_BURST_MAX];
	struct keel_buf bufs[KEEL_BURST_MAX];
	uint8_t verdicts[KEEL_BURST_MAX];
	uint16_t nb;
	uint16_t tag; /* the runtime's, handed back when the burst is finished (its port index) */
	bool replies_apart;
};

/*
 * Software pipelining across bursts (VPP's nodes do it one packet ahead):
 * keel_burst_step starts the burst just received (parse, classify, flow hash
 * and bucket prefetch: keel_pipeline_front) and then finishes the one
 * started before it (lookup, select, encapsulate: keel_pipeline_back), so
 * that the new burst's bucket lines come in from memory while the older one
 * is encapsulated. At most one burst is pending between calls; it waits for
 * the next step on any port, so a runtime steps every poll, also one that
 * received nothing (n == 0 only finishes). The runtime calls
 * keel_burst_flush before it changes w->snap and before it stops.
 */
struct keel_burst_pipe {
	struct keel_burst_slot slot[2];
	uint8_t pending; /* slot[pend] holds a started burst */
	uint8_t pend;
};

/*
 * Start pkts (n may be 0), then finish the burst started before, if any, into
 * out as keel_burst_run does: returns true with *tag that burst's tag, false
 * (out untouched) when there was none. tag and replies_apart belong to this
 * call's burst.
 */
bool keel_burst_step(struct keel_worker *w, struct keel_burst_pipe *pp, const struct keel_port *port,
		     struct rte_mbuf **pkts, uint16_t n, bool replies_apart, uint16_t tag,
		     struct keel_burst_out *out, uint16_t *done_tag);

/* Finish the pending burst, if any: as keel_burst_step with nothing received. */
bool keel_burst_flush(struct keel_worker *w, struct keel_burst_pipe *pp, struct keel_burst_out *out,
		      uint16_t *done_tag);

#endif
