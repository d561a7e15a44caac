/* Unit tests for the parse stage: crafted frames, expected verdict and metadata per branch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drop.h"
#include "parse.h"
#include "pkt.h"
#include "pktgen.h"

#define BUF_CAP 2048
#define VIP_CANARY 0xa5a5

static const uint8_t zero16[16];

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static uint16_t get16(const uint16_t *netorder)
{
	const uint8_t *b = (const uint8_t *)netorder;

	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Invariants every accepted IP packet must satisfy, whatever the input. */
static void check_accepted(const uint8_t *frame, size_t len, const struct keel_pkt *p)
{
	(void)frame;
	assert_int_equal(p->key.pad, 0);
	if (p->flags & KEEL_PKT_NOT_IP) {
		assert_memory_equal(p->key.src, zero16, 16);
		assert_memory_equal(p->key.dst, zero16, 16);
		assert_int_equal(p->key.family, 0);
		return;
	}
	assert_true(p->key.family == KEEL_AF_INET4 || p->key.family == KEEL_AF_INET6);
	if (p->key.family == KEEL_AF_INET4) {
		assert_memory_equal(p->key.src + 4, zero16, 12);
		assert_memory_equal(p->key.dst + 4, zero16, 12);
	}
	assert_true(p->l3_off == 14 || p->l3_off == 18);
	assert_true(p->l4_off >= p->l3_off + 20);
	assert_true(p->l4_off <= p->l3_off + p->l3_len);
	assert_true((size_t)p->l3_off + p->l3_len <= len);
	if (p->flags & KEEL_PKT_FRAG_LATER) {
		assert_true(p->flags & KEEL_PKT_FRAG);
		assert_int_equal(p->key.sport, 0);
		assert_int_equal(p->key.dport, 0);
	}
}

/*
 * Parse from an exactly-sized heap copy, so ASan flags any read past the
 * frame, into a keel_pkt pre-filled with garbage, so fields the parser forgets
 * to clear show up; p->vip must come back untouched.
 */
static enum keel_drop parse_len(const uint8_t *frame, size_t len, struct keel_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum keel_drop r;

	assert_non_null(copy);
	memcpy(copy, frame, len);
	memset(p, 0xa5, sizeof(*p));
	r = keel_parse(copy, (uint32_t)len, p);
	free(copy);
	assert_int_equal(p->vip, VIP_CANARY);
	assert_true(r < KEEL_DROP_MAX);
	if (r == KEEL_DROP_NONE)
		check_accepted(frame, len, p);
	return r;
}

/*
 * Workaround for a pktgen.c bug (reported to the lead): for IPv4 it stores the
 * source with pktgen_addr(), which writes 16 bytes at ip + 12 and so zeroes
 * the first 8 bytes after a 20-byte header (or the options). Rewrite the bytes
 * pktgen meant to put there, checksum fields excepted (the parser does not
 * check L4 checksums). Once pktgen.c is fixed this rewrites identical bytes.
 */
static void pktgen_ip4_fixup(uint8_t *ip, const struct pktgen *g)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = (size_t)(ip[2] << 8 | ip[3]), i;
	uint8_t *l4 = ip + ihl;

	/* Options: NOPs then EOL, as pktgen writes them. */
	for (i = 20; i < ihl && i < 28; i++)
		ip[i] = i == ihl - 1 ? 0x00 : 0x01;
	if (ihl >= 28)
		goto out_csum;
	if (g->l4_override) {
		for (i = 0; i + ihl < 28 && i < g->l4_override_len; i++)
			l4[i] = g->l4_override[i];
	} else if (g->proto == KEEL_PROTO_TCP || g->proto == KEEL_PROTO_UDP) {
		put16(l4, g->sport);
		put16(l4 + 2, g->dport);
		if (g->proto == KEEL_PROTO_TCP) {
			put16(l4 + 4, 0x1234);
			put16(l4 + 6, 0x5678);
		} else {
			put16(l4 + 4, (uint16_t)(8 + g->payload_len));
		}
	} else if ((g->proto == KEEL_PROTO_ICMP || g->proto == KEEL_PROTO_ICMPV6) &&
		   tot >= ihl + 8) {
		l4[0] = g->icmp_type;
		l4[1] = g->icmp_code;
		put16(l4 + 4, 0x4242);
		put16(l4 + 6, 1);
	} else {
		for (i = 0; i + ihl < 28 && i + ihl < tot; i++)
			l4[i] = (uint8_t)i;
	}
out_csum:
	ip[10] = ip[11] = 0;
	put16(ip + 10, pktgen_csum(ip, ihl));
}

static size_t build(uint8_t *buf, const struct pktgen *g)
{
	size_t len = pktgen_build(buf, BUF_CAP, g);

	assert_true(len > 0);
	if (g->family == 4)
		pktgen_ip4_fixup(buf + (g->vlan > 0 ? 18 : 14), g);
	return len;
}

static struct pktgen tcp4(void)
{
	struct pktgen g = {
		.family = 4, .src = "198.51.100.7", .dst = "203.0.113.10", .proto = KEEL_PROTO_TCP,
		.sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_SYN, .payload_len = 0,
		.ttl = 57, .tos = 0xb8,
	};
	return g;
}

static struct pktgen tcp6(void)
{
	struct pktgen g = {
		.family = 6, .src = "2001:db8::7", .dst = "2001:db8:1::10", .proto = KEEL_PROTO_TCP,
		.sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_ACK, .payload_len = 10,
		.ttl = 33, .tos = 0x2e,
	};
	return g;
}

static void fix_ip4_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	put16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
}

static void assert_addr(const uint8_t got[16], int family, const char *text)
{
	uint8_t want[16];

	pktgen_addr(family, text, want);
	assert_memory_equal(got, want, 16);
}

/* ---- Ethernet and VLAN ---- */

static void test_ip4_tcp_basic(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	assert_int_equal(len, 54);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_addr(p.key.src, 4, "198.51.100.7");
	assert_addr(p.key.dst, 4, "203.0.113.10");
	assert_int_equal(get16(&p.key.sport), 40000);
	assert_int_equal(get16(&p.key.dport), 443);
	assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
	assert_int_equal(p.key.family, KEEL_AF_INET4);
	assert_int_equal(p.key.pad, 0);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.l3_len, 40);
	assert_int_equal(p.vlan_tci, 0);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);
	assert_int_equal(p.tos, 0xb8);
	assert_int_equal(p.ttl, 57);
	assert_int_equal(p.icmp_type, 0);
	assert_int_equal(p.icmp_code, 0);
}

