/* Packet tracing (keelctl trace): which packets a trace takes, and what it records of each one's way through the core. */
#ifndef KEEL_CORE_TRACE_H
#define KEEL_CORE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"

#define KEEL_TRACE_RECORDS 256     /* records per worker ring, and the most a trace takes */
#define KEEL_TRACE_MAX_MS 600000   /* longest a trace stays armed (10 minutes) */
#define KEEL_TRACE_OUT_BYTES 96    /* bytes of the output frame kept: outer headers */
#define KEEL_TRACE_ANY_VIP 0xffffu
#define KEEL_TRACE_DROP_ANY 0xffffu /* filter.drop: every dropped packet, whatever its reason */

/*
 * Which packets a trace takes. Fields left zero match anything (vip:
 * KEEL_TRACE_ANY_VIP); a packet the parser refused has no tuple, so it
 * matches only a filter without tuple fields. Ports in network order.
 */
struct keel_trace_filter {
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t src_len;      /* prefix length in bits, 0: any source */
	uint8_t dst_len;
	uint8_t family;       /* KEEL_AF_INET4/6, 0: any */
	uint8_t proto;        /* 0: any */
	uint16_t sport;
	uint16_t dport;
	uint16_t vip;         /* stable VIP id, KEEL_TRACE_ANY_VIP: any */
	uint16_t drop;        /* 0: any fate; a keel_drop: dropped for it; KEEL_TRACE_DROP_ANY */
	uint32_t count;       /* packets to take, 1..KEEL_TRACE_RECORDS */
	uint32_t duration_ms; /* armed for at most this long, 1..KEEL_TRACE_MAX_MS */
};

/* Whether the flow table knew the packet's flow. */
enum keel_trace_flow {
	KEEL_TRACE_FLOW_NONE = 0, /* never looked up (refused before, or an ICMP answer) */
	KEEL_TRACE_FLOW_HIT,      /* tracked, backend kept */
	KEEL_TRACE_FLOW_MISS,     /* not tracked and not inserted (second chance, ICMP error, table full) */
	KEEL_TRACE_FLOW_INSERTED, /* a new flow entry */
	KEEL_TRACE_FLOW_RECHOSEN, /* tracked, but its backend went away: chosen again */
};

/* One packet's way through the core: fixed size, written once by one worker. */
struct keel_trace_record {
	struct keel_flow_key key; /* as parsed; zero when the parser refused the frame */
	uint64_t now_ms;          /* the worker's clock */
	uint32_t slot;            /* Maglev slot of the flow hash (valid when vip is set) */
	uint32_t hash;
	uint16_t port;            /* port index and RX queue */
	uint16_t queue;
	uint16_t vip;             /* stable VIP id, KEEL_TRACE_ANY_VIP: none */
	uint16_t backend;         /* backend id sent to, KEEL_BACKEND_NONE: none */
	uint16_t prev_backend;    /* the slot's previous owner named by second chance, else NONE */
	uint16_t in_len;
	uint16_t out_len;
	uint8_t parsed;           /* 1: the parser took the frame (key valid) */
	uint8_t verdict;          /* enum keel_verdict */
	uint8_t drop;             /* enum keel_drop when dropped */
	uint8_t flow;             /* enum keel_trace_flow */
	uint8_t second_chance;    /* 1: sent with the previous owner named */
	uint8_t out_caplen;       /* bytes of out[] valid */
	uint8_t pad[4];
	uint8_t out[KEEL_TRACE_OUT_BYTES]; /* the output frame's first bytes (forwarded or answered) */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct keel_trace_record) == 192, "trace records are a fixed ABI size");

/* A filter's checks before the core runs: tuple and VIP (vip_id of the packet's VIP, or ANY for none). */
bool keel_trace_match_tuple(const struct keel_trace_filter *f, bool parsed,
			    const struct keel_flow_key *k, uint16_t vip_id);

/* ... and after: whether its fate is one the filter asks for. */
bool keel_trace_match_fate(const struct keel_trace_filter *f, uint8_t verdict, uint8_t drop);

/* Refuse a filter no worker should be given: NULL when it is sound, else the reason. */
const char *keel_trace_filter_check(const struct keel_trace_filter *f);

/*
 * Where a traced burst puts its records: take() the next free record without
 * consuming it (NULL: the trace is full or over: the rest of the burst runs
 * as one batch), commit() it once written and its fate matched; a record
 * not committed is handed out again.
 */
struct keel_trace_sink {
	const struct keel_trace_filter *f;
	uint16_t port;
	uint16_t queue;
	struct keel_trace_record *(*take)(void *arg);
	void (*commit)(void *arg, struct keel_trace_record *rec);
	void *arg;
};

/*
 * keel_pipeline_burst for a burst while a trace is armed: the same verdicts,
 * counters and flow-table changes, in the same order. Packets the filter
 * does not take run as batches; each one it may take runs alone, watched
 * (flow peeked before and after, counters compared), so only the traced
 * packets pay. Returns what keel_pipeline_burst would.
 */
uint32_t keel_trace_pipeline(struct keel_worker *w, const struct keel_port *port, struct keel_buf *bufs,
			     uint8_t *verdicts, uint32_t n, struct keel_trace_sink *sink);

#endif
