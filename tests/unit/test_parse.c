/* Unit tests for the parse stage: crafted frames, expected verdict and metadata per branch (a case table, lib/pkt_case.h), and property checks. */
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
#include "pkt_case.h"
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

static size_t build(uint8_t *buf, const struct pktgen *g)
{
	size_t len = pktgen_build(buf, BUF_CAP, g);

	assert_true(len > 0);
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

/* ---- IPv4 options (the header, source, fragment and padding cases are in the table below) ---- */

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

/* ---- Crafted frames as one table (lib/pkt_case.h): verdict and metadata per row ---- */

#define TCP4(...)                                                                              \
	{ .family = 4, .src = "198.51.100.7", .dst = "203.0.113.10", .proto = KEEL_PROTO_TCP,  \
	  .sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_SYN, .payload_len = 0, .ttl = 57, \
	  .tos = 0xb8, __VA_ARGS__ }
#define TCP6(...)                                                                              \
	{ .family = 6, .src = "2001:db8::7", .dst = "2001:db8:1::10", .proto = KEEL_PROTO_TCP, \
	  .sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_ACK, .payload_len = 10, .ttl = 33, \
	  .tos = 0x2e, __VA_ARGS__ }

/* The stage: parse_len() on the row's frame (its own checks included). */
static int parse_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	(void)c, (void)ctx;
	return parse_len(b->data, b->len, p);
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
		cmocka_unit_test(test_ip4_tcp_basic),
		cmocka_unit_test(test_parse_cases),
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_ip4_options),
		cmocka_unit_test(test_ip6_tcp_basic),
		cmocka_unit_test(test_ip6_payload_limit),
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