static void test_tcp_flags(void **state)
{
	static const uint8_t flags[] = {
		KEEL_TCP_SYN, KEEL_TCP_SYN | KEEL_TCP_ACK, KEEL_TCP_FIN | KEEL_TCP_ACK,
		KEEL_TCP_RST, KEEL_TCP_RST | KEEL_TCP_ACK, 0xc2 /* CWR|ECE|SYN */, 0xff,
	};
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(flags); i++) {
		struct pktgen g = tcp4();

		g.tcp_flags = flags[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.tcp_flags, flags[i]);
		g = tcp6();
		g.tcp_flags = flags[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.tcp_flags, flags[i]);
	}
}

static void test_ip4_udp_basic(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.proto = KEEL_PROTO_UDP;
	g.sport = 5353;
	g.dport = 53;
	g.payload_len = 100;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.key.proto, KEEL_PROTO_UDP);
	assert_int_equal(get16(&p.key.sport), 5353);
	assert_int_equal(get16(&p.key.dport), 53);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.l3_len, 20 + 8 + 100);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.flags, 0);
}

static void test_vlan(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.vlan = 0xa064; /* PCP 5, DEI 0, VID 100: the whole TCI is kept */
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_VLAN);
	assert_int_equal(p.vlan_tci, 0xa064);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 38);
	assert_int_equal(get16(&p.key.dport), 443);

	g = tcp6();
	g.vlan = 7;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_VLAN);
	assert_int_equal(p.vlan_tci, 7);
	assert_int_equal(p.l3_off, 18);
	assert_int_equal(p.l4_off, 58);
	assert_int_equal(p.key.family, KEEL_AF_INET6);

	/* IEEE 802.1Q 9.6: VID 4095 is reserved, whatever the priority; VID 0 is a priority tag. */
	g = tcp4();
	g.vlan = 0xefff;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_VLAN_RESERVED);
	g.vlan = 0xe000;
	buf[14] = 0xe0; /* pktgen skips a zero TCI: tag it with VID 0 by hand */
	buf[15] = 0x00;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.vlan_tci, 0xe000);
}

static void test_vlan_stacked(void **state)
{
	static const uint16_t inner[] = { 0x8100, 0x88a8, 0x9100 };
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	g.vlan = 10;
	len = build(buf, &g);
	for (i = 0; i < 3; i++) {
		/* A second tag where the inner ethertype should be. */
		put16(buf + 16, inner[i]);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_VLAN_STACKED);
	}
	/* An outer 802.1ad S-tag (or the old 0x9100) is stacked even before its C-tag is read. */
	put16(buf + 12, 0x88a8);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_VLAN_STACKED);
	assert_int_equal(parse_len(buf, 14, &p), KEEL_DROP_VLAN_STACKED);
	put16(buf + 12, 0x9100);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_VLAN_STACKED);
}

static void test_l2_truncated(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	build(buf, &g);
	for (len = 0; len < 14; len++)
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L2_TRUNCATED);
	g.vlan = 10;
	build(buf, &g);
	for (len = 14; len < 18; len++)
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_VLAN_TRUNCATED);
	/* Tag complete, IPv4 header missing. */
	assert_int_equal(parse_len(buf, 18, &p), KEEL_DROP_IP4_TRUNCATED);
	assert_int_equal(p.flags, KEEL_PKT_VLAN);
}

static void test_not_ip(void **state)
{
	uint8_t buf[64] = { 0 };
	struct keel_pkt p;

	(void)state;
	memset(buf, 0xff, 6);
	memcpy(buf + 6, pktgen_client_mac, 6);
	put16(buf + 12, 0x0806); /* ARP; its body looks like nothing the parser reads */
	memset(buf + 14, 0x45, 28);
	assert_int_equal(parse_len(buf, 42, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_NOT_IP);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.key.proto, 0);
	assert_int_equal(p.key.family, 0);
	/* Only the Ethernet header: still not malformed, just not ours. */
	assert_int_equal(parse_len(buf, 14, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_NOT_IP);

	/* Tagged LLDP. */
	put16(buf + 12, 0x8100);
	put16(buf + 14, 42);
	put16(buf + 16, 0x88cc);
	assert_int_equal(parse_len(buf, 60, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_NOT_IP | KEEL_PKT_VLAN);
	assert_int_equal(p.vlan_tci, 42);
	assert_int_equal(p.l3_off, 18);

	/* 802.3 length field (STP over LLC). */
	put16(buf + 12, 0x0026);
	assert_int_equal(parse_len(buf, 60, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_NOT_IP);
}

/* ---- IPv4 header validation, RFC 1812 5.2.2 ---- */

static void test_ip4_truncated(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, 14 + 19, &p), KEEL_DROP_IP4_TRUNCATED);
	assert_int_equal(parse_len(buf, 14, &p), KEEL_DROP_IP4_TRUNCATED);
	/* IHL 15 (60 bytes) while only 40 follow the Ethernet header. */
	buf[14] = 0x4f;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_TRUNCATED);
}

static void test_ip4_version(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	buf[14] = 0x65;
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_VERSION);
	/* An IPv6 packet behind the IPv4 ethertype. */
	g = tcp6();
	len = build(buf, &g);
	put16(buf + 12, 0x0800);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_VERSION);
}

static void test_ip4_ihl(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;
	uint8_t ihl;

	(void)state;
	len = build(buf, &g);
	for (ihl = 0; ihl < 5; ihl++) {
		buf[14] = (uint8_t)(0x40 | ihl);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_IHL);
	}
}

static void test_ip4_total_length(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	/* Shorter than its own header. */
	put16(buf + 16, 19);
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_TOTAL_LENGTH);
	/* Longer than the frame by one byte. */
	put16(buf + 16, (uint16_t)(len - 14 + 1));
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_TOTAL_LENGTH);
	/* Exactly the header: valid IP, but the TCP header is missing. */
	put16(buf + 16, 20);
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
	/* The frame cut one byte short of what a correct header claims. */
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len - 1, &p), KEEL_DROP_IP4_TOTAL_LENGTH);
}

