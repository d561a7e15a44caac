/* The shared-memory ABI between keel-control and keel-dataplane: the one header both include. */
#ifndef KEEL_SEAM_REGION_H
#define KEEL_SEAM_REGION_H

#include <stdint.h>

#include "pipeline.h"
#include "flow_table.h"
#include "trace.h"

/*
 * One region per dataplane instance, a file mapped by both processes:
 * /dev/hugepages/keel-<name> when hugetlbfs is mounted (TLB-friendly Maglev
 * tables), else /dev/shm/keel-<name>. Layout, every part at an offset from
 * the region start and 64-byte aligned:
 *
 *   struct keel_region            header
 *   n_workers x ring              struct rte_ring + KEEL_RING_SLOTS messages
 *   n_workers x keel_worker_status
 *   n_workers x keel_counters
 *   n_workers x keel_trace_worker  packet trace records (ABI 5)
 *   n_slots x slot                snapshots, slot_size bytes each
 *
 * Ownership ("dp" keel-dataplane, "cp" keel-control; wo write-only, ro
 * read-only, rw both through atomics). Each atomic names what it pairs with
 * at both ends:
 *   header                  dp: wo at start, then only state/ended; cp: ro
 *   rings                   dp: consumer; cp: producer (single producer)
 *   worker status, counters dp: wo (each by its worker alone); cp: ro
 *   trace records           dp: wo (each ring by its worker alone); cp: ro
 *   trace control (header)  cp: wo filter then seq; dp: ro, except taken (RMW)
 *   snapshot slots          cp: wo while the slot is free; dp: ro once activated
 */

#define KEEL_REGION_MAGIC 0x314e4752454c454bULL /* "KEELRGN1" little-endian */
/*
 * 2: the header records every section's element size and the limits that size
 * the counters (drop reasons, VIPs, backends); readers refuse a mismatch.
 * 3: and the snapshot ABI (KEEL_SNAPSHOT_ABI) and backend record size the
 * slots are read with, so a publisher of other snapshots is refused at open
 * rather than by every worker at activation.
 * 4: the header names the ports and gives the TSC rate; the counters carry
 * each worker's census of tracked flows by backend.
 * 5: packet traces: the trace control in the header and a record ring per
 * worker (trace_off, trace_size, trace_records).
 * 6: the counters carry QUIC connection-ID routing (quic_cid_routed/unknown)
 * and per-VIP source lists (vip_source_denied, the drop reason
 * source_denied); the slots hold snapshot ABI 4 (QUIC server-id maps,
 * keel_vip.src_off).
 * 7: each port's link state (port_mac[i][6]); the slots hold snapshot ABI 5
 * (each next hop's port).
 */
#define KEEL_REGION_ABI 7
#define KEEL_REGION_MAX_WORKERS 64
#define KEEL_PORT_LINK_UNKNOWN 0
#define KEEL_PORT_LINK_UP 1
#define KEEL_PORT_LINK_DOWN 2
#define KEEL_REGION_MAX_SLOTS 8
#define KEEL_RING_SLOTS 64 /* messages per worker ring (power of two) */

enum keel_region_state {
	KEEL_REGION_STARTING = 0,
	KEEL_REGION_RUNNING = 1,
	KEEL_REGION_ENDED = 2, /* the dataplane exited cleanly */
};

/* Messages on a worker's ring: fixed size, offsets and ids only, never pointers. */
enum keel_cmd_type {
	KEEL_CMD_ACTIVATE = 1,      /* switch to slot `slot`, generation `generation` */
	KEEL_CMD_FLUSH_BACKEND = 2, /* drop tracked flows of backend id `arg` */
	KEEL_CMD_LOOKUP = 3,        /* answer region->query for sequence `arg` */
};

struct keel_cmd {
	uint32_t type;
	uint32_t slot;
	uint64_t generation;
	uint64_t arg;
	uint64_t pad;
};

