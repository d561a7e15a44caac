/* The burst pipeline: stages across the whole burst so that memory latency overlaps (parse+classify, flow lookup, select+encap). */
#include "pipeline.h"

#include <string.h>

#include "encap.h"
#include "hash.h"
#include "icmp.h"
#include "maglev.h"
#include "next_hop.h"
#include "parse.h"
#include "quic.h"
#include "quic_map.h"
#include "second_chance.h"
#include "source_list.h"
#include "vip.h"
#include "wire.h"

static inline void drop(struct keel_worker *w, uint8_t *verdict, enum keel_drop why)
{
	*verdict = KEEL_VERDICT_DROP;
	w->ctr->drops[why]++;
}

/* Not ours to balance: the kernel's through the exception path when there is one, else dropped as why. */
static inline void to_kernel_or_drop(struct keel_worker *w, uint8_t *verdict, enum keel_drop why)
{
	if (w->non_vip_to_kernel) {
		*verdict = KEEL_VERDICT_KERNEL;
		w->ctr->kernel_pkts++;
	} else {
		drop(w, verdict, why);
	}
}

static inline void not_for_us(struct keel_worker *w, uint8_t *verdict)
{
	to_kernel_or_drop(w, verdict, KEEL_DROP_NOT_VIP);
}

/*
 * Token bucket for the ICMP answers we originate (RFC 1812 4.3.2.8, RFC 4443
 * 2.4(f)): icmp_rate per second, as many at once. Kept as debt in thousandths
 * of a token, so each millisecond pays back exactly icmp_rate thousandths:
 * however often "too big" events come, no part of a refill is rounded away.
 * (Whole tokens refilled as elapsed * rate / 1000, with the clock moved on
 * even when that rounded to zero, starved the bucket under steady load.)
 */
static bool icmp_allowed(struct keel_worker *w)
{
	uint64_t rate = w->snap->icmp_rate;

	if (w->now_ms > w->icmp_last_ms) {
		uint64_t elapsed = w->now_ms - w->icmp_last_ms, paid;

		/* One second refills any bucket; the cap keeps the product in range. */
		if (elapsed > 1000)
			elapsed = 1000;
		paid = elapsed * rate;
		w->icmp_debt_milli = w->icmp_debt_milli > paid ? w->icmp_debt_milli - paid : 0;
		w->icmp_last_ms = w->now_ms;
	}
	if (w->icmp_debt_milli + 1000 > rate * 1000)
		return false;
	w->icmp_debt_milli += 1000;
	return true;
}

/* A frame whose source is not a host on the link may not be balanced or answered; the parser told which (RFC 4291, RFC 3927). */
static inline bool source_refused(struct keel_worker *w, const struct keel_pkt *p, uint8_t *verdict)
{
	if (!(p->flags & KEEL_PKT_SRC_SCOPED))
		return false;
	drop(w, verdict, keel_parse_source_reason(p));
	return true;
}

/*
 * The VIP's source list (source_list.h): what it refuses is counted per VIP,
 * then dropped (enforce) or forwarded (count, a dry run). Out of line: only
 * VIPs with a list pay for it, the others test src_off and go on.
 */
static __attribute__((noinline)) bool source_list_out(struct keel_worker *w, const struct keel_vip *v,
						      const struct keel_pkt *p, uint8_t *verdict)
{
	const struct keel_src_list *l = keel_src_list_at(w->snap, v->src_off);

	if (!keel_src_list_refuses(w->snap, l, p->key.src))
		return false;
	w->ctr->vip_source_denied[v->id]++;
	if (l->mode == KEEL_SRC_COUNT)
		return false;
	drop(w, verdict, KEEL_DROP_SOURCE_DENIED);
	return true;
}