static void test_ip4_checksum(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	buf[14 + 10] ^= 0x01;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_CHECKSUM);
	buf[14 + 10] ^= 0x01;
	buf[14 + 8] -= 1; /* TTL changed without the checksum */
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_CHECKSUM);

	/* The checksum covers the options too. */
	g.ip4_opt_len = 8;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	buf[14 + 21] ^= 0x80;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_CHECKSUM);

	/* An all-zero checksum on a header that is not all ones is wrong, not "unset". */
	len = build(buf, &g);
	buf[24] = buf[25] = 0;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_CHECKSUM);
}

static void test_ip4_bad_source(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1",
		"239.255.255.255", "240.0.0.1", "250.1.2.3", "255.255.255.255",
	};
	static const char *const good[] = {
		"1.0.0.1", "10.0.0.1", "126.255.255.255", "128.0.0.1", "223.255.255.255",
		"192.0.2.255", "169.253.255.255", "169.255.0.1", "168.254.0.1",
	};
	/* RFC 3927 7: accepted for the host, flagged so a VIP refuses it (issue 14 item 3). */
	static const char *const link_local[] = { "169.254.0.0", "169.254.10.1", "169.254.255.255" };
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pktgen g = tcp4();

		g.src = bad[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_BAD_SOURCE);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct pktgen g = tcp4();

		g.src = good[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_addr(p.key.src, 4, good[i]);
		assert_false(p.flags & KEEL_PKT_SRC_SCOPED);
	}
	for (i = 0; i < sizeof(link_local) / sizeof(link_local[0]); i++) {
		struct pktgen g = tcp4();

		g.src = link_local[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_true(p.flags & KEEL_PKT_SRC_SCOPED);
		assert_int_equal(keel_parse_source_reason(&p), KEEL_DROP_IP4_SRC_LINK_LOCAL);
	}
	/* Multicast or broadcast destinations are not the parser's concern. */
	{
		struct pktgen g = tcp4();

		g.dst = "224.0.0.5";
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	}
}

static void test_ip4_options(void **state)
{
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len, opt, i;

	(void)state;
	for (opt = 4; opt <= 40; opt += 4) {
		struct pktgen g = tcp4();

		g.ip4_opt_len = (uint8_t)opt;
		g.payload_len = 3;
		len = build(buf, &g);
		/*
		 * Fill the options with bytes that read as ports 0xdead -> 0xbeef and
		 * a data offset of 5 if the parser looked at IP + 20 for TCP.
		 */
		for (i = 0; i < opt; i++)
			buf[34 + i] = (uint8_t[]){ 0xde, 0xad, 0xbe, 0xef }[i % 4];
		if (opt >= 16)
			buf[34 + 12] = 0x50;
		fix_ip4_csum(buf + 14);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 34 + opt);
		assert_int_equal(p.l3_len, 20 + opt + 20 + 3);
		assert_int_equal(get16(&p.key.sport), 40000);
		assert_int_equal(get16(&p.key.dport), 443);
		assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);
	}
	/* UDP behind options, with VLAN. */
	{
		struct pktgen g = tcp4();

		g.proto = KEEL_PROTO_UDP;
		g.sport = 1111;
		g.dport = 2222;
		g.ip4_opt_len = 12;
		g.vlan = 5;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 18 + 32);
		assert_int_equal(get16(&p.key.sport), 1111);
		assert_int_equal(get16(&p.key.dport), 2222);
	}
}

static void test_padding(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* A 40-byte SYN padded to the 60-byte Ethernet minimum, plus an FCS-like trailer. */
	g.pad = 10;
	len = build(buf, &g);
	memset(buf + len - 10, 0xee, 10);
	assert_int_equal(len, 64);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l3_len, 40);
	assert_int_equal(get16(&p.key.dport), 443);

	/* UDP: its length is checked against the datagram, not the padded frame. */
	g = tcp4();
	g.proto = KEEL_PROTO_UDP;
	g.payload_len = 2;
	g.pad = 16;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l3_len, 30);
	/* UDP claims one byte more than the IP datagram holds; the pad bytes do not count. */
	put16(buf + 34 + 4, 11);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);

	/* TCP data offset reaching into the pad is refused. */
	g = tcp4();
	g.pad = 20;
	len = build(buf, &g);
	buf[34 + 12] = 0x60; /* 24-byte header in a 20-byte segment */
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_TCP_DATA_OFFSET);

	g = tcp6();
	g.pad = 7;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l3_len, 40 + 20 + 10);
}

/* ---- IPv4 fragments ---- */

static void test_ip4_frag_first(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.more_frags = true;
	g.payload_len = 64;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG);
	assert_int_equal(get16(&p.key.sport), 40000);
	assert_int_equal(get16(&p.key.dport), 443);
	assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);

	/* A first UDP fragment: the UDP length covers the whole datagram, not this piece. */
	g = tcp4();
	g.proto = KEEL_PROTO_UDP;
	g.more_frags = true;
	g.payload_len = 64;
	len = build(buf, &g);
	put16(buf + 34 + 4, 3000);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG);
	assert_int_equal(get16(&p.key.dport), 443);
	/* The lower bound still holds. */
	put16(buf + 34 + 4, 7);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);

	/* A first fragment too short for the TCP header (RFC 1858). */
	g = tcp4();
	g.more_frags = true;
	len = build(buf, &g);
	put16(buf + 16, 20 + 16);
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
}

static void test_ip4_frag_later(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.frag_offset = 185; /* 1480 bytes in */
	g.more_frags = true;
	g.payload_len = 40;
	len = build(buf, &g);
	/* Payload bytes where a TCP header would be must not become ports or flags. */
	memset(buf + 34, 0x77, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
	assert_int_equal(p.key.sport, 0);
	assert_int_equal(p.key.dport, 0);
	assert_int_equal(p.tcp_flags, 0);
	assert_int_equal(p.l4_off, 34);
	assert_int_equal(p.l3_len, 20 + 60);
	assert_addr(p.key.src, 4, "198.51.100.7");

	/* The last fragment (MF clear) with DF clear. */
	g.more_frags = false;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);

	/* A later ICMP fragment: no ICMP type read from payload. */
	g = tcp4();
	g.proto = KEEL_PROTO_ICMP;
	g.icmp_type = 3;
	g.frag_offset = 10;
	g.payload_len = 8;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	assert_int_equal(p.icmp_type, 0);
	/* A later fragment with only 1 payload byte still parses (no L4 length rule). */
	g = tcp4();
	g.proto = 47;
	g.frag_offset = 10;
	g.payload_len = 1;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.key.proto, 47);
}

