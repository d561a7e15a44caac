/* Packet tracing: the filter, and the watched run of each packet a trace may take (keel_trace_pipeline). */
#include "trace.h"

#include <string.h>

#include "parse.h"
#include "quic.h"
#include "quic_map.h"
#include "vip.h"
#include "wire.h"

/* Whether the first len bits of a and b agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *b, uint8_t len)
{
	uint8_t whole = len / 8, rest = len % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool filter_has_tuple(const struct keel_trace_filter *f)
{
	return f->src_len || f->dst_len || f->family || f->proto || f->sport || f->dport ||
	       f->vip != KEEL_TRACE_ANY_VIP;
}

bool keel_trace_match_tuple(const struct keel_trace_filter *f, bool parsed,
			    const struct keel_flow_key *k, uint16_t vip_id)
{
	if (!parsed)
		return !filter_has_tuple(f);
	if (f->family && f->family != k->family)
		return false;
	if (f->proto && f->proto != k->proto)
		return false;
	if (f->sport && f->sport != k->sport)
		return false;
	if (f->dport && f->dport != k->dport)
		return false;
	if (f->vip != KEEL_TRACE_ANY_VIP && f->vip != vip_id)
		return false;
	/* A prefix is of the filter's family: another family's address never matches it. */
	if (f->src_len && (!f->family || !prefix_match(f->src, k->src, f->src_len)))
		return false;
	if (f->dst_len && (!f->family || !prefix_match(f->dst, k->dst, f->dst_len)))
		return false;
	return true;
}

bool keel_trace_match_fate(const struct keel_trace_filter *f, uint8_t verdict, uint8_t drop)
{
	if (f->drop == 0)
		return true;
	if (verdict != KEEL_VERDICT_DROP)
		return false;
	return f->drop == KEEL_TRACE_DROP_ANY || f->drop == drop;
}

const char *keel_trace_filter_check(const struct keel_trace_filter *f)
{
	uint8_t max = f->family == KEEL_AF_INET4 ? 32 : 128;

	if (f->count == 0 || f->count > KEEL_TRACE_RECORDS)
		return "count must be 1 to 256 packets";
	if (f->duration_ms == 0 || f->duration_ms > KEEL_TRACE_MAX_MS)
		return "duration must be 1 ms to 10 minutes";
	if (f->family && f->family != KEEL_AF_INET4 && f->family != KEEL_AF_INET6)
		return "family must be 4 or 6";
	if ((f->src_len || f->dst_len) && !f->family)
		return "an address prefix needs its family";
	if (f->src_len > max || f->dst_len > max)
		return "prefix longer than the address";
	if (f->drop && f->drop != KEEL_TRACE_DROP_ANY && (f->drop >= KEEL_DROP_MAX))
		return "no such drop reason";
	return NULL;
}

/* The packet's VIP (stable id) before the core runs, as classify would find it: ANY when none. */
static uint16_t pre_vip(const struct keel_snapshot *s, const struct keel_flow_key *k, uint16_t *idx)
{
	uint16_t v;

	*idx = KEEL_VIP_NONE;
	if (!s)
		return KEEL_TRACE_ANY_VIP;
	v = vip_lookup(s, k->family, k->dst, k->dport, k->proto);
	if (v == KEEL_VIP_NONE)
		v = vip_lookup_addr(s, k->family, k->dst); /* ICMP and later fragments: by address */
	if (v == KEEL_VIP_NONE)
		return KEEL_TRACE_ANY_VIP;
	*idx = v;
	return keel_snapshot_vips(s)[v].id;
}

/* The reason a one-packet run counted, from the drop counters before and after. */
static uint8_t drop_reason(const struct keel_counters *c, const uint64_t *before)
{
	unsigned int r;

	for (r = 1; r < KEEL_DROP_MAX; r++)
		if (c->drops[r] != before[r])
			return (uint8_t)r;
	return KEEL_DROP_NONE;
}

/* Whether a packet with this fate got as far as the flow lookup (refusals before it never do). */
static bool reached_lookup(uint8_t verdict, uint8_t drop)
{
	return verdict == KEEL_VERDICT_FORWARD || drop == KEEL_DROP_NO_BACKEND || drop == KEEL_DROP_TOO_BIG ||
	       drop == KEEL_DROP_NO_HEADROOM || drop == KEEL_DROP_ICMP_RATE_LIMIT;
}

/* Run packet i alone, watched, and fill rec from what it did. */
static void watched_run(struct keel_worker *w, const struct keel_port *port, struct keel_buf *b,
			uint8_t *verdict, const struct keel_pkt *pk, bool parsed, uint16_t vidx,
			struct keel_trace_record *rec)
{
	const struct keel_snapshot *s = w->snap;
	struct keel_counters *c = w->ctr;
	uint64_t drops[KEEL_DROP_MAX];
	uint64_t sc = c->second_chance, rechosen = c->rechosen, cid = c->quic_cid_routed;
	uint16_t cid_backend = KEEL_BACKEND_NONE;
	struct keel_flow_key fk;
	const struct flow_value *before = NULL, *after;
	bool peek = false;
	uint16_t before_backend = KEEL_BACKEND_NONE;