/*
 * Per worker, one cache line, written only by that worker (dp: wo; cp: ro).
 * The words cp reads while the worker runs are atomic at both ends:
 *   active_slot        dp: release store before active_generation (keel_status_activated);
 *                      cp: acquire load (slot_busy): a slot a worker reports is not rewritten
 *   active_generation  dp: release store after the switch (keel_status_activated);
 *                      cp: acquire load (worker_gen): the worker has left the older slot
 *   refused            dp: release store (keel_status_refused); cp: acquire load (publish)
 *   heartbeat_ms, activations, busy/idle_cycles
 *                      dp: relaxed store; cp: relaxed load (a whole, maybe old, value;
 *                      nothing else is ordered by them)
 */
struct keel_worker_status {
	uint64_t active_generation;
	uint32_t active_slot;       /* UINT32_MAX before the first activation */
	uint32_t lcore;
	uint64_t heartbeat_ms;      /* worker's clock, stored every loop; cp checks it moves */
	uint64_t refused;           /* activations refused: invalid snapshot */
	uint64_t activations;
	uint32_t socket;            /* NUMA node of the lcore */
	uint32_t numa_mismatch;     /* 1 if a port it polls is on another socket */
	uint64_t busy_cycles;       /* TSC cycles in loops that moved packets (tsc_hz a second) */
	uint64_t idle_cycles;
} __attribute__((aligned(64)));

/*
 * The worker's side of its status words (dp only: keel-dataplane's worker and
 * the tests' simulated workers), each store as the table above says; the
 * reader's side is keel_seam_read_status (seam.h) and the publisher's loads.
 * Single writer: a load then a store is enough for the counts, no RMW.
 */
static inline void keel_status_activated(struct keel_worker_status *st, uint32_t slot,
					 uint64_t generation)
{
	/* release: pairs with cp's acquire loads of active_slot (slot_busy, keel_seam_read_active). */
	__atomic_store_n(&st->active_slot, slot, __ATOMIC_RELEASE);
	__atomic_store_n(&st->activations, st->activations + 1, __ATOMIC_RELAXED);
	/* release: pairs with cp's acquire load (worker_gen): at G this worker no longer reads the old slot. */
	__atomic_store_n(&st->active_generation, generation, __ATOMIC_RELEASE);
}

static inline void keel_status_refused(struct keel_worker_status *st)
{
	/* release: pairs with the acquire loads of refused in keel_seam_publish. */
	__atomic_store_n(&st->refused, st->refused + 1, __ATOMIC_RELEASE);
}

static inline void keel_status_beat(struct keel_worker_status *st, uint64_t now_ms, uint64_t busy,
				    uint64_t idle)
{
	/* relaxed: pairs with cp's relaxed loads (control_tick, keel_seam_read_status); nothing is ordered by them. */
	__atomic_store_n(&st->heartbeat_ms, now_ms, __ATOMIC_RELAXED);
	if (busy)
		__atomic_store_n(&st->busy_cycles, st->busy_cycles + busy, __ATOMIC_RELAXED);
	if (idle)
		__atomic_store_n(&st->idle_cycles, st->idle_cycles + idle, __ATOMIC_RELAXED);
}

/* Per worker: the pipeline counters plus flow-table and port-queue figures. */
struct keel_worker_counters {
	struct keel_counters core;
	struct flow_table_stats flows; /* copied from the worker's table every ~1 ms */
	uint64_t port_rx[8];           /* by port index (first 8 ports) */
	uint64_t port_tx[8];
	uint64_t tx_dropped;           /* refused by the NIC: freed and counted */
	uint64_t kernel_tx;            /* handed to the exception path */
	uint64_t kernel_rx;            /* from the kernel, sent out of a port */
	uint64_t kernel_control;       /* of kernel_pkts: the host's control protocols, sent first */
	/*
	 * Live tracked flows by backend id, from the worker's last full census
	 * of its table (flow_table_census, a pass about every second: see
	 * worker.c); 64-bit so that keel_seam_sum_counters sums them as it sums
	 * everything else.
	 */
	uint64_t census_passes;
	uint64_t backend_flows[KEEL_MAX_BACKENDS];
} __attribute__((aligned(64)));