static void test_ip4_df(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.df = true;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_DF);
	g.vlan = 3;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_DF | KEEL_PKT_VLAN);
	/* The reserved flag bit is ignored on receipt. */
	g = tcp4();
	len = build(buf, &g);
	buf[14 + 6] |= 0x80;
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, 0);
}

static void test_ip4_frag_offset(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* RFC 1858 tiny fragment: TCP at offset 8 bytes rewrites the first fragment's flags. */
	g.frag_offset = 1;
	g.payload_len = 12;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_FRAG_OFFSET);
	g.more_frags = true;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_FRAG_OFFSET);
	/* Offset 2 for TCP is fine, offset 1 for UDP is fine. */
	g.frag_offset = 2;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	g.frag_offset = 1;
	g.proto = KEEL_PROTO_UDP;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);

	/* Ping of death: 8191 * 8 + 8 data bytes = 65536 > 65535. */
	g = tcp4();
	g.proto = KEEL_PROTO_ICMP;
	g.frag_offset = 8191;
	g.payload_len = 0; /* ICMP header alone: 8 bytes of data */
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP4_FRAG_OFFSET);
	/* 7 bytes of data at the same offset end exactly at 65535. */
	put16(buf + 16, 27);
	fix_ip4_csum(buf + 14);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
}

/* ---- Transport headers ---- */

static void test_l4_truncated(void **state)
{
	static const uint8_t protos[] = { KEEL_PROTO_TCP, KEEL_PROTO_UDP, KEEL_PROTO_ICMP };
	static const uint8_t protos6[] = { KEEL_PROTO_TCP, KEEL_PROTO_UDP, KEEL_PROTO_ICMPV6 };
	static const uint8_t l4[64];
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len, need;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct pktgen g = tcp4();

		need = protos[i] == KEEL_PROTO_TCP ? 20 : 8;
		g.proto = protos[i];
		g.l4_override = l4;
		g.l4_override_len = (uint16_t)(need - 1);
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
		/* No L4 byte at all: total length 20, the rest of the frame is padding. */
		put16(buf + 16, 20);
		fix_ip4_csum(buf + 14);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);

		g = tcp6();
		g.proto = protos6[i];
		g.l4_override = l4;
		g.l4_override_len = (uint16_t)(need - 1);
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
	}
}

static void test_tcp_data_offset(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;
	uint8_t doff;

	(void)state;
	len = build(buf, &g);
	for (doff = 0; doff < 5; doff++) {
		buf[34 + 12] = (uint8_t)(doff << 4);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_TCP_DATA_OFFSET);
	}
	/* 60-byte header claimed in a 20-byte segment. */
	buf[34 + 12] = 0xf0;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_TCP_DATA_OFFSET);
	/* Options present and fully inside: 24-byte header in a 24-byte segment. */
	g.payload_len = 4;
	len = build(buf, &g);
	buf[34 + 12] = 0x60;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	buf[34 + 12] = 0x70;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_TCP_DATA_OFFSET);

	g = tcp6();
	g.payload_len = 0;
	len = build(buf, &g);
	buf[54 + 12] = 0x40;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_TCP_DATA_OFFSET);
}

static void test_udp_length(void **state)
{
	struct pktgen g = tcp4();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	g.proto = KEEL_PROTO_UDP;
	g.payload_len = 20;
	len = build(buf, &g);
	put16(buf + 34 + 4, 7);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	put16(buf + 34 + 4, 0);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	put16(buf + 34 + 4, 29);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	put16(buf + 34 + 4, 28);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	/* Shorter than the IP payload is allowed (RFC 768 leaves the rest as IP padding). */
	put16(buf + 34 + 4, 8);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(get16(&p.key.sport), 40000);

	g = tcp6();
	g.proto = KEEL_PROTO_UDP;
	g.payload_len = 20;
	len = build(buf, &g);
	put16(buf + 54 + 4, 29);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	/* UDP length 0 is a jumbogram (RFC 2675) only; not supported. */
	put16(buf + 54 + 4, 0);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
}

static void test_icmp4(void **state)
{
	static const struct {
		uint8_t type;
		bool error;
	} cases[] = {
		{ 0, false }, { 8, false }, { 3, true }, { 11, true }, { 12, true },
		{ 4, false }, { 5, false }, { 13, false }, { 200, false },
	};
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pktgen g = tcp4();

		g.proto = KEEL_PROTO_ICMP;
		g.icmp_type = cases[i].type;
		g.icmp_code = 4;
		g.payload_len = 28;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, KEEL_PROTO_ICMP);
		assert_int_equal(p.icmp_type, cases[i].type);
		assert_int_equal(p.icmp_code, 4);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		assert_int_equal(p.l4_off, 34);
		assert_int_equal(p.flags, cases[i].error ? KEEL_PKT_ICMP_ERROR : 0);
	}
	/* Exactly 8 bytes is enough. */
	{
		struct pktgen g = tcp4();

		g.proto = KEEL_PROTO_ICMP;
		g.icmp_type = 8;
		len = build(buf, &g);
		assert_int_equal(len, 14 + 28);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.icmp_type, 8);
	}
}

static void test_icmp6(void **state)
{
	static const struct {
		uint8_t type;
		bool error;
	} cases[] = {
		{ 1, true }, { 2, true }, { 3, true }, { 4, true }, { 0, false }, { 5, false },
		{ 127, false }, { 128, false }, { 129, false }, { 135, false }, { 136, false },
	};
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pktgen g = tcp6();

		g.proto = KEEL_PROTO_ICMPV6;
		g.icmp_type = cases[i].type;
		g.icmp_code = 1;
		g.payload_len = 48;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, KEEL_PROTO_ICMPV6);
		assert_int_equal(p.key.family, KEEL_AF_INET6);
		assert_int_equal(p.icmp_type, cases[i].type);
		assert_int_equal(p.icmp_code, 1);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		assert_int_equal(p.flags, cases[i].error ? KEEL_PKT_ICMP_ERROR : 0);
	}
}

