/* Building a snapshot blob from a plain description: used by keel-control, the tests, the bench and the demo. */
#ifndef KEEL_CORE_SNAPSHOT_BUILD_H
#define KEEL_CORE_SNAPSHOT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "source_list.h"

struct keel_backend_spec {
	uint8_t addr[16];  /* IPv4 in the first 4 bytes */
	uint8_t family;
	uint8_t state;     /* enum keel_backend_state (not UNUSED) */
	uint16_t id;       /* stable id, unique in the snapshot, < KEEL_MAX_BACKENDS */
	uint32_t weight;
	uint8_t mac[6];    /* next hop; all zero means the snapshot's gateway MAC */
	uint16_t server_id;/* QUIC VIPs: the id its connection IDs carry (quic.h), 0 = none */
};

struct keel_vip_spec {
	uint8_t addr[16];
	uint8_t family;
	uint8_t proto;
	uint16_t port;       /* host byte order; 0 with KEEL_VIP_ALL_PORTS */
	uint8_t flags;
	uint8_t encap;
	uint16_t id;         /* stable id, unique, < KEEL_MAX_VIPS */
	uint32_t table_size; /* 0 means KEEL_MAGLEV_DEFAULT_SIZE */
	uint32_t n_backends;
	const struct keel_backend_spec *backends;
	/*
	 * NULL, or table_size entries: per Maglev slot the backend id that owned
	 * it before a recent change (second chance), KEEL_BACKEND_NONE where none.
	 */
	const uint16_t *prev_owner;
	/*
	 * NULL, or the VIP's Maglev table built beforehand by keel_vip_table_build
	 * from this very spec and the snapshot's seed (keel-control's table cache):
	 * copied as it is instead of built again.
	 */
	const uint16_t *table;
	/* Source lists: NULL, or the VIP's allow/deny list (source_list.h), prefixes of its family. */
	const struct keel_src_spec *sources;
	/*
	 * With table: a name for that very table, unique in the publishing
	 * process (keel-control's cache serial; 0: none), and its checksum sums
	 * (keel_snapshot_sum_table). keel_snapshot_build_over then leaves a slot's
	 * copy of it in place and adds it to the checksum without reading it.
	 */
	uint64_t table_serial;
	uint64_t table_sum[2];
};

struct keel_snapshot_spec {
	uint64_t generation;
	uint64_t fleet_seed;
	uint8_t src_mac[6];
	uint8_t gw_mac[6];
	uint8_t src4[4];
	uint8_t src4_plen;
	uint8_t src6[16];
	uint8_t src6_plen;
	uint8_t ttl;       /* 0 means 64 */
	uint16_t gue_port; /* 0 means ENCAP_GUE_DEFAULT_PORT */
	uint16_t mtu;      /* 0 means 1500 */
	uint32_t icmp_rate;/* 0 means 100 per second */
	uint32_t n_vips;
	const struct keel_vip_spec *vips;
	/*
	 * Next hops (next_hop.h): the usable ones, ids ascending and below
	 * n_next_hops_configured (0 means n_next_hops); the first one's MAC
	 * replaces gw_mac. None: gw_mac alone, as id 0.
	 */
	uint32_t n_next_hops;
	struct keel_next_hop next_hop[KEEL_MAX_NEXT_HOPS];
	uint32_t n_next_hops_configured;
};

/* Bytes keel_snapshot_build needs for this spec. */
size_t keel_snapshot_size(const struct keel_snapshot_spec *spec);

/*
 * Write a complete, checksummed snapshot into buf (cap bytes). Maglev tables
 * are built from each VIP's ACTIVE backends with weight > 0. Returns 0, or a
 * negative errno with *why (when not NULL) naming the problem: -EINVAL for a
 * bad spec (duplicate VIP or ids, ids out of range, family mismatch, non-prime
 * table size), -ENOSPC when cap is too small, -ENOMEM.
 */
int keel_snapshot_build(void *buf, size_t cap, const struct keel_snapshot_spec *spec,
			const char **why);

/*
 * What a buffer (a snapshot slot) holds after a keel_snapshot_build_over:
 * per VIP index, the table_serial written at which offset. n == 0: nothing
 * known (new, or a build that failed half way).
 */
struct keel_slot_memo {
	uint32_t n;
	struct {
		uint64_t serial;
		uint64_t off;
		uint32_t m;
	} vip[KEEL_MAX_VIPS];
};

/*
 * keel_snapshot_build into a buffer that memo describes (NULL: nothing
 * known): a VIP's table with the serial and offset the memo has there is
 * not written again, and every table with a serial enters the checksum by
 * its sums. The memo then describes what was written. The caller must keep
 * the memo true: cleared whenever anything else may have written the buffer
 * (keel-control clears its memos when a publish fails).
 */
int keel_snapshot_build_over(void *buf, size_t cap, const struct keel_snapshot_spec *spec,
			     struct keel_slot_memo *memo, const char **why);

/* A table's checksum sums (keel_vip_spec.table_sum): its m entries and the zero pad to 8 bytes. */
void keel_snapshot_sum_table(const uint16_t *table, uint32_t m, uint64_t sum[2]);

#endif
