/* The parse stage as one table of crafted frames (lib/pkt_case.h): the verdict and metadata of every branch, one row each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drop.h"
#include "parse.h"
#include "parsefix.h"
#include "pkt.h"
#include "pkt_case.h"
#include "pktgen.h"

#define TCP4(...)                                                                              \
	{ .family = 4, .src = "198.51.100.7", .dst = "203.0.113.10", .proto = KEEL_PROTO_TCP,  \
	  .sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_SYN, .payload_len = 0, .ttl = 57, \
	  .tos = 0xb8, __VA_ARGS__ }
#define TCP6(...)                                                                              \
	{ .family = 6, .src = "2001:db8::7", .dst = "2001:db8:1::10", .proto = KEEL_PROTO_TCP, \
	  .sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_ACK, .payload_len = 10, .ttl = 33, \
	  .tos = 0x2e, __VA_ARGS__ }

/* The stage: parsefix_parse() on the row's frame (its own checks included). */
static int parse_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	(void)c, (void)ctx;
	return parsefix_parse(b->data, b->len, p);
}

static void not_scoped(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)b, (void)ctx;
	assert_false(p->flags & KEEL_PKT_SRC_SCOPED);
}

static void link_local(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)b, (void)ctx;
	assert_true(p->flags & KEEL_PKT_SRC_SCOPED);
	assert_int_equal(keel_parse_source_reason(p), KEEL_DROP_IP4_SRC_LINK_LOCAL);
}

#define TCP_FLAGS_ROWS(f)                                                                      \
	{ .what = "tcp4 flags " #f, .in = TCP4(.tcp_flags = (f)), .want = KEEL_DROP_NONE,      \
	  .pkt = { .has = PM_TCP_FLAGS, .tcp_flags = (f) } },                                  \
	{ .what = "tcp6 flags " #f, .in = TCP6(.tcp_flags = (f)), .want = KEEL_DROP_NONE,      \
	  .pkt = { .has = PM_TCP_FLAGS, .tcp_flags = (f) } }

#define L2_SHORT(n) { .what = "frame of " #n " bytes", .in = TCP4(), .len = PKT_LEN(n), .want = KEEL_DROP_L2_TRUNCATED }
#define TAG_SHORT(n)                                                                           \
	{ .what = "tagged frame of " #n " bytes", .in = TCP4(.vlan = 10), .len = PKT_LEN(n),   \
	  .want = KEEL_DROP_VLAN_TRUNCATED }
#define IHL(n) { .what = "IHL " #n, .in = TCP4(), .edit = { SET8(14, 0x40 | (n)) }, .want = KEEL_DROP_IP4_IHL }
#define BAD4(a) { .what = "source " a, .in = TCP4(.src = a), .want = KEEL_DROP_IP4_BAD_SOURCE }
#define GOOD4(a)                                                                               \
	{ .what = "source " a, .in = TCP4(.src = a), .want = KEEL_DROP_NONE,                   \
	  .pkt = { .has = PM_SRC }, .check = not_scoped }
#define LINK4(a)                                                                               \
	{ .what = "link-local source " a, .in = TCP4(.src = a), .want = KEEL_DROP_NONE,        \
	  .check = link_local }

static void frame_of_42(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(b->len, 14 + 28);
}

static void frame_of_64(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(b->len, 64);
}

static const uint8_t l4_zero[64];
static const uint8_t l4_type1[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };

/* One byte short of the L4 header; then no L4 byte at all (total length 20, the rest padding); then over IPv6. */
#define L4_SHORT(pr4, pr6, need)                                                                 \
	{ .what = "L4 " #pr4 " one byte short", .in = TCP4(.proto = (pr4), .l4_override = l4_zero,  \
	  .l4_override_len = (need) - 1), .want = KEEL_DROP_L4_TRUNCATED },                      \
	{ .what = "L4 " #pr4 " absent", .in = TCP4(.proto = (pr4), .l4_override = l4_zero,         \
	  .l4_override_len = (need) - 1), .edit = { SET16(16, 20), IP4_CSUM(14) },                 \
	  .want = KEEL_DROP_L4_TRUNCATED },                                                        \
	{ .what = "L4 " #pr6 " one byte short, ipv6", .in = TCP6(.proto = (pr6), .l4_override = l4_zero, \
	  .l4_override_len = (need) - 1), .want = KEEL_DROP_L4_TRUNCATED }