static void test_unknown_l4(void **state)
{
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	{
		struct pktgen g = tcp4();

		g.proto = 47; /* GRE */
		g.payload_len = 0;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, 47);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		assert_int_equal(p.l4_off, 34);
		assert_int_equal(p.l3_len, 20);
	}
	{
		/* ICMPv6 over IPv4 means nothing: unknown protocol, no ICMP fields. */
		static const uint8_t l4[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
		struct pktgen g = tcp4();

		g.proto = KEEL_PROTO_ICMPV6;
		g.l4_override = l4;
		g.l4_override_len = 8;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.icmp_type, 0);
		assert_int_equal(p.flags, 0);
		/* And ICMPv4 over IPv6. */
		g = tcp6();
		g.proto = KEEL_PROTO_ICMP;
		g.l4_override = l4;
		g.l4_override_len = 3;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, KEEL_PROTO_ICMP);
		assert_int_equal(p.icmp_type, 0);
	}
	{
		struct pktgen g = tcp6();

		g.proto = 132; /* SCTP */
		g.payload_len = 12;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, 132);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.l4_off, 54);
	}
}

/* ---- IPv6 ---- */

static void test_ip6_tcp_basic(void **state)
{
	struct pktgen g = tcp6();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	assert_int_equal(len, 14 + 40 + 20 + 10);
	/* Flow label set: must not leak into the traffic class. */
	buf[15] |= 0x0a;
	buf[16] = 0xbc;
	buf[17] = 0xde;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_addr(p.key.src, 6, "2001:db8::7");
	assert_addr(p.key.dst, 6, "2001:db8:1::10");
	assert_int_equal(get16(&p.key.sport), 40000);
	assert_int_equal(get16(&p.key.dport), 443);
	assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
	assert_int_equal(p.key.family, KEEL_AF_INET6);
	assert_int_equal(p.key.pad, 0);
	assert_int_equal(p.l3_off, 14);
	assert_int_equal(p.l4_off, 54);
	assert_int_equal(p.l3_len, 70);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.tcp_flags, KEEL_TCP_ACK);
	assert_int_equal(p.tos, 0x2e);
	assert_int_equal(p.ttl, 33);
	assert_int_equal(p.vlan_tci, 0);
}

static void test_ip6_header_errors(void **state)
{
	struct pktgen g = tcp6();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, 14 + 39, &p), KEEL_DROP_IP6_TRUNCATED);
	assert_int_equal(parse_len(buf, 14, &p), KEEL_DROP_IP6_TRUNCATED);
	/* Payload length one more than what the frame holds. */
	assert_int_equal(parse_len(buf, len - 1, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
	put16(buf + 18, 0xffff);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
	/* Payload length 0 (jumbogram marker) leaves no room for TCP. */
	put16(buf + 18, 0);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
	/* Version. */
	len = build(buf, &g);
	buf[14] = (uint8_t)((buf[14] & 0x0f) | 0x40);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_VERSION);
	g = tcp4();
	g.payload_len = 40;
	len = build(buf, &g);
	put16(buf + 12, 0x86dd);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_VERSION);
}