/*
 * The first 6 bytes of a MAC as a word, the rest zero, and the mask that
 * keeps those bytes of an 8-byte load, so that the per-packet destination
 * check is one load, one xor and one test.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MAC48_MASK 0x0000ffffffffffffull
#else
#define MAC48_MASK 0xffffffffffff0000ull
#endif

static inline uint64_t mac_word(const uint8_t mac[6])
{
	uint64_t v = 0;

	memcpy(&v, mac, 6);
	return v;
}

/*
 * RFC 1812 5.3.4: what was not sent to this port's MAC is not forwarded. The
 * link's broadcast and multicast (ARP, neighbour discovery, DAD) still reach
 * the host through the exception path; unicast to another MAC reaches no one
 * (the kernel would discard it too). IEEE 802.3 3.2.3: a group address is
 * never a source, and answering one would broadcast.
 */
static void l2_refused(struct keel_worker *w, const uint8_t *frame, uint8_t *verdict)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (frame[6] & 1)
		drop(w, verdict, KEEL_DROP_L2_BAD_SOURCE);
	else if (!(frame[0] & 1))
		drop(w, verdict, KEEL_DROP_L2_OTHER_HOST);
	else
		to_kernel_or_drop(w, verdict, memcmp(frame, bcast, 6) ? KEEL_DROP_L2_MULTICAST :
									 KEEL_DROP_L2_BROADCAST);
}

/* Whether a frame is this port's to handle; if not, its verdict is final. Shorter frames are the parser's to refuse. */
static inline bool l2_ours(struct keel_worker *w, uint64_t port_mac, const struct keel_buf *b,
			   uint8_t *verdict)
{
	uint64_t dst;

	if (b->len < 14)
		return true;
	memcpy(&dst, b->data, 8);
	if (((dst ^ port_mac) & MAC48_MASK) == 0 && !(b->data[6] & 1))
		return true;
	l2_refused(w, b->data, verdict);
	return false;
}

static inline bool is_icmp(const struct keel_pkt *p)
{
	return p->key.proto == (p->key.family == KEEL_AF_INET4 ? KEEL_PROTO_ICMP : KEEL_PROTO_ICMPV6);
}

/* ICMP aimed at a VIP address: answered (echo), routed to a connection's backend (errors), or refused. */
static bool classify_icmp(struct keel_worker *w, const struct keel_port *port, struct keel_buf *b,
			  struct keel_pkt *p, struct keel_flow_key *fk, uint8_t *verdict)
{
	const struct keel_snapshot *s = w->snap;
	uint16_t vip;

	if (p->flags & KEEL_PKT_ICMP_ERROR) {
		if (icmp_error_flow_key(b->data, b->len, p, fk) != KEEL_DROP_NONE) {
			if (vip_lookup_addr(s, p->key.family, p->key.dst) != KEEL_VIP_NONE)
				drop(w, verdict, KEEL_DROP_ICMP_ERROR_INNER);
			else
				not_for_us(w, verdict);
			return false;
		}
		vip = vip_lookup(s, fk->family, fk->dst, fk->dport, fk->proto);
		if (vip == KEEL_VIP_NONE) {
			not_for_us(w, verdict);
			return false;
		}
		/*
		 * The error reports a packet the VIP sent, so it is addressed to
		 * the VIP: the quoted source. One to any other address is not
		 * Keel's, whatever it quotes (anyone can quote a VIP connection):
		 * the host's, as any packet for no VIP; one to another VIP is a
		 * forgery or a mistake, dropped by its own reason.
		 */
		if (memcmp(p->key.dst, fk->dst, sizeof(fk->dst)) != 0) {
			if (vip_lookup_addr(s, p->key.family, p->key.dst) != KEEL_VIP_NONE)
				drop(w, verdict, KEEL_DROP_ICMP_ERROR_MISMATCH);
			else
				not_for_us(w, verdict);
			return false;
		}
		if (source_refused(w, p, verdict))
			return false;
		p->vip = vip;
		return true;
	}