#define DOFF(n) { .what = "TCP data offset " #n, .in = TCP4(), .edit = { SET8(34 + 12, (n) << 4) }, \
		  .want = KEEL_DROP_TCP_DATA_OFFSET }
#define UDP_LEN4(n, w) { .what = "UDP length " #n " of 28", .in = TCP4(.proto = KEEL_PROTO_UDP, .payload_len = 20), \
			 .edit = { SET16(34 + 4, (n)) }, .want = (w) }
#define ICMP4(t, err)                                                                            \
	{ .what = "ICMP type " #t, .in = TCP4(.proto = KEEL_PROTO_ICMP, .icmp_type = (t), .icmp_code = 4, \
	  .payload_len = 28), .want = KEEL_DROP_NONE,                                              \
	  .pkt = { .has = PM_PROTO | PM_ICMP_TYPE | PM_ICMP_CODE | PM_SPORT | PM_DPORT | PM_L4_OFF | PM_FLAGS, \
		   .proto = KEEL_PROTO_ICMP, .icmp_type = (t), .icmp_code = 4, .l4_off = 34, .flags = (err) } }
#define ICMP6(t, err)                                                                            \
	{ .what = "ICMPv6 type " #t, .in = TCP6(.proto = KEEL_PROTO_ICMPV6, .icmp_type = (t), .icmp_code = 1, \
	  .payload_len = 48), .want = KEEL_DROP_NONE,                                              \
	  .pkt = { .has = PM_PROTO | PM_FAMILY | PM_ICMP_TYPE | PM_ICMP_CODE | PM_SPORT | PM_DPORT | PM_FLAGS, \
		   .proto = KEEL_PROTO_ICMPV6, .family = KEEL_AF_INET6, .icmp_type = (t), .icmp_code = 1, \
		   .flags = (err) } }

/* ARP to broadcast from the client, its body 28 bytes that look like IPv4 headers, zero after. */
/* IPv6 sources: refused, accepted, accepted but flagged as scoped (the host may get them, a VIP never does: issue 14 item 3). */
static void unscoped6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)b, (void)ctx;
	assert_false(p->flags & KEEL_PKT_SRC_SCOPED);
	assert_int_equal(keel_parse_source_reason(p), KEEL_DROP_NONE);
}

static void scoped6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)b, (void)ctx;
	assert_true(p->flags & KEEL_PKT_SRC_SCOPED);
	assert_int_equal(keel_parse_source_reason(p), *(const enum keel_drop *)c->arg);
}

static const enum keel_drop src_unspecified = KEEL_DROP_IP6_SRC_UNSPECIFIED;
static const enum keel_drop src_link_local = KEEL_DROP_IP6_SRC_LINK_LOCAL;
static const enum keel_drop src_v4mapped = KEEL_DROP_IP6_SRC_V4MAPPED;

#define BAD6(a) { .what = "source " a, .in = TCP6(.src = a), .want = KEEL_DROP_IP6_BAD_SOURCE }
#define GOOD6(a)                                                                               \
	{ .what = "source " a, .in = TCP6(.src = a), .want = KEEL_DROP_NONE, .pkt = { .has = PM_SRC }, \
	  .check = unscoped6 }
#define SCOPED6(a, r)                                                                          \
	{ .what = "scoped source " a, .in = TCP6(.src = a), .want = KEEL_DROP_NONE, .pkt = { .has = PM_SRC }, \
	  .arg = &(r), .check = scoped6 }

static const uint8_t arp_frame[64] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
	0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
	0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
};