static void test_ip6_payload_limit(void **state)
{
	/* Offsets are 16-bit: the datagram must end within 65535 bytes of the frame start. */
	size_t cap = 14 + 40 + 65535;
	uint8_t *buf = calloc(1, cap);
	struct keel_pkt p;

	(void)state;
	assert_non_null(buf);
	put16(buf + 12, 0x86dd);
	buf[14] = 0x60;
	buf[14 + 6] = 59; /* No Next Header */
	buf[14 + 7] = 64;
	buf[14 + 8] = 0x20;
	put16(buf + 18, 65535 - 54);
	assert_int_equal(parse_len(buf, 65535, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l3_len, 65535 - 14);
	assert_int_equal(p.key.proto, 59);
	put16(buf + 18, 65535 - 53);
	assert_int_equal(parse_len(buf, cap, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
	put16(buf + 18, 65535);
	assert_int_equal(parse_len(buf, cap, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
	free(buf);
}

static void test_ip6_bad_source(void **state)
{
	static const char *const bad[] = { "ff02::1", "ff0e::1234", "ff00::", "::1" };
	static const char *const good[] = { "2001:db8::ff", "::2", "fe00::1", "fec0::1", "::1:0:0:1",
					    "::fffe:1.2.3.4", "::ffff:0:1.2.3.4", "100::1", "fd00::1" };
	/* Accepted but flagged: the host may get them, a VIP never does (issue 14 item 3). */
	static const struct {
		const char *src;
		enum keel_drop reason;
	} scoped[] = {
		{ "::", KEEL_DROP_IP6_SRC_UNSPECIFIED },
		{ "fe80::1", KEEL_DROP_IP6_SRC_LINK_LOCAL },
		{ "febf:ffff:ffff:ffff::1", KEEL_DROP_IP6_SRC_LINK_LOCAL },
		{ "::ffff:198.51.100.7", KEEL_DROP_IP6_SRC_V4MAPPED },
		{ "::ffff:0.0.0.0", KEEL_DROP_IP6_SRC_V4MAPPED },
	};
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pktgen g = tcp6();

		g.src = bad[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_BAD_SOURCE);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct pktgen g = tcp6();

		g.src = good[i];
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_addr(p.key.src, 6, good[i]);
		assert_false(p.flags & KEEL_PKT_SRC_SCOPED);
		assert_int_equal(keel_parse_source_reason(&p), KEEL_DROP_NONE);
	}
	for (i = 0; i < sizeof(scoped) / sizeof(scoped[0]); i++) {
		struct pktgen g = tcp6();

		g.src = scoped[i].src;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_true(p.flags & KEEL_PKT_SRC_SCOPED);
		assert_int_equal(keel_parse_source_reason(&p), scoped[i].reason);
	}
}

/*
 * IPv6 with an arbitrary extension header chain, built by hand: types[i] with
 * lens[i] 8-octet units each (the Fragment header is always 8 bytes and takes
 * its offset/M word from frag), then TCP 40000 -> 443 SYN. Returns frame length.
 */
struct ext6 {
	uint8_t type;
	uint8_t units;  /* header length / 8, at least 1 */
	uint16_t frag;  /* Fragment header: offset << 3 | M */
};

static size_t build6_chain(uint8_t *buf, const struct ext6 *ext, size_t n, uint8_t proto,
			   size_t l4_len)
{
	uint8_t *nh;
	size_t off = 54, i, hl;

	memset(buf, 0, BUF_CAP);
	memcpy(buf, pktgen_lb_mac, 6);
	memcpy(buf + 6, pktgen_client_mac, 6);
	put16(buf + 12, 0x86dd);
	buf[14] = 0x60;
	buf[14 + 7] = 64;
	pktgen_addr(6, "2001:db8::7", buf + 14 + 8);
	pktgen_addr(6, "2001:db8:1::10", buf + 14 + 24);
	nh = buf + 14 + 6;
	for (i = 0; i < n; i++) {
		*nh = ext[i].type;
		nh = buf + off;
		hl = ext[i].type == 44 ? 8 : (size_t)ext[i].units * 8;
		if (ext[i].type == 44) {
			put16(buf + off + 2, ext[i].frag);
			put16(buf + off + 4, 0xcafe);
		} else {
			buf[off + 1] = (uint8_t)(ext[i].units - 1);
			/* Options area: ports-looking bytes that must never be read as L4. */
			memset(buf + off + 2, 0x99, hl - 2);
			/* A Routing header (type 0x99, unassigned) with no segments left: spent, ignored. */
			if (ext[i].type == 43)
				buf[off + 3] = 0;
		}
		off += hl;
	}
	*nh = proto;
	if (proto == KEEL_PROTO_TCP && l4_len >= 20) {
		put16(buf + off, 40000);
		put16(buf + off + 2, 443);
		buf[off + 12] = 0x50;
		buf[off + 13] = KEEL_TCP_SYN;
	}
	off += l4_len;
	put16(buf + 14 + 4, (uint16_t)(off - 54));
	return off;
}

static void test_ip6_exthdr_kinds(void **state)
{
	static const uint8_t kinds[] = { 0, 43, 60 };
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;
	uint8_t units;

	(void)state;
	for (i = 0; i < 3; i++) {
		for (units = 1; units <= 3; units++) {
			struct ext6 e = { .type = kinds[i], .units = units };

			len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
			assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
			assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
			assert_int_equal(p.l4_off, 54 + units * 8);
			assert_int_equal(p.l3_len, 40 + units * 8 + 20);
			assert_int_equal(get16(&p.key.sport), 40000);
			assert_int_equal(get16(&p.key.dport), 443);
			assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);
			assert_int_equal(p.flags, 0);
		}
	}
	/* pktgen's own Hop-by-Hop header, with UDP. */
	{
		struct pktgen g = tcp6();

		g.proto = KEEL_PROTO_UDP;
		g.ip6_hbh_len = 2;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 54 + 16);
		assert_int_equal(get16(&p.key.dport), 443);
	}
	/* A full legal chain: HBH, DO, RH, Fragment (first), DO, TCP. */
	{
		struct ext6 e[] = {
			{ 0, 1, 0 }, { 60, 2, 0 }, { 43, 3, 0 }, { 44, 1, 0x0001 }, { 60, 1, 0 },
		};

		len = build6_chain(buf, e, 5, KEEL_PROTO_TCP, 20 + 4);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(p.l4_off, 54 + 8 + 16 + 24 + 8 + 8);
		assert_int_equal(get16(&p.key.dport), 443);
	}
	/* No Next Header after a Destination Options header: proto 59, no ports. */
	{
		struct ext6 e = { 60, 1, 0 };

		len = build6_chain(buf, &e, 1, 59, 0);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, 59);
		assert_int_equal(p.l4_off, 62);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		/* And directly after the IPv6 header, with stray bytes after it. */
		len = build6_chain(buf, NULL, 0, 59, 12);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, 59);
		assert_int_equal(p.l4_off, 54);
		assert_int_equal(p.key.sport, 0);
	}
}

/*
 * Routing headers (RFC 8200 4.4, RFC 5095): type 0 is refused whatever its
 * Segments Left; any other type is refused while segments are left (the
 * packet names a hop after us) and ignored once none are.
 */
static void test_ip6_routing(void **state)
{
	static const struct {
		uint8_t type, segments_left;
		enum keel_drop want;
	} cases[] = {
		{ 0, 0, KEEL_DROP_IP6_ROUTING_TYPE0 },
		{ 0, 1, KEEL_DROP_IP6_ROUTING_TYPE0 },
		{ 0, 255, KEEL_DROP_IP6_ROUTING_TYPE0 },
		{ 2, 1, KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT },   /* Mobile IPv6, RFC 6275 */
		{ 3, 2, KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT },   /* RPL, RFC 6554 */
		{ 4, 1, KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT },   /* SRv6, RFC 8754 */
		{ 253, 1, KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT }, /* experimental, RFC 4727 */
		{ 2, 0, KEEL_DROP_NONE },
		{ 4, 0, KEEL_DROP_NONE },
		{ 253, 0, KEEL_DROP_NONE },
	};
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ext6 e = { .type = 43, .units = 3 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
		buf[54 + 2] = cases[i].type;
		buf[54 + 3] = cases[i].segments_left;
		assert_int_equal(parse_len(buf, len, &p), cases[i].want);
		if (cases[i].want == KEEL_DROP_NONE) {
			assert_int_equal(p.l4_off, 54 + 24);
			assert_int_equal(get16(&p.key.dport), 443);
		}
	}
	/* Behind Hop-by-Hop and Destination Options, and a second (spent) one before it: still found. */
	{
		struct ext6 e[] = { { 0, 1, 0 }, { 43, 1, 0 }, { 60, 1, 0 }, { 43, 2, 0 } };

		len = build6_chain(buf, e, 4, KEEL_PROTO_TCP, 20);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		buf[54 + 24 + 2] = 4;
		buf[54 + 24 + 3] = 1;
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT);
	}
	/* In the unfragmentable part: every fragment refused alike, the later ones too. */
	{
		struct ext6 first[] = { { 43, 1, 0 }, { 44, 1, 0x0001 } };
		struct ext6 later[] = { { 43, 1, 0 }, { 44, 1, 0x0100 } };

		len = build6_chain(buf, first, 2, KEEL_PROTO_TCP, 24);
		buf[54 + 3] = 3;
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT);
		len = build6_chain(buf, later, 2, KEEL_PROTO_TCP, 24);
		buf[54 + 2] = 0;
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_ROUTING_TYPE0);
	}
	/* A malformed chain is named as such first: the truncated header's fields are never read. */
	{
		struct ext6 e = { 43, 2, 0 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 0);
		buf[54 + 3] = 1;
		assert_int_equal(len, 54 + 16);
		put16(buf + 14 + 4, 12);
		assert_int_equal(parse_len(buf, 54 + 12, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	}
}

static void test_ip6_exthdr_order(void **state)
{
	struct ext6 e[] = { { 60, 1, 0 }, { 0, 1, 0 } };
	struct ext6 f[] = { { 0, 1, 0 }, { 0, 1, 0 } };
	struct ext6 h[] = { { 44, 1, 0x0001 }, { 0, 1, 0 } };
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build6_chain(buf, e, 2, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
	len = build6_chain(buf, f, 2, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
	len = build6_chain(buf, h, 2, KEEL_PROTO_TCP, 24);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
}

static void test_ip6_exthdr_too_many(void **state)
{
	struct ext6 e[KEEL_PARSE_MAX_EXTHDRS + 1];
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < KEEL_PARSE_MAX_EXTHDRS + 1; i++)
		e[i] = (struct ext6){ .type = i & 1 ? 43 : 60, .units = 1 };
	/* Exactly the limit is walked. */
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l4_off, 54 + 8 * KEEL_PARSE_MAX_EXTHDRS);
	assert_int_equal(get16(&p.key.dport), 443);
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS + 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TOO_MANY);
	/* A Fragment header as the one too many. */
	e[KEEL_PARSE_MAX_EXTHDRS] = (struct ext6){ .type = 44, .frag = 0x0001 };
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS + 1, KEEL_PROTO_TCP, 24);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TOO_MANY);
}