	rec->in_len = b->len;
	rec->backend = KEEL_BACKEND_NONE;
	rec->prev_backend = KEEL_BACKEND_NONE;
	if (parsed && s && vidx != KEEL_VIP_NONE && !(pk->flags & KEEL_PKT_ICMP_ERROR)) {
		const struct keel_vip *v = &keel_snapshot_vips(s)[vidx];
		struct keel_lookup lk;

		fk = pk->key;
		if (v->flags & KEEL_VIP_FRAGMENTS)
			fk.sport = fk.dport = 0;
		keel_pipeline_lookup(s, &pk->key, &lk);
		/* A QUIC short header may be routed by its connection ID instead (docs/quic.md). */
		if ((v->flags & KEEL_VIP_QUIC) && pk->key.proto == KEEL_PROTO_UDP && !(pk->flags & KEEL_PKT_FRAG)) {
			const uint8_t *q = b->data + pk->l4_off + WIRE_UDP_HLEN;
			uint16_t sid = keel_quic_server_id(q, (size_t)wire_get16(b->data + pk->l4_off + 4) -
							      WIRE_UDP_HLEN);

			cid_backend = sid ? keel_quic_map_lookup(s, v, sid) : KEEL_BACKEND_NONE;
		}
		if (lk.vip == vidx) {
			rec->slot = lk.slot;
			rec->hash = lk.hash;
			peek = pk->key.proto != (pk->key.family == KEEL_AF_INET4 ? KEEL_PROTO_ICMP : KEEL_PROTO_ICMPV6);
		}
		if (peek) {
			before = flow_table_peek(w->ft, &fk, w->now_ms);
			before_backend = before ? before->backend : KEEL_BACKEND_NONE;
			rec->backend = lk.backend;
		}
	}
	memcpy(drops, c->drops, sizeof(drops));

	keel_pipeline_burst(w, port, b, verdict, 1);

	rec->verdict = *verdict;
	rec->drop = *verdict == KEEL_VERDICT_DROP ? drop_reason(c, drops) : KEEL_DROP_NONE;
	rec->second_chance = c->second_chance != sc;
	if (peek) {
		after = flow_table_peek(w->ft, &fk, w->now_ms);
		if (c->rechosen != rechosen)
			rec->flow = KEEL_TRACE_FLOW_RECHOSEN;
		else if (before)
			rec->flow = KEEL_TRACE_FLOW_HIT;
		else if (after)
			rec->flow = KEEL_TRACE_FLOW_INSERTED;
		else if (reached_lookup(*verdict, rec->drop))
			rec->flow = KEEL_TRACE_FLOW_MISS;
		/* The backend it went to: the flow's when tracked, else the slot's owner. */
		if (after)
			rec->backend = after->backend;
		else if (before)
			rec->backend = before_backend;
		/* Routed by its connection ID: no flow entry was read or written for it. */
		if (c->quic_cid_routed != cid) {
			rec->backend = cid_backend;
			rec->flow = KEEL_TRACE_FLOW_NONE;
		}
		if (rec->second_chance) {
			const uint16_t *prev = keel_snapshot_prev(s, &keel_snapshot_vips(s)[vidx]);

			rec->prev_backend = prev ? prev[rec->slot] : KEEL_BACKEND_NONE;
		}
	}
	if (*verdict == KEEL_VERDICT_FORWARD || *verdict == KEEL_VERDICT_REPLY) {
		rec->out_len = b->len;
		rec->out_caplen = (uint8_t)(b->len < KEEL_TRACE_OUT_BYTES ? b->len : KEEL_TRACE_OUT_BYTES);
		memcpy(rec->out, b->data, rec->out_caplen);
	}
	if (*verdict != KEEL_VERDICT_FORWARD)
		rec->backend = KEEL_BACKEND_NONE; /* chosen maybe, but not sent there */
}

uint32_t keel_trace_pipeline(struct keel_worker *w, const struct keel_port *port, struct keel_buf *bufs,
			     uint8_t *verdicts, uint32_t n, struct keel_trace_sink *sink)
{
	const struct keel_trace_filter *f = sink->f;
	uint32_t i, start = 0, ntx = 0;
	bool full = false;

	if (n > KEEL_BURST_MAX)
		n = KEEL_BURST_MAX;
	for (i = 0; i < n; i++) {
		struct keel_pkt pk;
		struct keel_trace_record *rec;
		uint16_t vidx = KEEL_VIP_NONE, vip = KEEL_TRACE_ANY_VIP;
		bool parsed;

		if (full)
			break;
		memset(&pk, 0, sizeof(pk));
		parsed = bufs[i].len >= 14 && keel_parse(bufs[i].data, bufs[i].len, &pk) == KEEL_DROP_NONE &&
			 !(pk.flags & KEEL_PKT_NOT_IP);
		if (!parsed)
			memset(&pk, 0, sizeof(pk));
		else
			vip = pre_vip(w->snap, &pk.key, &vidx);
		if (!keel_trace_match_tuple(f, parsed, &pk.key, vip))
			continue;
		/* A candidate: what came before it runs first, as one batch, then it alone. */
		if (i > start)
			ntx += keel_pipeline_burst(w, port, bufs + start, verdicts + start, i - start);
		start = i + 1;
		rec = sink->take(sink->arg);
		if (!rec) {
			full = true;
			start = i;
			break;
		}
		memset(rec, 0, sizeof(*rec));
		rec->key = pk.key;
		rec->parsed = parsed;
		rec->vip = vip;
		rec->port = sink->port;
		rec->queue = sink->queue;
		rec->now_ms = w->now_ms;
		watched_run(w, port, &bufs[i], &verdicts[i], &pk, parsed, vidx, rec);
		ntx += verdicts[i] == KEEL_VERDICT_FORWARD || verdicts[i] == KEEL_VERDICT_REPLY;
		/* Only a record its fate matches is kept (and counted); else the slot is taken again. */
		if (keel_trace_match_fate(f, rec->verdict, rec->drop))
			sink->commit(sink->arg, rec);
	}
	if (start < n)
		ntx += keel_pipeline_burst(w, port, bufs + start, verdicts + start, n - start);
	return ntx;
}
