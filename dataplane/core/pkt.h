/* Per-packet metadata shared by every stage of the packet core, and the byte-buffer view of a frame. */
#ifndef KEEL_CORE_PKT_H
#define KEEL_CORE_PKT_H

#include <stdint.h>

#define KEEL_AF_INET4 4
#define KEEL_AF_INET6 6

#define KEEL_PROTO_ICMP 1
#define KEEL_PROTO_TCP 6
#define KEEL_PROTO_UDP 17
#define KEEL_PROTO_ICMPV6 58

/*
 * A connection's identity as the client sent it. Compared and hashed as 40
 * raw bytes, so every unused byte (IPv4's last 12 address bytes, pad) must be
 * zero. Ports are in network byte order; they are zero for ICMP and for
 * non-first fragments.
 */
struct keel_flow_key {
	uint8_t src[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t family; /* KEEL_AF_INET4 or KEEL_AF_INET6 */
	uint16_t pad;
};

_Static_assert(sizeof(struct keel_flow_key) == 40, "flow key is hashed as 5 words");

/* keel_pkt.flags */
#define KEEL_PKT_VLAN (1u << 0)        /* one 802.1Q tag present, vlan_tci valid */
#define KEEL_PKT_NOT_IP (1u << 1)      /* not IPv4/IPv6: for the kernel, not a drop */
#define KEEL_PKT_FRAG (1u << 2)        /* a fragment (first or later) */
#define KEEL_PKT_FRAG_LATER (1u << 3)  /* a non-first fragment: no L4 header, ports 0 */
#define KEEL_PKT_DF (1u << 4)          /* IPv4 don't-fragment bit set */
#define KEEL_PKT_ICMP_ERROR (1u << 5)  /* ICMP/ICMPv6 error; quoted packet at l4_off + 8 */
/*
 * The source is valid only on the local link (IPv6 ::, fe80::/10, IPv4
 * 169.254/16) or never on an IPv6 wire (IPv4-mapped ::ffff:0:0/96): the host
 * behind the exception path may get it (DAD, neighbour discovery), a VIP
 * never does. keel_parse_source_reason() names why.
 */
#define KEEL_PKT_SRC_SCOPED (1u << 6)

/* TCP flag bits as on the wire (keel_pkt.tcp_flags). */
#define KEEL_TCP_FIN 0x01
#define KEEL_TCP_SYN 0x02
#define KEEL_TCP_RST 0x04
#define KEEL_TCP_ACK 0x10

/*
 * What the parser learned about a frame. Offsets are from the first byte of
 * the Ethernet header. l3_len is the IP datagram length the header claims
 * (IPv4 total length, or 40 + IPv6 payload length); Ethernet padding past it
 * is not part of the packet.
 */
struct keel_pkt {
	struct keel_flow_key key;
	uint16_t l3_off;
	uint16_t l4_off;  /* first byte after IP and extension headers */
	uint16_t l3_len;
	uint16_t vlan_tci;
	uint8_t flags;    /* KEEL_PKT_* */
	uint8_t tcp_flags;
	uint8_t tos;      /* IPv4 TOS or IPv6 traffic class (DSCP + ECN) */
	uint8_t ttl;      /* IPv4 TTL or IPv6 hop limit */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t vip;     /* index into the snapshot's VIP array, set by classify */
};

/*
 * The port a burst arrived on, as its runtime knows it: the per-port context
 * of keel_pipeline_burst. Only frames to mac (and, for the exception path,
 * the link's broadcast and multicast) are Keel's, and Keel's own answers are
 * sent from it (RFC 1812 5.3.4; a router never speaks with another MAC).
 */
struct keel_port {
	uint8_t mac[6];  /* the port's own unicast MAC */
	uint16_t mtu;    /* largest IP packet the port sends: longer echo replies are dropped */
};

/*
 * A frame in a contiguous buffer. Stages may grow it at the front into the
 * headroom (encapsulation) or rewrite and shorten it (ICMP replies); the
 * runtime's adapter copies data/len back into its own buffer descriptor.
 */
struct keel_buf {
	uint8_t *data;
	uint16_t len;
	uint16_t headroom; /* bytes writable before data */
	uint16_t tailroom; /* bytes writable after data + len */
	/*
	 * The port a forwarded frame leaves by, as keel_next_hop.port (0: the
	 * RX port's TX port). Written only, and then for every forwarded
	 * frame, when the snapshot's next_hop_ports is set; else not written.
	 */
	uint8_t port;
};

#endif