static void test_ip6_exthdr_truncated(void **state)
{
	struct ext6 e = { 60, 2, 0 };
	struct ext6 fr = { 44, 1, 0x0001 };
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* Header claims 16 bytes; the payload (and frame) hold 12. */
	len = build6_chain(buf, &e, 1, 59, 0);
	put16(buf + 18, 12);
	assert_int_equal(parse_len(buf, len - 4, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* The frame has the bytes, but the payload length ends inside the header. */
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Fewer than 8 bytes: not even the fixed part. */
	put16(buf + 18, 4);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Payload length 0 with a Hop-by-Hop header (a jumbogram): not supported. */
	e.type = 0;
	len = build6_chain(buf, &e, 1, 59, 0);
	put16(buf + 18, 0);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Fragment header cut short. */
	len = build6_chain(buf, &fr, 1, KEEL_PROTO_TCP, 0);
	put16(buf + 18, 7);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
}

static void test_ip6_frag(void **state)
{
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* First fragment: ports read. */
	{
		struct pktgen g = tcp6();

		g.ip6_frag_hdr = true;
		g.more_frags = true;
		g.payload_len = 36;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
		assert_int_equal(p.l4_off, 62);
		assert_int_equal(get16(&p.key.sport), 40000);
		assert_int_equal(get16(&p.key.dport), 443);
	}
	/* Later fragment: proto from the Fragment header, no ports, l4_off after it. */
	{
		struct pktgen g = tcp6();

		g.ip6_frag_hdr = true;
		g.frag_offset = 100;
		g.payload_len = 20;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
		assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
		assert_int_equal(p.l4_off, 62);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		assert_int_equal(p.tcp_flags, 0);
		assert_int_equal(p.l3_len, 40 + 8 + 40);
		/* Offset 1 is legal in IPv6: RFC 1858 is IPv4 only; reassembly handles overlaps. */
		g.frag_offset = 1;
		g.more_frags = true;
		g.payload_len = 20;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	}
	/* A later ICMPv6 fragment: payload is not read as ICMP. */
	{
		struct pktgen g = tcp6();

		g.proto = KEEL_PROTO_ICMPV6;
		g.icmp_type = 1;
		g.ip6_frag_hdr = true;
		g.frag_offset = 3;
		len = build(buf, &g);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, KEEL_PROTO_ICMPV6);
		assert_int_equal(p.icmp_type, 0);
		assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	}
	/* First UDP fragment: UDP length covers the datagram, bigger than this piece. */
	{
		struct pktgen g = tcp6();

		g.proto = KEEL_PROTO_UDP;
		g.ip6_frag_hdr = true;
		g.more_frags = true;
		g.payload_len = 16;
		len = build(buf, &g);
		put16(buf + 62 + 4, 4000);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(get16(&p.key.dport), 443);
		put16(buf + 62 + 4, 6);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	}
	/* A first fragment whose TCP header did not fit (RFC 7112). */
	{
		struct ext6 e = { 44, 1, 0x0001 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 16);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
	}
}

static void test_ip6_atomic_frag(void **state)
{
	struct pktgen g = tcp6();
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* RFC 6946: offset 0, M clear is a whole packet, not a fragment. */
	g.ip6_frag_hdr = true;
	len = build(buf, &g);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.l4_off, 62);
	assert_int_equal(get16(&p.key.sport), 40000);
	assert_int_equal(p.tcp_flags, KEEL_TCP_ACK);
	/* Reserved fields (byte 1 and the 2 bits before M) are ignored (RFC 8200 4.5). */
	buf[54 + 1] = 0xff;
	buf[54 + 3] |= 0x06;
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(get16(&p.key.dport), 443);
}

static void test_ip6_frag_invalid(void **state)
{
	struct ext6 two[] = { { 44, 1, 0x0001 }, { 44, 1, 0x0001 } };
	struct ext6 e = { 44, 1, 0x0001 };
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* Two Fragment headers. */
	len = build6_chain(buf, two, 2, KEEL_PROTO_TCP, 24);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	/* M set, fragment data not a multiple of 8 (RFC 8200 4.5). */
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	/* Same length as the last fragment (M clear) is fine. */
	e.frag = 10 << 3;
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	/* Reassembly past 65535 bytes: 8191 * 8 + 8 > 65535. */
	e.frag = (uint16_t)(8191 << 3);
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 8);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 7);
	assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
}

/* ---- Robustness ---- */