/* What a worker is doing with the armed trace (keel_trace_worker.state). */
enum keel_trace_state {
	KEEL_TRACE_IDLE = 0,
	KEEL_TRACE_RUNNING = 1,
	KEEL_TRACE_FULL = 2,    /* the trace took its count of packets */
	KEEL_TRACE_EXPIRED = 3, /* its duration ran out on this worker's clock */
	KEEL_TRACE_DISARMED = 4,
};

/*
 * One worker's trace records, single writer (that worker):
 *   seq    dp: release-stored after head = 0 and state = RUNNING when the
 *          worker takes up trace seq; cp: acquire-loaded before head and
 *          state, and again after copying records (a changed seq: the copy
 *          may be torn, discarded)
 *   head   dp: release-stored after each record it makes valid; cp:
 *          acquire load: rec[0, head) are complete and never rewritten
 *          while seq stays
 *   state  dp: relaxed store; cp: relaxed load after seq (done or not)
 */
struct keel_trace_worker {
	uint64_t seq;
	uint32_t head;
	uint32_t state;
	uint8_t pad[48];
	struct keel_trace_record rec[KEEL_TRACE_RECORDS];
} __attribute__((aligned(64)));

struct keel_region {
	/*
	 * dp: release-stored last, once the layout below is complete (region_create);
	 * cp: acquire-loaded first (keel_seam_open), before any other field is read.
	 */
	uint64_t magic;
	uint32_t abi;
	uint32_t header_size;
	uint64_t epoch;          /* random per dataplane start: cp detects a restart */
	uint32_t state;          /* enum keel_region_state; release-stored by dp */
	uint32_t pid;            /* dataplane process id */
	uint32_t n_workers;
	uint32_t n_slots;
	uint64_t slot_size;
	uint64_t region_size;
	uint64_t rings_off;
	uint64_t ring_stride;
	uint64_t status_off;     /* n_workers struct keel_worker_status */
	uint64_t counters_off;   /* n_workers struct keel_worker_counters */
	uint64_t slots_off;
	/*
	 * What each section's elements are, as the dataplane was built (ABI 2). A
	 * reader built with another drop-reason list or other limits would
	 * misread the counters: keel_seam_open refuses any difference.
	 */
	uint32_t status_size;     /* sizeof(struct keel_worker_status) */
	uint32_t counters_size;   /* sizeof(struct keel_worker_counters) */
	uint32_t cmd_size;        /* sizeof(struct keel_cmd), a ring element */
	uint32_t ring_slots;      /* KEEL_RING_SLOTS */
	uint32_t n_drop_reasons;  /* KEEL_DROP_MAX: length of keel_counters.drops */
	uint32_t max_vips;        /* KEEL_MAX_VIPS: length of keel_counters.vip */
	uint32_t max_backends;    /* KEEL_MAX_BACKENDS: length of keel_counters.backend */
	uint32_t max_workers;     /* KEEL_REGION_MAX_WORKERS: length of query_reply */
	uint32_t snapshot_abi;    /* KEEL_SNAPSHOT_ABI: the layout of what the slots hold */
	uint32_t backend_size;    /* sizeof(struct keel_backend) (ABI 3) */
	uint32_t n_ports;
	uint32_t flow_capacity;  /* per worker */
	uint64_t started_ms;     /* CLOCK_REALTIME ms at start, for operators */
	char name[32];
	/*
	 * Port-level figures from rte_eth_stats by port index (first 8 ports):
	 * not per worker, so the dataplane's main thread stores them about every
	 * 100 ms (dp: wo, relaxed 64-bit stores; cp: ro).
	 */
	uint64_t port_missed[8];   /* dropped by the NIC: RX queues full */
	uint64_t port_nombuf[8];   /* RX mbuf allocation failures */
	/*
	 * Each port's MAC (dp: wo before RUNNING): the source MAC keel-control
	 * puts in snapshots, in bytes 0..5. Byte 6: the port's link as
	 * KEEL_PORT_LINK_* (dp: relaxed stores with port_missed), which takes a
	 * port's next hops out of the set while it is down.
	 */
	uint8_t port_mac[8][8];
	/*
	 * Each port's name for operators (dp: wo before RUNNING): the kernel
	 * interface of an AF_XDP or AF_PACKET port, else DPDK's device name (a
	 * PCI address, net_null0, ...). NUL-terminated.
	 */
	char port_name[8][32];
	uint64_t tsc_hz;           /* dp: wo before RUNNING: the rate of busy/idle_cycles */
	/*
	 * An operator's "is this flow tracked?" question (keel-control's
	 * lookup). cp: writes key, then posts KEEL_CMD_LOOKUP with arg = seq on
	 * every ring (the ring's release orders the key before the message).
	 * dp: each worker answers in its own reply, release-storing seq last;
	 * cp acquire-loads seq before reading the answer.
	 */
	struct keel_flow_key query_key;
	struct {
		uint64_t seq;
		uint16_t backend; /* tracked backend id when hit */
		uint16_t vip;     /* tracked VIP id when hit */
		uint8_t hit;
		uint8_t pad[3];
	} __attribute__((aligned(64))) query_reply[KEEL_REGION_MAX_WORKERS];
	/* The trace rings' section and what its elements are (ABI 5). */
	uint64_t trace_off;       /* n_workers struct keel_trace_worker */
	uint32_t trace_size;      /* sizeof(struct keel_trace_worker) */
	uint32_t trace_records;   /* KEEL_TRACE_RECORDS */
	/*
	 * The armed trace (keelctl trace). cp: disarms (seq = 0, release), writes
	 * the filter and taken = 0, then release-stores seq (a new nonzero
	 * number). dp: each worker acquire-loads seq once a loop; on a new one it
	 * copies the filter and loads seq again (a changed seq: copied again
	 * next loop). taken: every worker's fetch-add for each record it keeps,
	 * so that the trace stops at filter.count over all workers.
	 */
	struct {
		uint64_t seq;
		uint64_t taken;
		struct keel_trace_filter filter;
	} __attribute__((aligned(64))) trace;
} __attribute__((aligned(64)));

