/* Map keys, values, pinned names and counter indices shared by Keel's XDP programs and the user space that fills and reads their maps. */
#ifndef KEEL_BPF_H
#define KEEL_BPF_H

/*
 * Included by the BPF programs (clang -target bpf, with <linux/types.h>) and
 * by user space (keel-decap, keel-control, tests). Only fixed-width kernel
 * types, no padding the compiler could choose differently on either side.
 */
#include <linux/types.h>

#define KEEL_BPF_AF_INET4 4 /* same values as the packet core's KEEL_AF_INET4/6 */
#define KEEL_BPF_AF_INET6 6

#define KEEL_BPF_MAX_VIPS 1024   /* as KEEL_MAX_VIPS in dataplane/core/snapshot.h */
#define KEEL_BPF_MAX_ADDRS 1024  /* VIP addresses (steer) or local / VIP addresses (decap) */
#define KEEL_BPF_MAX_QUEUES 64   /* xsks_map entries: RX queue indices the PMD may bind */

#define KEEL_BPF_GUE_DEFAULT_PORT 6080 /* as ENCAP_GUE_DEFAULT_PORT */

/*
 * A VIP as the steering program looks it up: (dst address, dst port, proto).
 * A VIP for all ports has port 0. Unused address bytes (IPv4's last 12) are
 * zero. 20 bytes, no padding.
 */
struct keel_bpf_vip_key {
	__u8 addr[16];  /* IPv4 in the first 4 bytes */
	__be16 port;    /* network byte order; 0 = all ports */
	__u8 proto;     /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;    /* KEEL_BPF_AF_INET4 or KEEL_BPF_AF_INET6 */
};

/* An address on its own: steer's VIP addresses, decap's local and VIP addresses. 20 bytes. */
struct keel_bpf_addr_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];    /* zero */
};

/* keel_steer_vips value. */
struct keel_bpf_vip_val {
	__u32 flags;    /* reserved, 0 */
};

/* keel_steer_addrs value: which protocols on this address take fragments (KEEL_VIP_FRAGMENTS). */
#define KEEL_BPF_ADDR_FRAG_TCP (1u << 0)
#define KEEL_BPF_ADDR_FRAG_UDP (1u << 1)

struct keel_bpf_addr_val {
	__u32 flags;    /* KEEL_BPF_ADDR_* */
};

/* One counter slot, per CPU; readers sum over CPUs. */
struct keel_bpf_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * Steering maps. The af_xdp PMD opens steer.bpf.o itself (xdp_prog=) with
 * default libbpf options, so these maps are pinned by name in /sys/fs/bpf
 * (LIBBPF_PIN_BY_NAME): a second load reuses them, and keel-control fills
 * them through those paths whatever process loaded the program. Names are
 * at most 15 characters (BPF_OBJ_NAME_LEN).
 *
 * keel_steer_vips:  keel_bpf_vip_key  -> keel_bpf_vip_val, one entry per VIP.
 * keel_steer_addrs: keel_bpf_addr_key -> keel_bpf_addr_val, one entry per
 *                   distinct VIP address (ICMP echo/errors and fragments are
 *                   steered by address); flags OR-ed over its VIPs.
 * keel_steer_cnt:   per-CPU array of keel_bpf_counter, KEEL_STEER_MAX slots.
 * xsks_map:         XSKMAP, RX queue index -> AF_XDP socket; the name the
 *                   af_xdp PMD looks for, filled by the PMD.
 */
#define KEEL_STEER_PIN_DIR "/sys/fs/bpf"
#define KEEL_STEER_MAP_VIPS "keel_steer_vips"
#define KEEL_STEER_MAP_ADDRS "keel_steer_addrs"
#define KEEL_STEER_MAP_COUNTERS "keel_steer_cnt"

/*
 * Steering verdicts, one counter each; every packet counts in exactly one.
 * X-macro so the enum and the stable names (metrics labels) cannot drift.
 */
#define KEEL_STEER_VERDICTS(X)                                                         \
	X(PASS_NOT_IP, "pass_not_ip")             /* ARP, LLDP, stacked VLANs, ... */  \
	X(PASS_MALFORMED, "pass_malformed")       /* truncated headers: the kernel judges */ \
	X(PASS_NOT_VIP, "pass_not_vip")           /* SSH, BGP, ND, health-check replies */ \
	X(REDIRECT_VIP, "redirect_vip")           /* TCP/UDP to a VIP */               \
	X(REDIRECT_ICMP, "redirect_icmp")         /* echo request or error to a VIP address */ \
	X(REDIRECT_FRAGMENT, "redirect_fragment") /* fragment for a VIP that takes them */ \
	X(PASS_NO_XSK, "pass_no_xsk")             /* steered, but no socket on this queue */