	if (vip_lookup_addr(s, p->key.family, p->key.dst) == KEEL_VIP_NONE) {
		not_for_us(w, verdict);
		return false;
	}
	/* An echo from :: or a link-local address would be answered to where no reply may go. */
	if (source_refused(w, p, verdict))
		return false;
	if (p->icmp_type == (p->key.family == KEEL_AF_INET4 ? 8 : 128)) {
		enum keel_drop r = icmp_echo_reply(b, p, port);

		if (r != KEEL_DROP_NONE) {
			drop(w, verdict, r);
		} else {
			*verdict = KEEL_VERDICT_REPLY;
			w->ctr->reply_pkts++;
			w->ctr->icmp_echo++;
		}
		return false;
	}
	drop(w, verdict, KEEL_DROP_ICMP_UNSUPPORTED);
	return false;
}

/*
 * The last VIP this burst matched. Traffic arrives in runs to the same VIP,
 * and comparing 20 bytes is cheaper than hashing and probing again.
 */
struct vip_memo {
	uint64_t a0, a1;
	uint32_t meta; /* family | proto << 8 | port << 16; 0 = empty */
	uint16_t vip;
};

static inline uint16_t vip_lookup_memo(const struct keel_snapshot *s, struct vip_memo *m,
				       const struct keel_flow_key *k)
{
	uint32_t meta = (uint32_t)k->family | (uint32_t)k->proto << 8 | (uint32_t)k->dport << 16;
	uint64_t a0, a1;

	memcpy(&a0, k->dst, 8);
	memcpy(&a1, k->dst + 8, 8);
	if (m->meta == meta && m->a0 == a0 && m->a1 == a1)
		return m->vip;
	m->vip = vip_lookup(s, k->family, k->dst, k->dport, k->proto);
	m->meta = m->vip == KEEL_VIP_NONE ? 0 : meta;
	m->a0 = a0;
	m->a1 = a1;
	return m->vip;
}

/* The packets of a burst whose QUIC connection ID chose their backend, and which one. */
struct quic_routed {
	uint32_t n;
	uint8_t idx[KEEL_BURST_MAX];
	uint16_t backend[KEEL_BURST_MAX];
};

/*
 * A QUIC VIP's packet (docs/quic.md): a short header whose server id names
 * a live backend of the VIP goes there, whatever its addresses and ports
 * (NAT rebinding, migration), and skips the flow table: a stale entry of the
 * same 5-tuple must not override the connection ID, and the CID needs no
 * state. Long headers (handshakes, version negotiation), fragments and
 * short headers naming no live backend go on by flow hash as on any UDP VIP.
 * Returns true when the packet joined q. Out of line: a VIP without quic
 * never calls it, and its body stays out of the classify loop.
 */
static __attribute__((noinline)) bool quic_route(struct keel_worker *w, const struct keel_buf *b,
						 const struct keel_pkt *p, const struct keel_vip *v,
						 uint16_t vip, uint8_t i, struct quic_routed *q)
{
	const uint8_t *payload = b->data + p->l4_off + WIRE_UDP_HLEN;
	size_t len;
	uint16_t sid, id;

	/* RFC 9000 14: QUIC datagrams are not fragmented; a fragment has no whole header to trust. */
	if (p->flags & KEEL_PKT_FRAG)
		return false;
	/* The parser checked 8 <= UDP length <= what the datagram holds (parse.c). */
	len = (size_t)wire_get16(b->data + p->l4_off + 4) - WIRE_UDP_HLEN;
	if (!keel_quic_is_short(payload, len))
		return false;
	sid = keel_quic_server_id(payload, len);
	id = sid ? keel_quic_map_lookup(w->snap, v, sid) : KEEL_BACKEND_NONE;
	if (id == KEEL_BACKEND_NONE || !keel_quic_backend_live(w->snap, id, vip)) {
		w->ctr->quic_cid_unknown++;
		return false;
	}
	w->ctr->quic_cid_routed++;
	q->idx[q->n] = i;
	q->backend[q->n++] = id;
	return true;
}

/*
 * Find the VIP and the key a packet is balanced by. Returns true when the
 * packet goes on to flow lookup; otherwise its verdict is final, or it was
 * routed by its QUIC connection ID (in q, verdict set in the QUIC stage).
 */
