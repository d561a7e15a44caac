/* The burst pipeline: parse -> classify -> flow lookup -> Maglev -> encapsulate, for one worker, over byte buffers. */
#ifndef KEEL_CORE_PIPELINE_H
#define KEEL_CORE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "drop.h"
#include "flow_table.h"
#include "pkt.h"
#include "snapshot.h"

#define KEEL_BURST_MAX 64

/* Stage boundaries, timed only in keel-bench-stages (tools/keel-bench/stage_clock.h). */
#ifndef KEEL_STAGE_MARK
#define KEEL_STAGE_MARK(stage) do { } while (0)
#endif

/* What to do with each packet of a burst after the pipeline ran. */
enum keel_verdict {
	KEEL_VERDICT_DROP = 0, /* free it; the reason is counted */
	KEEL_VERDICT_FORWARD,  /* encapsulated towards a backend: transmit */
	KEEL_VERDICT_REPLY,    /* turned into our own ICMP answer: transmit */
	KEEL_VERDICT_KERNEL,   /* not for a VIP: exception path to the kernel */
};

/*
 * Per-worker counters: written by that worker alone, summed by readers.
 * Lives wherever the runtime puts it (the shared region for keel-dataplane).
 * Per-VIP and per-backend counters are indexed by stable id, so they survive
 * snapshot changes.
 */
struct keel_counters {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t fwd_pkts;
	uint64_t fwd_bytes;
	uint64_t reply_pkts;        /* echo replies and too-big answers */
	uint64_t kernel_pkts;
	uint64_t icmp_echo;         /* echo requests answered */
	uint64_t icmp_too_big;      /* too-big answers sent */
	uint64_t icmp_errors_fwd;   /* ICMP errors forwarded to a connection's backend */
	uint64_t untracked;         /* forwarded by hash without a flow entry (rate limit) */
	uint64_t rechosen;          /* tracked flows whose backend went away, chosen again */
	uint64_t second_chance;     /* sent with the slot's previous owner named (second_chance.h) */
	/* QUIC VIPs (docs/quic.md): short headers routed by their server id, or not (flow hash). */
	uint64_t quic_cid_routed;
	uint64_t quic_cid_unknown;
	uint64_t next_hop_pkts[KEEL_MAX_NEXT_HOPS]; /* forwarded, by the next hop's configured index (next_hop.h) */
	uint64_t drops[KEEL_DROP_MAX];
	struct {
		uint64_t pkts;
		uint64_t bytes;
	} vip[KEEL_MAX_VIPS];
	struct {
		uint64_t pkts;
		uint64_t bytes;
		uint64_t new_flows;
	} backend[KEEL_MAX_BACKENDS];
	/* Source lists: per VIP stable id, packets its list refused (enforce: dropped; count: forwarded). */
	uint64_t vip_source_denied[KEEL_MAX_VIPS];
} __attribute__((aligned(64)));

/* One worker's state: the snapshot it forwards with, its flow table, its counters. */
struct keel_worker {
	const struct keel_snapshot *snap; /* NULL until the first activation */
	struct flow_table *ft;
	struct keel_counters *ctr;
	uint64_t now_ms;         /* set by the runtime before each burst */
	bool non_vip_to_kernel;  /* exception path present; else non-VIP is dropped */
	/*
	 * ICMP answer rate limit: a token bucket of s->icmp_rate per second and
	 * as deep, kept as what is owed in thousandths of a token so no fraction
	 * of a refill is ever lost. Zero (as the runtime allocates it) is a full
	 * bucket, whatever the clock reads at the first answer.
	 */
	uint64_t icmp_debt_milli;
	uint64_t icmp_last_ms;
};

/*
 * Largest frame a runtime holds in one buffer for a port of this MTU: what
 * keel-dataplane's mbufs hold (2048 bytes of data room, DPDK's default, or
 * the MTU plus Ethernet, two VLAN tags and the CRC), and so what keel-replay
 * hands the core in one piece; longer frames arrive in segments and are
 * dropped as multi_segment (keel_pipeline_unfit).
 */
#define KEEL_FRAME_ROOM_MIN 2048u
#define KEEL_FRAME_OVERHEAD (14u + 2 * 4u + 4u)
static inline uint32_t keel_frame_room(uint32_t mtu)
{
	return mtu + KEEL_FRAME_OVERHEAD > KEEL_FRAME_ROOM_MIN ? mtu + KEEL_FRAME_OVERHEAD :
								  KEEL_FRAME_ROOM_MIN;
}

/* Count a received frame the runtime cannot hand the core as one buffer: rx, and dropped as multi_segment. */
void keel_pipeline_unfit(struct keel_worker *w, uint32_t len);

/*
 * Run one burst received on port. bufs[i] is each frame (may be moved into
 * headroom or rewritten); verdicts[i] receives its fate. Every packet is
 * counted exactly once: rx = forward + reply + kernel + drops. n <=
 * KEEL_BURST_MAX. Returns the number of packets to transmit (FORWARD +
 * REPLY); a REPLY goes back out of port, the port whose MAC it carries.
 */
uint32_t keel_pipeline_burst(struct keel_worker *w, const struct keel_port *port,
			     struct keel_buf *bufs, uint8_t *verdicts, uint32_t n);

/*
 * Which backend a new flow from this client would get from the Maglev table
 * (for the lookup API and tests; whether a worker already tracks the flow is
 * asked of the workers themselves, see keel_seam_query_flow).
 */
struct keel_lookup {
	uint16_t vip;        /* VIP index, KEEL_VIP_NONE if not a VIP */
	uint16_t backend;    /* backend id, KEEL_BACKEND_NONE if none */
	uint32_t slot;       /* Maglev slot used */
	uint32_t hash;       /* fleet flow hash */
};
void keel_pipeline_lookup(const struct keel_snapshot *s, const struct keel_flow_key *k,
			  struct keel_lookup *out);

#endif
