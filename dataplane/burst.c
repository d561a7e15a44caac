/* DPDK adapter for the packet core: rte_mbuf <-> struct keel_buf, prefetch, verdict dispatch, and the pipeline across bursts. */
#include "burst.h"

#include <rte_prefetch.h>

/* Adapter in, then the core's first half: the burst's flow buckets are being fetched when this returns. */
static inline void slot_start(struct keel_worker *w, struct keel_burst_slot *sl,
			      const struct keel_port *port, struct rte_mbuf **pkts, uint16_t n,
			      bool replies_apart, uint16_t tag)
{
	struct rte_mbuf *dropped[KEEL_BURST_MAX];
	uint16_t i, nb = 0, ndrop = 0;

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
		sl->bufs[nb].data = rte_pktmbuf_mtod(p, uint8_t *);
		sl->bufs[nb].len = p->data_len;
		sl->bufs[nb].headroom = rte_pktmbuf_headroom(p);
		sl->bufs[nb].tailroom = rte_pktmbuf_tailroom(p);
		sl->m[nb++] = p;
	}
	if (ndrop)
		rte_pktmbuf_free_bulk(dropped, ndrop);
	sl->nb = nb;
	sl->tag = tag;
	sl->replies_apart = replies_apart;

	KEEL_STAGE_MARK(KEEL_STAGE_PARSE);
	keel_pipeline_front(w, port, &sl->core, sl->bufs, sl->verdicts, nb);
}

/* The core's second half, then the verdicts: dropped mbufs are freed, the rest sorted into out. */
static inline void slot_finish(struct keel_worker *w, struct keel_burst_slot *sl,
			       struct keel_burst_out *out)
{
	struct rte_mbuf *dropped[KEEL_BURST_MAX];
	uint16_t i, ndrop = 0;

	keel_pipeline_back(w, &sl->core);
	KEEL_STAGE_MARK(KEEL_STAGE_TX);

	out->ntx = 0;
	out->nreply = 0;
	out->nkernel = 0;
	for (i = 0; i < sl->nb; i++) {
		struct rte_mbuf *p = sl->m[i];

		switch (sl->verdicts[i]) {
		case KEEL_VERDICT_FORWARD:
		case KEEL_VERDICT_REPLY:
			p->data_off = (uint16_t)(sl->bufs[i].data - (uint8_t *)p->buf_addr);
			p->data_len = sl->bufs[i].len;
			p->pkt_len = sl->bufs[i].len;
			if (sl->verdicts[i] == KEEL_VERDICT_REPLY && sl->replies_apart)
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
}

void keel_burst_run(struct keel_worker *w, const struct keel_port *port, struct rte_mbuf **pkts,
		    uint16_t n, bool replies_apart, struct keel_burst_out *out)
{
	struct keel_burst_slot sl;

	slot_start(w, &sl, port, pkts, n, replies_apart, 0);
	slot_finish(w, &sl, out);
}

bool keel_burst_step(struct keel_worker *w, struct keel_burst_pipe *pp, const struct keel_port *port,
		     struct rte_mbuf **pkts, uint16_t n, bool replies_apart, uint16_t tag,
		     struct keel_burst_out *out, uint16_t *done_tag)
{
	uint8_t older = pp->pend;
	bool had = pp->pending;

	if (n) {
		uint8_t next = had ? older ^ 1 : older;

		slot_start(w, &pp->slot[next], port, pkts, n, replies_apart, tag);
		pp->pend = next;
		pp->pending = 1;
	} else {
		pp->pending = 0;
	}
	if (!had)
		return false;
	slot_finish(w, &pp->slot[older], out);
	*done_tag = pp->slot[older].tag;
	return true;
}

bool keel_burst_flush(struct keel_worker *w, struct keel_burst_pipe *pp, struct keel_burst_out *out,
		      uint16_t *done_tag)
{
	return keel_burst_step(w, pp, NULL, NULL, 0, false, 0, out, done_tag);
}