static const struct pkt_case parse_cases[] = {
	/* Transport basics. */
	TCP_FLAGS_ROWS(KEEL_TCP_SYN), TCP_FLAGS_ROWS(KEEL_TCP_SYN | KEEL_TCP_ACK),
	TCP_FLAGS_ROWS(KEEL_TCP_FIN | KEEL_TCP_ACK), TCP_FLAGS_ROWS(KEEL_TCP_RST),
	TCP_FLAGS_ROWS(KEEL_TCP_RST | KEEL_TCP_ACK), TCP_FLAGS_ROWS(0xc2 /* CWR|ECE|SYN */),
	TCP_FLAGS_ROWS(0xff),
	{ .what = "ipv4 udp", .in = TCP4(.proto = KEEL_PROTO_UDP, .sport = 5353, .dport = 53, .payload_len = 100),
	  .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_PROTO | PM_SPORT | PM_DPORT | PM_L4_OFF | PM_L3_LEN | PM_TCP_FLAGS | PM_FLAGS,
		   .proto = KEEL_PROTO_UDP, .sport = 5353, .dport = 53, .l4_off = 34, .l3_len = 20 + 8 + 100 } },

	/* Ethernet and VLAN. The whole TCI is kept (PCP 5, DEI 0, VID 100). */
	{ .what = "vlan ipv4", .in = TCP4(.vlan = 0xa064), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_VLAN_TCI | PM_L3_OFF | PM_L4_OFF | PM_DPORT,
		   .flags = KEEL_PKT_VLAN, .vlan_tci = 0xa064, .l3_off = 18, .l4_off = 38, .dport = 443 } },
	{ .what = "vlan ipv6", .in = TCP6(.vlan = 7), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_VLAN_TCI | PM_L3_OFF | PM_L4_OFF | PM_FAMILY,
		   .flags = KEEL_PKT_VLAN, .vlan_tci = 7, .l3_off = 18, .l4_off = 58, .family = KEEL_AF_INET6 } },
	/* IEEE 802.1Q 9.6: VID 4095 is reserved, whatever the priority; VID 0 is a priority tag. */
	{ .what = "VID 4095", .in = TCP4(.vlan = 0xefff), .want = KEEL_DROP_VLAN_RESERVED },
	{ .what = "VID 0 (pktgen skips a zero TCI: tagged by hand)", .in = TCP4(.vlan = 0xefff),
	  .edit = { SET8(14, 0xe0), SET8(15, 0x00) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_VLAN_TCI, .vlan_tci = 0xe000 } },
	/* A second tag where the inner ethertype should be. */
	{ .what = "stacked 8100", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x8100) }, .want = KEEL_DROP_VLAN_STACKED },
	{ .what = "stacked 88a8", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x88a8) }, .want = KEEL_DROP_VLAN_STACKED },
	{ .what = "stacked 9100", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x9100) }, .want = KEEL_DROP_VLAN_STACKED },
	/* An outer 802.1ad S-tag (or the old 0x9100) is stacked even before its C-tag is read. */
	{ .what = "outer S-tag", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x9100), SET16(12, 0x88a8) },
	  .want = KEEL_DROP_VLAN_STACKED },
	{ .what = "outer S-tag, 14 bytes", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x9100), SET16(12, 0x88a8) },
	  .len = PKT_LEN(14), .want = KEEL_DROP_VLAN_STACKED },
	{ .what = "outer 9100 tag", .in = TCP4(.vlan = 10), .edit = { SET16(16, 0x9100), SET16(12, 0x9100) },
	  .want = KEEL_DROP_VLAN_STACKED },
	L2_SHORT(0), L2_SHORT(1), L2_SHORT(2), L2_SHORT(3), L2_SHORT(4), L2_SHORT(5), L2_SHORT(6),
	L2_SHORT(7), L2_SHORT(8), L2_SHORT(9), L2_SHORT(10), L2_SHORT(11), L2_SHORT(12), L2_SHORT(13),
	TAG_SHORT(14), TAG_SHORT(15), TAG_SHORT(16), TAG_SHORT(17),
	{ .what = "tag complete, IPv4 header missing", .in = TCP4(.vlan = 10), .len = PKT_LEN(18),
	  .want = KEEL_DROP_IP4_TRUNCATED, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_VLAN } },
	/* ARP: its body looks like nothing the parser reads. */
	{ .what = "ARP", .raw = arp_frame, .raw_len = sizeof(arp_frame), .len = PKT_LEN(42), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_L3_OFF | PM_PROTO | PM_FAMILY, .flags = KEEL_PKT_NOT_IP, .l3_off = 14 } },
	/* Only the Ethernet header: still not malformed, just not ours. */
	{ .what = "ARP, Ethernet header only", .raw = arp_frame, .raw_len = sizeof(arp_frame), .len = PKT_LEN(14),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_NOT_IP } },
	{ .what = "tagged LLDP", .raw = arp_frame, .raw_len = sizeof(arp_frame),
	  .edit = { SET16(12, 0x8100), SET16(14, 42), SET16(16, 0x88cc) }, .len = PKT_LEN(60), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_VLAN_TCI | PM_L3_OFF, .flags = KEEL_PKT_NOT_IP | KEEL_PKT_VLAN,
		   .vlan_tci = 42, .l3_off = 18 } },
	{ .what = "802.3 length field (STP over LLC)", .raw = arp_frame, .raw_len = sizeof(arp_frame),
	  .edit = { SET16(12, 0x0026), SET16(14, 42), SET16(16, 0x88cc) }, .len = PKT_LEN(60), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_NOT_IP } },

	/* IPv4 header validation, RFC 1812 5.2.2. */
	{ .what = "19 bytes of IPv4", .in = TCP4(), .len = PKT_LEN(14 + 19), .want = KEEL_DROP_IP4_TRUNCATED },
	{ .what = "no IPv4 byte", .in = TCP4(), .len = PKT_LEN(14), .want = KEEL_DROP_IP4_TRUNCATED },
	{ .what = "IHL 15 while only 40 bytes follow", .in = TCP4(), .edit = { SET8(14, 0x4f) },
	  .want = KEEL_DROP_IP4_TRUNCATED },
	{ .what = "version 6 in IPv4", .in = TCP4(), .edit = { SET8(14, 0x65), IP4_CSUM(14) }, .want = KEEL_DROP_IP4_VERSION },
	{ .what = "IPv6 behind the IPv4 ethertype", .in = TCP6(), .edit = { SET16(12, 0x0800) },
	  .want = KEEL_DROP_IP4_VERSION },
	IHL(0), IHL(1), IHL(2), IHL(3), IHL(4),
	{ .what = "total length shorter than the header", .in = TCP4(), .edit = { SET16(16, 19), IP4_CSUM(14) },
	  .want = KEEL_DROP_IP4_TOTAL_LENGTH },
	{ .what = "total length one past the frame", .in = TCP4(), .edit = { SET16(16, 54 - 14 + 1), IP4_CSUM(14) },
	  .want = KEEL_DROP_IP4_TOTAL_LENGTH },
	{ .what = "total length the header alone: TCP missing", .in = TCP4(), .edit = { SET16(16, 20), IP4_CSUM(14) },
	  .want = KEEL_DROP_L4_TRUNCATED },
	{ .what = "frame one byte short of the total length", .in = TCP4(), .len = PKT_LESS(1),
	  .want = KEEL_DROP_IP4_TOTAL_LENGTH },
	{ .what = "checksum flipped", .in = TCP4(), .edit = { XOR8(24, 0x01) }, .want = KEEL_DROP_IP4_CHECKSUM },
	{ .what = "TTL changed without the checksum", .in = TCP4(), .edit = { SUB8(22, 1) }, .want = KEEL_DROP_IP4_CHECKSUM },
	{ .what = "options", .in = TCP4(.ip4_opt_len = 8), .want = KEEL_DROP_NONE },
	{ .what = "the checksum covers the options", .in = TCP4(.ip4_opt_len = 8), .edit = { XOR8(14 + 21, 0x80) },
	  .want = KEEL_DROP_IP4_CHECKSUM },
	/* An all-zero checksum on a header that is not all ones is wrong, not "unset". */
	{ .what = "zero checksum", .in = TCP4(.ip4_opt_len = 8), .edit = { SET8(24, 0), SET8(25, 0) },
	  .want = KEEL_DROP_IP4_CHECKSUM },
	BAD4("0.0.0.0"), BAD4("0.1.2.3"), BAD4("127.0.0.1"), BAD4("127.255.255.254"), BAD4("224.0.0.1"),
	BAD4("239.255.255.255"), BAD4("240.0.0.1"), BAD4("250.1.2.3"), BAD4("255.255.255.255"),
	GOOD4("1.0.0.1"), GOOD4("10.0.0.1"), GOOD4("126.255.255.255"), GOOD4("128.0.0.1"),
	GOOD4("223.255.255.255"), GOOD4("192.0.2.255"), GOOD4("169.253.255.255"), GOOD4("169.255.0.1"),
	GOOD4("168.254.0.1"),
	/* RFC 3927 7: accepted for the host, flagged so a VIP refuses it (issue 14 item 3). */
	LINK4("169.254.0.0"), LINK4("169.254.10.1"), LINK4("169.254.255.255"),
	/* Multicast or broadcast destinations are not the parser's concern. */
	{ .what = "multicast destination", .in = TCP4(.dst = "224.0.0.5"), .want = KEEL_DROP_NONE },

	/* IPv4 fragments. */
	{ .what = "first TCP fragment", .in = TCP4(.more_frags = true, .payload_len = 64), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_SPORT | PM_DPORT | PM_TCP_FLAGS, .flags = KEEL_PKT_FRAG,
		   .sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_SYN } },
	/* A first UDP fragment: the UDP length covers the whole datagram, not this piece. */
	{ .what = "first UDP fragment", .in = TCP4(.proto = KEEL_PROTO_UDP, .more_frags = true, .payload_len = 64),
	  .edit = { SET16(34 + 4, 3000) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_DPORT, .flags = KEEL_PKT_FRAG, .dport = 443 } },
	{ .what = "first UDP fragment, UDP length 7", .in = TCP4(.proto = KEEL_PROTO_UDP, .more_frags = true, .payload_len = 64),
	  .edit = { SET16(34 + 4, 7) }, .want = KEEL_DROP_UDP_LENGTH },
	/* A first fragment too short for the TCP header (RFC 1858). */
	{ .what = "first fragment short of TCP", .in = TCP4(.more_frags = true), .edit = { SET16(16, 20 + 16), IP4_CSUM(14) },
	  .want = KEEL_DROP_L4_TRUNCATED },
	/* Payload bytes where a TCP header would be must not become ports or flags. */
	{ .what = "later fragment", .in = TCP4(.frag_offset = 185 /* 1480 bytes in */, .more_frags = true, .payload_len = 40),
	  .edit = { FILL(34, 0x77, 20) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_PROTO | PM_SPORT | PM_DPORT | PM_TCP_FLAGS | PM_L4_OFF | PM_L3_LEN | PM_SRC,
		   .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER, .proto = KEEL_PROTO_TCP, .l4_off = 34,
		   .l3_len = 20 + 60 } },
	{ .what = "last fragment (MF clear), DF clear", .in = TCP4(.frag_offset = 185, .payload_len = 40),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER } },
	{ .what = "later ICMP fragment: no type from the payload",
	  .in = TCP4(.proto = KEEL_PROTO_ICMP, .icmp_type = 3, .frag_offset = 10, .payload_len = 8), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS | PM_ICMP_TYPE, .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER } },
	/* A later fragment with only 1 payload byte still parses (no L4 length rule). */
	{ .what = "later fragment of 1 byte", .in = TCP4(.proto = 47, .frag_offset = 10, .payload_len = 1),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_PROTO, .proto = 47 } },
	{ .what = "DF", .in = TCP4(.df = true), .want = KEEL_DROP_NONE, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_DF } },
	{ .what = "DF, tagged", .in = TCP4(.df = true, .vlan = 3), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_DF | KEEL_PKT_VLAN } },
	/* The reserved flag bit is ignored on receipt. */
	{ .what = "reserved flag bit", .in = TCP4(), .edit = { OR8(14 + 6, 0x80), IP4_CSUM(14) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS } },
	/* RFC 1858 tiny fragment: TCP at offset 8 bytes rewrites the first fragment's flags. */
	{ .what = "TCP at offset 8", .in = TCP4(.frag_offset = 1, .payload_len = 12), .want = KEEL_DROP_IP4_FRAG_OFFSET },
	{ .what = "TCP at offset 8, MF", .in = TCP4(.frag_offset = 1, .payload_len = 12, .more_frags = true),
	  .want = KEEL_DROP_IP4_FRAG_OFFSET },
	/* Offset 2 for TCP is fine, offset 1 for UDP is fine. */
	{ .what = "TCP at offset 16", .in = TCP4(.frag_offset = 2, .payload_len = 12, .more_frags = true),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER } },
	{ .what = "UDP at offset 8", .in = TCP4(.frag_offset = 1, .payload_len = 12, .more_frags = true, .proto = KEEL_PROTO_UDP),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER } },
	/* Ping of death: 8191 * 8 + 8 data bytes = 65536 > 65535. */
	{ .what = "ping of death", .in = TCP4(.proto = KEEL_PROTO_ICMP, .frag_offset = 8191, .payload_len = 0),
	  .want = KEEL_DROP_IP4_FRAG_OFFSET },
	/* 7 bytes of data at the same offset end exactly at 65535. */
	{ .what = "fragment ending at 65535", .in = TCP4(.proto = KEEL_PROTO_ICMP, .frag_offset = 8191, .payload_len = 0),
	  .edit = { SET16(16, 27), IP4_CSUM(14) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_FLAGS, .flags = KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER } },

	/* Transport headers. */
	L4_SHORT(KEEL_PROTO_TCP, KEEL_PROTO_TCP, 20), L4_SHORT(KEEL_PROTO_UDP, KEEL_PROTO_UDP, 8),
	L4_SHORT(KEEL_PROTO_ICMP, KEEL_PROTO_ICMPV6, 8),
	DOFF(0), DOFF(1), DOFF(2), DOFF(3), DOFF(4),
	{ .what = "60-byte TCP header claimed in a 20-byte segment", .in = TCP4(), .edit = { SET8(34 + 12, 0xf0) },
	  .want = KEEL_DROP_TCP_DATA_OFFSET },
	/* Options present and fully inside: 24-byte header in a 24-byte segment. */
	{ .what = "24-byte TCP header in 24 bytes", .in = TCP4(.payload_len = 4), .edit = { SET8(34 + 12, 0x60) },
	  .want = KEEL_DROP_NONE },
	{ .what = "28-byte TCP header in 24 bytes", .in = TCP4(.payload_len = 4), .edit = { SET8(34 + 12, 0x70) },
	  .want = KEEL_DROP_TCP_DATA_OFFSET },
	{ .what = "16-byte TCP header, ipv6", .in = TCP6(.payload_len = 0), .edit = { SET8(54 + 12, 0x40) },
	  .want = KEEL_DROP_TCP_DATA_OFFSET },
	UDP_LEN4(7, KEEL_DROP_UDP_LENGTH), UDP_LEN4(0, KEEL_DROP_UDP_LENGTH), UDP_LEN4(29, KEEL_DROP_UDP_LENGTH),
	UDP_LEN4(28, KEEL_DROP_NONE),
	/* Shorter than the IP payload is allowed (RFC 768 leaves the rest as IP padding). */
	{ .what = "UDP length 8 of 28", .in = TCP4(.proto = KEEL_PROTO_UDP, .payload_len = 20), .edit = { SET16(34 + 4, 8) },
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_SPORT, .sport = 40000 } },
	{ .what = "UDP length 29 of 28, ipv6", .in = TCP6(.proto = KEEL_PROTO_UDP, .payload_len = 20),
	  .edit = { SET16(54 + 4, 29) }, .want = KEEL_DROP_UDP_LENGTH },
	/* UDP length 0 is a jumbogram (RFC 2675) only; not supported. */
	{ .what = "UDP length 0, ipv6", .in = TCP6(.proto = KEEL_PROTO_UDP, .payload_len = 20),
	  .edit = { SET16(54 + 4, 0) }, .want = KEEL_DROP_UDP_LENGTH },
	ICMP4(0, 0), ICMP4(8, 0), ICMP4(3, KEEL_PKT_ICMP_ERROR), ICMP4(11, KEEL_PKT_ICMP_ERROR),
	ICMP4(12, KEEL_PKT_ICMP_ERROR), ICMP4(4, 0), ICMP4(5, 0), ICMP4(13, 0), ICMP4(200, 0),
	/* Exactly 8 bytes is enough. */
	{ .what = "ICMP header alone", .in = TCP4(.proto = KEEL_PROTO_ICMP, .icmp_type = 8), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_ICMP_TYPE, .icmp_type = 8 }, .check = frame_of_42 },
	ICMP6(1, KEEL_PKT_ICMP_ERROR), ICMP6(2, KEEL_PKT_ICMP_ERROR), ICMP6(3, KEEL_PKT_ICMP_ERROR),
	ICMP6(4, KEEL_PKT_ICMP_ERROR), ICMP6(0, 0), ICMP6(5, 0), ICMP6(127, 0), ICMP6(128, 0), ICMP6(129, 0),
	ICMP6(135, 0), ICMP6(136, 0),
	{ .what = "GRE", .in = TCP4(.proto = 47, .payload_len = 0), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_PROTO | PM_SPORT | PM_DPORT | PM_L4_OFF | PM_L3_LEN, .proto = 47, .l4_off = 34, .l3_len = 20 } },
	/* ICMPv6 over IPv4 means nothing: unknown protocol, no ICMP fields. */
	{ .what = "ICMPv6 over IPv4", .in = TCP4(.proto = KEEL_PROTO_ICMPV6, .l4_override = l4_type1, .l4_override_len = 8),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_ICMP_TYPE | PM_FLAGS } },
	{ .what = "ICMPv4 over IPv6", .in = TCP6(.proto = KEEL_PROTO_ICMP, .l4_override = l4_type1, .l4_override_len = 3),
	  .want = KEEL_DROP_NONE, .pkt = { .has = PM_PROTO | PM_ICMP_TYPE, .proto = KEEL_PROTO_ICMP } },
	{ .what = "SCTP", .in = TCP6(.proto = 132, .payload_len = 12), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_PROTO | PM_SPORT | PM_L4_OFF, .proto = 132, .l4_off = 54 } },

	/* Ethernet padding. A 40-byte SYN padded to the 60-byte Ethernet minimum, plus an FCS-like trailer. */
	{ .what = "padded SYN", .in = TCP4(.pad = 10), .edit = { FILL(54, 0xee, 10) }, .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_L3_LEN | PM_DPORT, .l3_len = 40, .dport = 443 }, .check = frame_of_64 },
	/* UDP: its length is checked against the datagram, not the padded frame. */
	{ .what = "padded UDP", .in = TCP4(.proto = KEEL_PROTO_UDP, .payload_len = 2, .pad = 16), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_L3_LEN, .l3_len = 30 } },
	/* UDP claims one byte more than the IP datagram holds; the pad bytes do not count. */
	{ .what = "UDP length into the pad", .in = TCP4(.proto = KEEL_PROTO_UDP, .payload_len = 2, .pad = 16),
	  .edit = { SET16(34 + 4, 11) }, .want = KEEL_DROP_UDP_LENGTH },
	/* TCP data offset reaching into the pad is refused. */
	{ .what = "TCP header into the pad", .in = TCP4(.pad = 20), .edit = { SET8(34 + 12, 0x60) },
	  .want = KEEL_DROP_TCP_DATA_OFFSET },
	{ .what = "padded ipv6", .in = TCP6(.pad = 7), .want = KEEL_DROP_NONE,
	  .pkt = { .has = PM_L3_LEN, .l3_len = 40 + 20 + 10 } },

	/* IPv6 header errors. */
	{ .what = "ipv6 header of 39 bytes", .in = TCP6(), .len = PKT_LEN(14 + 39), .want = KEEL_DROP_IP6_TRUNCATED },
	{ .what = "ipv6 frame of 14 bytes", .in = TCP6(), .len = PKT_LEN(14), .want = KEEL_DROP_IP6_TRUNCATED },
	/* Payload length one more than what the frame holds. */
	{ .what = "ipv6 payload length past the frame", .in = TCP6(), .len = PKT_LESS(1),
	  .want = KEEL_DROP_IP6_PAYLOAD_LENGTH },
	{ .what = "ipv6 payload length 0xffff", .in = TCP6(), .edit = { SET16(18, 0xffff) },
	  .want = KEEL_DROP_IP6_PAYLOAD_LENGTH },
	/* Payload length 0 (jumbogram marker) leaves no room for TCP. */
	{ .what = "ipv6 payload length 0", .in = TCP6(), .edit = { SET16(18, 0) }, .want = KEEL_DROP_L4_TRUNCATED },
	/* Version: 0x62 (version 6, traffic class 0x2e) becomes 0x42. */
	{ .what = "ipv6 header of version 4", .in = TCP6(), .edit = { SET8(14, 0x42) }, .want = KEEL_DROP_IP6_VERSION },
	{ .what = "ipv4 header under the ipv6 ethertype", .in = TCP4(.payload_len = 40), .edit = { SET16(12, 0x86dd) },
	  .want = KEEL_DROP_IP6_VERSION },

	/* IPv6 sources. */
	BAD6("ff02::1"), BAD6("ff0e::1234"), BAD6("ff00::"), BAD6("::1"),
	GOOD6("2001:db8::ff"), GOOD6("::2"), GOOD6("fe00::1"), GOOD6("fec0::1"), GOOD6("::1:0:0:1"),
	GOOD6("::fffe:1.2.3.4"), GOOD6("::ffff:0:1.2.3.4"), GOOD6("100::1"), GOOD6("fd00::1"),
	SCOPED6("::", src_unspecified), SCOPED6("fe80::1", src_link_local),
	SCOPED6("febf:ffff:ffff:ffff::1", src_link_local), SCOPED6("::ffff:198.51.100.7", src_v4mapped),
	SCOPED6("::ffff:0.0.0.0", src_v4mapped),
};

static void test_parse_cases(void **state)
{
	(void)state;
	pkt_case_run(PKT_CASES(parse_cases), parse_stage, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
