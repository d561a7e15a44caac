/* DPDK adapter for the packet core: rte_mbuf <-> struct keel_buf, prefetch, and verdict dispatch. */
#include "burst.h"

#include <rte_prefetch.h>

/*
 * The adapter around the core; sink NULL (a constant in keel_burst_run, so
 * the untraced copy has no trace code at all) runs keel_pipeline_burst.
 */
static inline __attribute__((always_inline)) void
burst_run(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts, uint16_t n,
	  bool replies_apart, struct keel_burst_out *out, struct keel_trace_sink *sink)
{
	struct rte_mbuf *m[KEEL_BURST_MAX], *dropped[KEEL_BURST_MAX];
	struct keel_buf bufs[KEEL_BURST_MAX];
	uint8_t verdicts[KEEL_BURST_MAX];
	uint16_t i, nb = 0, ndrop = 0;

	out->ntx = 0;
	out->nreply = 0;
	out->nkernel = 0;
	if (n > KEEL_BURST_MAX)
		n = KEEL_BURST_MAX;

	/* Headers first: the parser's first touch of each packet should not stall the burst. */
	for (i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

	for (i = 0; i < n; i++) {
		struct rte_mbuf *p = pkts[i];

		/* The core works on one contiguous buffer; scattered frames are not ours to reassemble. */
		if (unlikely(p->nb_segs != 1)) {
			keel_pipeline_unfit(w, p->pkt_len);
			dropped[ndrop++] = p;
			continue;
		}
		bufs[nb].data = rte_pktmbuf_mtod(p, uint8_t *);
		bufs[nb].len = p->data_len;
		bufs[nb].headroom = rte_pktmbuf_headroom(p);
		bufs[nb].tailroom = rte_pktmbuf_tailroom(p);
		m[nb++] = p;
	}

	KEEL_STAGE_MARK(KEEL_STAGE_PARSE);
	if (sink)
		keel_trace_pipeline(w, port, bufs, verdicts, nb, sink);
	else
		keel_pipeline_burst(w, port, bufs, verdicts, nb);
	KEEL_STAGE_MARK(KEEL_STAGE_TX);

	for (i = 0; i < nb; i++) {
		struct rte_mbuf *p = m[i];

		switch (verdicts[i]) {
		case KEEL_VERDICT_FORWARD:
		case KEEL_VERDICT_REPLY:
			p->data_off = (uint16_t)(bufs[i].data - (uint8_t *)p->buf_addr);
			p->data_len = bufs[i].len;
			p->pkt_len = bufs[i].len;
			if (verdicts[i] == KEEL_VERDICT_REPLY && replies_apart)
				out->reply[out->nreply++] = p;
			else
				out->tx[out->ntx++] = p;
			break;
		case KEEL_VERDICT_KERNEL:
			out->kernel[out->nkernel++] = p;
			break;
		default:
			dropped[ndrop++] = p;
			break;
		}
	}
	if (ndrop)
		rte_pktmbuf_free_bulk(dropped, ndrop);

	/* Next hops on ports of their own: a pass of its own, so that without them a burst pays this one test. */
	out->split = w->snap && w->snap->next_hop_ports;
	if (unlikely(out->split)) {
		uint16_t k = 0;

		for (i = 0; i < nb; i++)
			if (verdicts[i] == KEEL_VERDICT_FORWARD)
				out->tx_port[k++] = bufs[i].port;
			else if (verdicts[i] == KEEL_VERDICT_REPLY && !replies_apart)
				out->tx_port[k++] = 0;
	}
}

void keel_burst_run(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts,
		    uint16_t n, bool replies_apart, struct keel_burst_out *out)
{
	burst_run(w, port, pkts, n, replies_apart, out, NULL);
}

void keel_burst_run_traced(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts,
			   uint16_t n, bool replies_apart, struct keel_burst_out *out,
			   struct keel_trace_sink *sink)
{
	burst_run(w, port, pkts, n, replies_apart, out, sink);
}