#define KEEL_BPF_ENUM_STEER(name, str) KEEL_STEER_##name,
enum keel_steer_verdict {
	KEEL_STEER_VERDICTS(KEEL_BPF_ENUM_STEER)
	KEEL_STEER_MAX
};
#undef KEEL_BPF_ENUM_STEER

/*
 * Decapsulation maps, pinned by keel-decap under /sys/fs/bpf/keel-decap-IFACE/.
 *
 * keel_decap_local: keel_bpf_addr_key -> __u32 (unused, 1): this host's
 *                   addresses, the outer destinations Keel encapsulates to.
 * keel_decap_vips:  keel_bpf_addr_key -> __u32 (unused, 1): VIP addresses
 *                   served here (bound on lo).
 * keel_decap_cnt:   per-CPU array of keel_bpf_counter, KEEL_DECAP_MAX slots.
 */
#define KEEL_DECAP_PIN_FMT "/sys/fs/bpf/keel-decap-%s"
#define KEEL_DECAP_MAP_LOCAL "keel_decap_local"
#define KEEL_DECAP_MAP_VIPS "keel_decap_vips"
#define KEEL_DECAP_MAP_COUNTERS "keel_decap_cnt"
/*
 * keel_decap_peers: keel_bpf_addr_key -> __u32 (unused, 1): the other
 *                   backends this host may hand a connection on to (second
 *                   chance, docs/second-chance.md); filled from keel-decap's
 *                   --peer options. A previous owner not in it is never sent to.
 */
#define KEEL_DECAP_MAP_PEERS "keel_decap_peers"

/* The GUE header and second chance's private data in it: dataplane/core/wire.h, shared with the sender. */

/* Decapsulation verdicts, one counter each; every packet counts in exactly one. */
#define KEEL_DECAP_VERDICTS(X)                                                         \
	X(PASS_NOT_IP, "pass_not_ip")                                                  \
	X(PASS_NOT_LOCAL, "pass_not_local")       /* outer destination not ours */     \
	X(PASS_NOT_ENCAP, "pass_not_encap")       /* ours, but not IPIP/GUE: untouched */ \
	X(PASS_OUTER_FRAGMENT, "pass_outer_fragment") /* left to the kernel's reassembly */ \
	X(DECAP_IPIP, "decap_ipip")               /* IPIP, 6in4, 4in6, 6in6 stripped */ \
	X(DECAP_GUE, "decap_gue")                 /* GUE over UDP stripped */          \
	X(DECAP_SC_LOCAL, "decap_sc_local")       /* previous owner carried, local socket: ours */ \
	X(DECAP_SC_NO_PEER, "decap_sc_no_peer")   /* no socket; previous owner not a peer: kernel decides */ \
	X(DECAP_SC_LOOP, "decap_sc_loop")         /* no socket; already handed on once: kernel decides */ \
	X(DECAP_SC_NO_ROUTE, "decap_sc_no_route") /* no socket; no route on this port to the peer */ \
	X(TX_SECOND_CHANCE, "tx_second_chance")   /* re-encapsulated to the previous owner (XDP_TX) */ \
	X(FWD_SECOND_CHANCE, "fwd_second_chance") /* the same, but the kernel forwards it: no neighbour entry yet */ \
	X(DROP_OUTER_TRUNCATED, "drop_outer_truncated")                                \
	X(DROP_OUTER_CHECKSUM, "drop_outer_checksum")                                  \
	X(DROP_OUTER_EXTHDR, "drop_outer_exthdr") /* IPv6 extension headers before the tunnel */ \
	X(DROP_GUE_VERSION, "drop_gue_version")                                        \
	X(DROP_GUE_HEADER, "drop_gue_header")     /* control bit, options or inner protocol */ \
	X(DROP_INNER_TRUNCATED, "drop_inner_truncated")                                \
	X(DROP_INNER_MALFORMED, "drop_inner_malformed") /* version/IHL/length wrong */ \
	X(DROP_INNER_NOT_VIP, "drop_inner_not_vip")                                    \
	X(DROP_ECN, "drop_ecn")                   /* outer CE over not-ECT inner, RFC 6040 4.2 */ \
	X(DROP_ADJUST, "drop_adjust")             /* bpf_xdp_adjust_head/tail refused */

#define KEEL_BPF_ENUM_DECAP(name, str) KEEL_DECAP_##name,
enum keel_decap_verdict {
	KEEL_DECAP_VERDICTS(KEEL_BPF_ENUM_DECAP)
	KEEL_DECAP_MAX
};
#undef KEEL_BPF_ENUM_DECAP

/* Verdicts from here to KEEL_DECAP_MAX are XDP_DROP; the others XDP_PASS. */
#define KEEL_DECAP_FIRST_DROP KEEL_DECAP_DROP_OUTER_TRUNCATED

#endif