static bool classify(struct keel_worker *w, const struct keel_port *port, struct keel_buf *b,
		     struct keel_pkt *p, struct keel_flow_key *fk, uint8_t *verdict,
		     struct vip_memo *memo, uint8_t i, struct quic_routed *q)
{
	const struct keel_snapshot *s = w->snap;
	const struct keel_vip *v;
	uint16_t vip;

	if (is_icmp(p)) {
		if (!classify_icmp(w, port, b, p, fk, verdict))
			return false;
		v = &keel_snapshot_vips(s)[p->vip];
		if (v->flags & KEEL_VIP_FRAGMENTS)
			fk->sport = fk->dport = 0;
		return true;
	}

	if (p->flags & KEEL_PKT_FRAG_LATER) {
		/*
		 * No ports in a non-first fragment: only a VIP that balances on
		 * addresses alone can place it consistently with its first piece.
		 */
		vip = vip_lookup(s, p->key.family, p->key.dst, 0, p->key.proto);
		if (vip == KEEL_VIP_NONE)
			vip = vip_lookup_addr(s, p->key.family, p->key.dst);
		if (vip == KEEL_VIP_NONE) {
			not_for_us(w, verdict);
			return false;
		}
		v = &keel_snapshot_vips(s)[vip];
		if (!(v->flags & KEEL_VIP_FRAGMENTS) || v->proto != p->key.proto) {
			drop(w, verdict, KEEL_DROP_FRAGMENT);
			return false;
		}
	} else {
		vip = vip_lookup_memo(s, memo, &p->key);
		if (vip == KEEL_VIP_NONE) {
			not_for_us(w, verdict);
			return false;
		}
		v = &keel_snapshot_vips(s)[vip];
	}
	if (source_refused(w, p, verdict))
		return false;
	p->vip = vip;
	/*
	 * One test for the rare cases: most VIPs have none of them (measured:
	 * callgrind-stages, docs/quic.md, docs/performance.md). The packet's own
	 * key is the flow key: no copy, whose 16-byte loads over the parser's
	 * 8-byte stores would stall store forwarding. The ports are not needed
	 * after this point, so a fragments VIP can zero them in place.
	 */
	if (__builtin_expect(v->flags & (KEEL_VIP_FRAGMENTS | KEEL_VIP_QUIC | KEEL_VIP_SOURCES), 0)) {
		/* ICMP (errors come from routers, not the client) is not the list's: only TCP and UDP. */
		if ((v->flags & KEEL_VIP_SOURCES) && source_list_out(w, v, p, verdict))
			return false;
		/* A refused source is refused before its connection ID could route it. */
		if ((v->flags & KEEL_VIP_QUIC) && quic_route(w, b, p, v, vip, i, q))
			return false;
		if (v->flags & KEEL_VIP_FRAGMENTS)
			p->key.sport = p->key.dport = 0;
	}
	return true;
}

/* A TCP segment without SYN of a flow we do not track: it may have begun before its slot moved. */
static inline bool sc_candidate(const struct keel_pkt *p)
{
	return p->key.proto == KEEL_PROTO_TCP && !(p->tcp_flags & KEEL_TCP_SYN) &&
	       !(p->flags & (KEEL_PKT_ICMP_ERROR | KEEL_PKT_FRAG_LATER));
}

/* A tracked backend is kept while it is active or draining on the same VIP. */
static inline bool tracked_usable(const struct keel_snapshot *s, const struct flow_value *fv,
				  uint16_t vip_idx)
{
	const struct keel_backend *be;

	if (fv->backend >= s->n_backends)
		return false;
	be = &keel_snapshot_backends(s)[fv->backend];
	return be->vip == vip_idx && (be->state == KEEL_BACKEND_ACTIVE ||
				      be->state == KEEL_BACKEND_DRAINING);
}