static inline struct keel_worker_status *keel_region_status(struct keel_region *r, uint32_t w)
{
	return (struct keel_worker_status *)((uint8_t *)r + r->status_off) + w;
}

static inline struct keel_worker_counters *keel_region_counters(struct keel_region *r, uint32_t w)
{
	return (struct keel_worker_counters *)((uint8_t *)r + r->counters_off) + w;
}

static inline struct rte_ring *keel_region_ring(struct keel_region *r, uint32_t w)
{
	return (struct rte_ring *)((uint8_t *)r + r->rings_off + r->ring_stride * w);
}

static inline struct keel_trace_worker *keel_region_trace(struct keel_region *r, uint32_t w)
{
	return (struct keel_trace_worker *)((uint8_t *)r + r->trace_off) + w;
}

static inline struct keel_snapshot *keel_region_slot(struct keel_region *r, uint32_t slot)
{
	return (struct keel_snapshot *)((uint8_t *)r + r->slots_off + r->slot_size * slot);
}

/*
 * Whether a mapped header (of size bytes, the file's size) is one this build
 * can read: NULL when it is, else the reason (the first field that differs).
 * Only the magic is read before the ABI version, and only the version before
 * the rest; the caller has acquire-loaded the magic.
 */
const char *keel_region_check(const struct keel_region *r, uint64_t size);

/* Path of an instance's region file into buf; returns 0 or -ENAMETOOLONG / -EINVAL (bad name). */
int keel_region_path(const char *name, char *buf, size_t len);

#endif