/* Every strict prefix of an unpadded valid frame is refused with a reason, never read past. */
static void test_prefixes(void **state)
{
	struct pktgen gens[8];
	uint8_t buf[BUF_CAP];
	struct keel_pkt p;
	size_t i, len, cut;

	(void)state;
	gens[0] = tcp4();
	gens[1] = tcp4();
	gens[1].ip4_opt_len = 24;
	gens[1].vlan = 9;
	gens[2] = tcp4();
	gens[2].proto = KEEL_PROTO_UDP;
	gens[3] = tcp4();
	gens[3].proto = KEEL_PROTO_ICMP;
	gens[4] = tcp6();
	gens[5] = tcp6();
	gens[5].ip6_hbh_len = 3;
	gens[5].ip6_frag_hdr = true;
	gens[5].more_frags = true;
	gens[5].payload_len = 12;
	gens[6] = tcp6();
	gens[6].proto = KEEL_PROTO_ICMPV6;
	gens[6].vlan = 100;
	gens[7] = tcp4();
	gens[7].frag_offset = 20;
	for (i = 0; i < 8; i++) {
		len = build(buf, &gens[i]);
		assert_int_equal(parse_len(buf, len, &p), KEEL_DROP_NONE);
		for (cut = 0; cut < len; cut++)
			assert_int_not_equal(parse_len(buf, cut, &p), KEEL_DROP_NONE);
	}
}

/* Deterministic random mutations of valid frames: checks in parse_len must hold for all. */
static void test_mutations(void **state)
{
	uint8_t base[BUF_CAP], buf[BUF_CAP];
	uint32_t rng = 0x12345678;
	struct keel_pkt p;
	size_t blen, len, i, k;
	unsigned int accepted = 0;

	(void)state;
	for (i = 0; i < 40000; i++) {
		struct pktgen g = (i & 1) ? tcp6() : tcp4();

		g.proto = (uint8_t[]){ 6, 17, 1, 58, 47 }[i % 5];
		if (i & 2)
			g.vlan = 12;
		if (i & 4)
			g.ip6_hbh_len = 1;
		if (i & 8)
			g.ip4_opt_len = 8;
		if ((i & 48) == 16)
			g.ip6_frag_hdr = true;
		blen = build(base, &g);
		memcpy(buf, base, blen);
		for (k = 0; k < 1 + (i % 4); k++) {
			rng = rng * 1103515245u + 12345u;
			buf[(rng >> 8) % blen] ^= (uint8_t)(1u << ((rng >> 4) & 7));
		}
		rng = rng * 1103515245u + 12345u;
		len = (rng >> 16) % 8 ? blen : (rng >> 4) % (blen + 1);
		if (parse_len(buf, len, &p) == KEEL_DROP_NONE)
			accepted++;
	}
	/* Some mutations (payload bits, ports) must stay valid; most header hits must not. */
	assert_true(accepted > 1000);
	assert_true(accepted < 40000);
}

/*
 * The common-case fast path of keel_parse against the full parser alone: the
 * same verdict and the same keel_pkt bytes on mutated IPv4/IPv6 TCP/UDP frames
 * (lengths, checksums, flags, fragments, sources all get hit).
 */
static void test_fast_path_agrees(void **state)
{
	uint8_t buf[BUF_CAP];
	uint32_t rng = 0x9abcdef1;
	struct keel_pkt fast, full;
	size_t blen, len, i, k;
	unsigned int accepted = 0;

	(void)state;
	for (i = 0; i < 40000; i++) {
		struct pktgen g = (i % 4 == 3) ? tcp6() : tcp4();
		enum keel_drop rf, rs;

		g.proto = (i & 4) ? 17 : 6;
		if (i % 16 == 8)
			g.ip4_opt_len = 4;
		blen = build(buf, &g);
		for (k = 0; k < (i % 3); k++) {
			rng = rng * 1103515245u + 12345u;
			/* Mostly the headers: the fast path's checks live there. */
			buf[(rng >> 8) % (blen < 64 ? blen : 64)] ^= (uint8_t)(1u << ((rng >> 4) & 7));
		}
		rng = rng * 1103515245u + 12345u;
		len = (rng >> 16) % 8 ? blen : (rng >> 4) % (blen + 1);
		memset(&fast, 0x5a, sizeof(fast));
		memset(&full, 0x5a, sizeof(full));
		rf = keel_parse(buf, (uint32_t)len, &fast);
		rs = keel_parse_full(buf, (uint32_t)len, &full);
		assert_int_equal(rf, rs);
		if (rf == KEEL_DROP_NONE) {
			assert_memory_equal(&fast, &full, sizeof(fast));
			accepted++;
		}
	}
	assert_true(accepted > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip4_tcp_basic),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_ip4_udp_basic),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_vlan_stacked),
		cmocka_unit_test(test_l2_truncated),
		cmocka_unit_test(test_not_ip),
		cmocka_unit_test(test_ip4_truncated),
		cmocka_unit_test(test_ip4_version),
		cmocka_unit_test(test_ip4_ihl),
		cmocka_unit_test(test_ip4_total_length),
		cmocka_unit_test(test_ip4_checksum),
		cmocka_unit_test(test_ip4_bad_source),
		cmocka_unit_test(test_ip4_options),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_ip4_frag_first),
		cmocka_unit_test(test_ip4_frag_later),
		cmocka_unit_test(test_ip4_df),
		cmocka_unit_test(test_ip4_frag_offset),
		cmocka_unit_test(test_l4_truncated),
		cmocka_unit_test(test_tcp_data_offset),
		cmocka_unit_test(test_udp_length),
		cmocka_unit_test(test_icmp4),
		cmocka_unit_test(test_icmp6),
		cmocka_unit_test(test_unknown_l4),
		cmocka_unit_test(test_ip6_tcp_basic),
		cmocka_unit_test(test_ip6_header_errors),
		cmocka_unit_test(test_ip6_payload_limit),
		cmocka_unit_test(test_ip6_bad_source),
		cmocka_unit_test(test_ip6_exthdr_kinds),
		cmocka_unit_test(test_ip6_exthdr_order),
		cmocka_unit_test(test_ip6_exthdr_too_many),
		cmocka_unit_test(test_ip6_exthdr_truncated),
		cmocka_unit_test(test_ip6_routing),
		cmocka_unit_test(test_ip6_frag),
		cmocka_unit_test(test_ip6_atomic_frag),
		cmocka_unit_test(test_ip6_frag_invalid),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