static void too_big(struct keel_worker *w, const struct keel_port *port, struct keel_buf *b,
		    const struct keel_pkt *p, uint16_t inner_mtu, uint8_t *verdict)
{
	/* IPv4 without DF may be fragmented by routers, but not by us: dropped and counted. */
	if (p->key.family == KEEL_AF_INET4 && !(p->flags & KEEL_PKT_DF)) {
		drop(w, verdict, KEEL_DROP_TOO_BIG);
		return;
	}
	if (!icmp_allowed(w)) {
		drop(w, verdict, KEEL_DROP_ICMP_RATE_LIMIT);
		return;
	}
	if (icmp_too_big(b, p, port->mac, inner_mtu) != KEEL_DROP_NONE) {
		drop(w, verdict, KEEL_DROP_TOO_BIG);
		return;
	}
	*verdict = KEEL_VERDICT_REPLY;
	w->ctr->reply_pkts++;
	w->ctr->icmp_too_big++;
}

void keel_pipeline_unfit(struct keel_worker *w, uint32_t len)
{
	w->ctr->rx_pkts++;
	w->ctr->rx_bytes += len;
	w->ctr->drops[KEEL_DROP_MULTI_SEGMENT]++;
}

uint32_t keel_pipeline_burst(struct keel_worker *w, const struct keel_port *port,
			     struct keel_buf *bufs, uint8_t *verdicts, uint32_t n)
{
	const struct keel_snapshot *s = w->snap;
	struct keel_counters *c = w->ctr;
	struct keel_pkt pkt[KEEL_BURST_MAX];
	struct keel_flow_key fk[KEEL_BURST_MAX];
	const struct keel_flow_key *keys[KEEL_BURST_MAX];
	struct flow_value *vals[KEEL_BURST_MAX];
	struct flow_hint hints[KEEL_BURST_MAX];
	uint64_t hashes[KEEL_BURST_MAX];
	uint8_t tflags[KEEL_BURST_MAX];
	uint8_t idx[KEEL_BURST_MAX];
	const struct keel_vip *vips;
	const struct keel_backend *bes;
	struct vip_memo memo = { 0 };
	struct quic_routed q; /* only q.n is read before being written */
	const uint64_t port_mac = mac_word(port->mac);
	uint32_t i, j, nl = 0, ntx = 0;
	/*
	 * Forwarding counters summed in locals and written once per burst: the
	 * encapsulation's byte stores may alias *c, so a per-packet c->x++ is a
	 * load and a store each time. The VIP's are kept per run of one VIP.
	 */
	uint64_t rx_bytes = 0, fwd_pkts = 0, fwd_bytes = 0;

	if (n > KEEL_BURST_MAX)
		n = KEEL_BURST_MAX;
	q.n = 0;
	c->rx_pkts += n;
	for (i = 0; i < n; i++)
		rx_bytes += bufs[i].len;
	c->rx_bytes += rx_bytes;
	if (!s) {
		/*
		 * Nothing to balance with yet, but the host must stay reachable
		 * (ARP, SSH, BGP) through the exception path meanwhile.
		 */
		for (i = 0; i < n; i++)
			if (l2_ours(w, port_mac, &bufs[i], &verdicts[i]))
				to_kernel_or_drop(w, &verdicts[i], KEEL_DROP_NO_SNAPSHOT);
		return 0;
	}
	vips = keel_snapshot_vips(s);
	bes = keel_snapshot_backends(s);

	/* Stage 1: parse and classify the whole burst. */
	for (i = 0; i < n; i++) {
		enum keel_drop r;

		if (!l2_ours(w, port_mac, &bufs[i], &verdicts[i]))
			continue;
		r = keel_parse(bufs[i].data, bufs[i].len, &pkt[i]);
		if (r != KEEL_DROP_NONE) {
			drop(w, &verdicts[i], r);
			continue;
		}
		if (pkt[i].flags & KEEL_PKT_NOT_IP) {
			not_for_us(w, &verdicts[i]);
			continue;
		}
		if (!classify(w, port, &bufs[i], &pkt[i], &fk[i], &verdicts[i], &memo, (uint8_t)i, &q))
			continue;
		/* ICMP errors are balanced by the connection they quote (in fk), the rest by their own key. */
		keys[nl] = (pkt[i].flags & KEEL_PKT_ICMP_ERROR) ? &fk[i] : &pkt[i].key;
		/* ICMP errors must not move their connection's state. */
		tflags[nl] = (pkt[i].flags & KEEL_PKT_ICMP_ERROR) ? 0 : pkt[i].tcp_flags;
		idx[nl++] = (uint8_t)i;
	}

