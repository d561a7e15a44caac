/* The immutable forwarding state a worker reads: VIPs, backends and Maglev tables in one flat, offset-based blob. */
#ifndef KEEL_CORE_SNAPSHOT_H
#define KEEL_CORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/*
 * A snapshot is written once by its builder (keel-control, tests, the bench)
 * and never modified while a worker may read it. It holds no pointers, only
 * byte offsets from its own start, so it can sit in shared memory mapped at
 * different addresses in different processes.
 */

#define KEEL_SNAPSHOT_MAGIC 0x50414e534c45454bULL /* "KEELSNAP" little-endian */
#define KEEL_SNAPSHOT_ABI 5 /* 2: keel_vip.prev_off (second chance); 3: keel_backend.tmpl;
			     * 4: keel_vip.quic_off/quic_n (QUIC server ids), keel_vip.src_off,
			     *    next hops (n_next_hops, next_hop[], next_hop_slot[]);
			     * 5: keel_next_hop.port/src_mac, next_hop_ports (each next hop's port) */

#define KEEL_MAX_VIPS 1024
#define KEEL_MAX_BACKENDS 16384 /* stable backend ids are < this */
#define KEEL_BACKEND_NONE 0xffffu /* Maglev slot with no backend (all weights 0) */
#define KEEL_MAGLEV_DEFAULT_SIZE 65537u
#define KEEL_MAGLEV_MAX_SIZE 1048573u /* largest accepted prime table size */

/* keel_vip.flags */
#define KEEL_VIP_ALL_PORTS (1u << 0) /* matches any port; port must be 0 */
#define KEEL_VIP_FRAGMENTS (1u << 1) /* hash on addresses and protocol only, accept fragments */
#define KEEL_VIP_QUIC (1u << 2)      /* UDP: short-header QUIC packets routed by server id (quic.h) */
/* Source lists: src_off names the VIP's list (a flag, so that one test covers the rare cases). */
#define KEEL_VIP_SOURCES (1u << 7)

/* keel_vip.encap */
enum keel_encap {
	KEEL_ENCAP_IPIP = 0, /* IP in IP: 4in4, 6in6, 4in6 or 6in4 by the families involved */
	KEEL_ENCAP_GUE = 1,  /* GUE variant 0 over UDP */
};

/* keel_backend.state */
enum keel_backend_state {
	KEEL_BACKEND_UNUSED = 0,   /* id not allocated in this snapshot */
	KEEL_BACKEND_ACTIVE = 1,   /* in the Maglev table, keeps its flows */
	KEEL_BACKEND_DRAINING = 2, /* out of the table, keeps its tracked flows */
	KEEL_BACKEND_DOWN = 3,     /* out of the table, its flows are re-chosen */
};

struct keel_vip {
	uint8_t addr[16];    /* IPv4 in the first 4 bytes, rest zero */
	uint16_t port;       /* network byte order; 0 with KEEL_VIP_ALL_PORTS */
	uint8_t proto;       /* KEEL_PROTO_TCP or KEEL_PROTO_UDP */
	uint8_t family;      /* KEEL_AF_INET4 or KEEL_AF_INET6 */
	uint8_t flags;       /* KEEL_VIP_* */
	uint8_t encap;       /* enum keel_encap */
	uint16_t id;         /* stable id (< KEEL_MAX_VIPS): counters are indexed by it */
	uint32_t table_size; /* Maglev M, prime */
	uint32_t table_off;  /* offset of M uint16_t backend ids */
	uint32_t prev_off;   /* 0, or offset of M uint16_t: each slot's previous owner when it changed
			      * within keel-control's second-chance window, else KEEL_BACKEND_NONE */
	/* QUIC connection-ID routing (KEEL_VIP_QUIC; quic_map.h): */
	uint32_t quic_off;   /* 0, or offset of quic_n struct keel_quic_sid sorted by server id */
	uint32_t quic_n;
	/* Source lists (source_list.h). */
	uint32_t src_off;    /* 0, or offset of the VIP's struct keel_src_list (with KEEL_VIP_SOURCES) */
};

/* One entry of a QUIC VIP's server-id map: which backend a short header's server id names. */
struct keel_quic_sid {
	uint16_t server_id;  /* 1..65535, strictly ascending within a VIP's map */
	uint16_t backend;    /* stable backend id, of this VIP */
};

/*
 * A backend's outer headers as encap_packet writes them, made once when the
 * snapshot is built (keel_encap_tmpl_fill, encap.h) instead of per packet:
 * Ethernet (untagged: dst the backend's MAC, src the port's, EtherType of the
 * backend's family), the outer IPv4 or IPv6 header and, after it, UDP + GUE.
 * Every field that depends only on the snapshot and the backend is filled
 * (version, DF, TTL, the source prefix with its host bits zero, destination,
 * GUE port); the per-packet ones are zero (TOS / traffic class, length, flow
 * label, protocol / next header, checksums, UDP source port and length, the
 * GUE protocol), as are the source bits that carry entropy (ent_mask). It
 * serves both encapsulations: IP in IP sends the first 14 + 20 or 14 + 40
 * bytes, GUE all of them. keel_snapshot_validate checks it against the
 * backend and the snapshot's output parameters.
 */
struct keel_encap_tmpl {
	uint8_t hdr[66];     /* Ethernet 14 + IPv4 20 (+ UDP 8 + GUE 4, then 20 unused) or IPv6 40 (+ 12) */
	uint8_t pad0[2];
	/*
	 * One's-complement partial sum (big-endian 16-bit words, unfolded) of the
	 * constant fields: IPv4, of the outer header as in hdr; IPv6, of the UDP
	 * pseudo-header's addresses as in hdr plus its next header (17) plus the
	 * GUE destination port.
	 */
	uint32_t sum;
	uint32_t ent_mask;   /* host order: bits of the source's last 32 that carry entropy */
	uint8_t pad1[20];
};

struct keel_backend {
	uint8_t addr[16];    /* encapsulation outer destination */
	uint8_t family;
	uint8_t state;       /* enum keel_backend_state */
	uint16_t vip;        /* index of its VIP in this snapshot's VIP array */
	uint32_t weight;
	uint8_t mac[6];      /* next-hop MAC for this backend */
	uint16_t pad;
	struct keel_encap_tmpl tmpl; /* zero when state is KEEL_BACKEND_UNUSED */
};

/*
 * Several next hops (dual-ToR uplinks, next_hop.h): the usable gateways'
 * MACs, each with its index in the configuration (its counters' index).
 */
#define KEEL_MAX_NEXT_HOPS 8
#define KEEL_NEXT_HOP_SLOT_BITS 8
#define KEEL_NEXT_HOP_SLOTS (1u << KEEL_NEXT_HOP_SLOT_BITS)
#define KEEL_NEXT_HOP_MAX_PORT 8 /* keel_next_hop.port: 0..8 (the region's 8 ports) */

struct keel_next_hop {
	uint8_t mac[6];
	uint8_t id;          /* index in the configuration's next hops, < KEEL_MAX_NEXT_HOPS */
	/*
	 * The port it leaves by: 0, that of the RX port (keel-dataplane
	 * --tx-port); k + 1, the dataplane's port k, with src_mac that port's
	 * MAC (a dual-homed host: one port per ToR).
	 */
	uint8_t port;
	uint8_t src_mac[6];
	uint16_t pad;
};

_Static_assert(sizeof(struct keel_encap_tmpl) == 96, "encap template layout");
_Static_assert(sizeof(struct keel_backend) == 128, "backend record: two cache lines");

/*
 * Header at offset 0. checksum covers the whole blob [0, size) computed with
 * the checksum field itself zero (keel_snapshot_checksum).
 */
struct keel_snapshot {
	uint64_t magic;
	uint32_t abi;
	uint32_t checksum;
	uint64_t generation;
	uint64_t size;        /* total bytes, header included */
	uint64_t fleet_seed;  /* seeds the Maglev flow hash; same on every host */

	/* Output: Ethernet and encapsulation parameters. */
	uint8_t src_mac[6];   /* our port's MAC */
	uint8_t gw_mac[6];    /* default next hop */
	uint8_t src4[4];      /* outer IPv4 source prefix (entropy in the host bits) */
	uint8_t src6[16];     /* outer IPv6 source prefix */
	uint8_t src4_plen;    /* prefix length, 0..32; host bits carry the flow hash */
	uint8_t src6_plen;    /* 0..128 */
	uint8_t ttl;          /* outer TTL / hop limit */
	uint8_t pad0;
	uint16_t gue_port;    /* host byte order; GUE destination port */
	uint16_t mtu;         /* largest outer IP packet we may send */
	uint32_t icmp_rate;   /* ICMP errors we may generate per second per worker */

	uint32_t n_vips;
	uint32_t vip_off;       /* n_vips struct keel_vip */
	uint32_t vip_hash_size; /* power of two */
	uint32_t vip_hash_off;  /* vip_hash_size uint16_t: 0 = empty, else VIP index + 1 */
	uint32_t n_backends;    /* backend array length: highest id + 1 */
	uint32_t backend_off;   /* n_backends struct keel_backend, indexed by stable id */
	uint32_t pad1;

	/*
	 * Next hops (next_hop.h). gw_mac is next_hop[0]'s MAC, the one every
	 * backend template carries; with more than one usable next hop the
	 * pipeline rewrites it per flow from next_hop_slot (indexes into
	 * next_hop[]). 0: none known (gw_mac as given), 1: gw_mac alone.
	 */
	uint32_t n_next_hops;
	uint8_t next_hop_ports; /* 1: some next hop names its port (port != 0); 0: none does */
	uint8_t pad2[3];
	struct keel_next_hop next_hop[KEEL_MAX_NEXT_HOPS];
	uint8_t next_hop_slot[KEEL_NEXT_HOP_SLOTS];
};

static inline const struct keel_vip *keel_snapshot_vips(const struct keel_snapshot *s)
{
	return (const struct keel_vip *)((const uint8_t *)s + s->vip_off);
}

static inline const struct keel_backend *keel_snapshot_backends(const struct keel_snapshot *s)
{
	return (const struct keel_backend *)((const uint8_t *)s + s->backend_off);
}

static inline const uint16_t *keel_snapshot_table(const struct keel_snapshot *s,
						  const struct keel_vip *v)
{
	return (const uint16_t *)((const uint8_t *)s + v->table_off);
}

/* The VIP's previous-owner table (second chance), or NULL when it has none. */
static inline const uint16_t *keel_snapshot_prev(const struct keel_snapshot *s, const struct keel_vip *v)
{
	return v->prev_off ? (const uint16_t *)((const uint8_t *)s + v->prev_off) : NULL;
}

static inline const uint16_t *keel_snapshot_vip_hash(const struct keel_snapshot *s)
{
	return (const uint16_t *)((const uint8_t *)s + s->vip_hash_off);
}

/*
 * Whether a validated snapshot has backend id backend, on the VIP of stable
 * id vip_id: what a tracked flow adopted from an earlier process must name
 * to be kept (its state may be anything: draining or down backends keep or
 * re-choose their flows in the pipeline).
 */
static inline int keel_snapshot_has_backend_on(const struct keel_snapshot *s, uint16_t backend, uint16_t vip_id)
{
	const struct keel_backend *be;

	if (backend >= s->n_backends)
		return 0;
	be = &keel_snapshot_backends(s)[backend];
	return be->state != KEEL_BACKEND_UNUSED && be->vip < s->n_vips &&
	       keel_snapshot_vips(s)[be->vip].id == vip_id;
}

/* Checksum of a snapshot blob (checksum field taken as zero). */
uint32_t keel_snapshot_checksum(const struct keel_snapshot *s);

/*
 * Full validation before a worker trusts a snapshot: magic, ABI, size,
 * checksum, every offset and index in bounds, table sizes prime, table
 * entries valid backend ids of the right VIP. Returns 0 or -EINVAL and, when
 * why is not NULL, a static string saying what was wrong.
 */
int keel_snapshot_validate(const struct keel_snapshot *s, size_t avail, const char **why);

/*
 * The same validation spread over calls, for a worker that must not stop
 * forwarding for the whole of it (1000 VIPs at M = 65537: 65 M slots and a
 * 130 MB checksum, 100-300 ms in one go). Each step does about budget units
 * of work (a unit: 8 bytes of checksum, a table slot, a VIP hash entry; a
 * backend is 16) in keel_snapshot_validate's order, so the verdict and the
 * reason are the same. Returns 1 while there is more to check, then 0
 * (valid) or -EINVAL with *why set, and the same again if called after.
 * The snapshot must not change between start and the verdict.
 */
struct keel_snapshot_check {
	const struct keel_snapshot *s;
	size_t avail;
	uint32_t stage;      /* enum check_stage (snapshot.c) */
	uint32_t i, j;       /* entry, VIP or backend; slot in a table */
	int result;
	const char *reason;
	uint64_t pos, a, b;  /* checksum: bytes summed, its two sums */
};

void keel_snapshot_check_start(struct keel_snapshot_check *c, const struct keel_snapshot *s, size_t avail);
int keel_snapshot_check_step(struct keel_snapshot_check *c, uint32_t budget, const char **why);

#endif