	/* Stage 2: hash, prefetch and look up every key in the worker's flow table. */
	KEEL_STAGE_MARK(KEEL_STAGE_LOOKUP);
	if (nl)
		flow_table_lookup_burst_hinted(w->ft, keys, tflags, nl, w->now_ms, vals, hashes, hints);

	/* Stage 3: choose the backend and encapsulate. */
	KEEL_STAGE_MARK(KEEL_STAGE_ENCAP);
	for (j = 0; j < nl; j++) {
		struct keel_pkt *p;
		const struct keel_vip *v;
		const struct keel_backend *be, *prev = NULL;
		uint16_t id, inner_mtu = 0;
		uint16_t len;
		enum keel_drop r;

		i = idx[j];
		p = &pkt[i];
		v = &vips[p->vip];
		len = bufs[i].len;
		if (vals[j] && tracked_usable(s, vals[j], p->vip)) {
			id = vals[j]->backend;
		} else {
			uint32_t h = keel_flow_hash(keys[j], s->fleet_seed);

			id = maglev_lookup(keel_snapshot_table(s, v), v->table_size, h);
			if (id == KEEL_BACKEND_NONE) {
				drop(w, &verdicts[i], KEEL_DROP_NO_BACKEND);
				continue;
			}
			if (vals[j]) {
				/* Tracked backend gone or down: the flow is re-chosen. */
				c->rechosen++;
				c->backend[id].new_flows++;
				vals[j]->backend = id;
				vals[j]->vip = v->id;
			} else if (sc_candidate(p) && (prev = second_chance_prev(s, v, p->vip, h, id))) {
				/*
				 * Mid-connection, slot moved recently: to the new owner with the
				 * old one named (second_chance.c). Not tracked, so every packet
				 * of it carries the hint for as long as the snapshot has it.
				 */
			} else if (!(p->flags & KEEL_PKT_ICMP_ERROR)) {
				struct flow_value nv = {
					.backend = id,
					.vip = v->id,
				};

				struct flow_value *fv;
				bool created;

				/* The lookup's hint spares the insert a second probe (flow_table.h). */
				fv = flow_table_insert_hinted(w->ft, keys[j], hashes[j], hints[j], &nv,
							      tflags[j], w->now_ms, &created);
				if (!fv) {
					c->untracked++;
					c->backend[id].new_flows++;
				} else if (created) {
					c->backend[id].new_flows++;
				} else {
					/* An earlier packet of this burst opened the flow. */
					id = fv->backend;
				}
			}
		}
		be = &bes[id];
		r = encap_packet(&bufs[i], p, s, be, v->encap, (uint32_t)(hashes[j] >> 32),
				 &inner_mtu);
		if (r == KEEL_DROP_TOO_BIG) {
			too_big(w, port, &bufs[i], p, inner_mtu, &verdicts[i]);
			continue;
		}
		if (r != KEEL_DROP_NONE) {
			drop(w, &verdicts[i], r);
			continue;
		}
		if (prev && second_chance_mark(&bufs[i], prev, s->mtu))
			c->second_chance++;
		verdicts[i] = KEEL_VERDICT_FORWARD;
		fwd_pkts++;
		fwd_bytes += bufs[i].len;
		c->vip[v->id].pkts++;
		c->vip[v->id].bytes += len;
		c->backend[id].pkts++;
		c->backend[id].bytes += len;
		if (p->flags & KEEL_PKT_ICMP_ERROR)
			c->icmp_errors_fwd++;
	}

	/*
	 * Stage 4: the packets their QUIC connection ID routed (quic_route).
	 * Apart from stage 3 so that a burst without them pays one test; the
	 * entropy is the fleet flow hash of their own 5-tuple.
	 */
	for (j = 0; j < q.n; j++) {
		const struct keel_pkt *p;
		const struct keel_vip *v;
		uint16_t id = q.backend[j], inner_mtu = 0, len;
		enum keel_drop r;

		i = q.idx[j];
		p = &pkt[i];
		v = &vips[p->vip];
		len = bufs[i].len;
		r = encap_packet(&bufs[i], p, s, &bes[id], v->encap,
				 keel_flow_hash(&p->key, s->fleet_seed), &inner_mtu);
		if (r == KEEL_DROP_TOO_BIG) {
			too_big(w, port, &bufs[i], p, inner_mtu, &verdicts[i]);
			continue;
		}
		if (r != KEEL_DROP_NONE) {
			drop(w, &verdicts[i], r);
			continue;
		}
		verdicts[i] = KEEL_VERDICT_FORWARD;
		fwd_pkts++;
		fwd_bytes += bufs[i].len;
		c->vip[v->id].pkts++;
		c->vip[v->id].bytes += len;
		c->backend[id].pkts++;
		c->backend[id].bytes += len;
	}
	c->fwd_pkts += fwd_pkts;
	c->fwd_bytes += fwd_bytes;
	/*
	 * Several next hops (next_hop.h): a pass of its own over what was
	 * forwarded, so that one next hop costs nothing per packet; then every
	 * forwarded packet went by it, counted per burst.
	 */
	if (s->next_hop_ports) {
		/*
		 * Some next hop leaves by a port of its own: every forwarded frame
		 * is told its port (the runtime sends by it), the QUIC-routed ones
		 * with the entropy their encapsulation used.
		 */
		for (j = 0; j < nl; j++)
			if (verdicts[idx[j]] == KEEL_VERDICT_FORWARD)
				next_hop_set_port(s, &bufs[idx[j]], (uint32_t)(hashes[j] >> 32), c->next_hop_pkts);
		for (j = 0; j < q.n; j++)
			if (verdicts[q.idx[j]] == KEEL_VERDICT_FORWARD)
				next_hop_set_port(s, &bufs[q.idx[j]], keel_flow_hash(&pkt[q.idx[j]].key, s->fleet_seed),
						  c->next_hop_pkts);
	} else if (s->n_next_hops > 1) {
		for (j = 0; j < nl; j++)
			if (verdicts[idx[j]] == KEEL_VERDICT_FORWARD)
				next_hop_set(s, bufs[idx[j]].data, (uint32_t)(hashes[j] >> 32), c->next_hop_pkts);
		/* The QUIC-routed ones too (else they all went by the first, uncounted). */
		for (j = 0; j < q.n; j++)
			if (verdicts[q.idx[j]] == KEEL_VERDICT_FORWARD)
				next_hop_set(s, bufs[q.idx[j]].data, keel_flow_hash(&pkt[q.idx[j]].key, s->fleet_seed),
					     c->next_hop_pkts);
	} else {
		c->next_hop_pkts[s->next_hop[0].id] += fwd_pkts;
	}

	for (i = 0; i < n; i++)
		ntx += verdicts[i] == KEEL_VERDICT_FORWARD || verdicts[i] == KEEL_VERDICT_REPLY;
	return ntx;
}

void keel_pipeline_lookup(const struct keel_snapshot *s, const struct keel_flow_key *k,
			  struct keel_lookup *out)
{
	struct keel_flow_key fk = *k;
	const struct keel_vip *v;

	memset(out, 0, sizeof(*out));
	out->backend = KEEL_BACKEND_NONE;
	out->vip = vip_lookup(s, k->family, k->dst, k->dport, k->proto);
	if (out->vip == KEEL_VIP_NONE)
		return;
	v = &keel_snapshot_vips(s)[out->vip];
	if (v->flags & KEEL_VIP_FRAGMENTS)
		fk.sport = fk.dport = 0;
	out->hash = keel_flow_hash(&fk, s->fleet_seed);
	out->slot = maglev_slot(out->hash, v->table_size);
	out->backend = keel_snapshot_table(s, v)[out->slot];
}
