/* Unit tests for the ICMP stage: echo replies, "too big" errors and the flow key of ICMP errors, checked byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "icmp.h"
#include "pkt_case.h"
#include "pktgen.h"

#define MEM_SIZE 4096
#define HEADROOM 128

/* The port the frames arrive on: pktgen addresses them to its MAC. */
static struct keel_port port = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }, .mtu = 1500 };

struct frame {
	uint8_t mem[MEM_SIZE];
	struct keel_buf b;
	struct keel_pkt p;
	size_t len;
	uint8_t orig[MEM_SIZE]; /* the frame as built */
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int is_icmp_error(int family, uint8_t type)
{
	if (family == 6)
		return type < 128;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/*
 * Fill p from a pktgen frame as keel_parse would for the cases used here
 * (kept local so these tests do not depend on the parser). IPv6 hop-by-hop
 * and fragment headers are walked.
 */
static void fill_pkt(const uint8_t *f, struct keel_pkt *p)
{
	uint16_t off = 12;
	const uint8_t *ip, *l4;

	memset(p, 0, sizeof(*p));
	if (rd16(f + 12) == 0x8100) {
		p->flags |= KEEL_PKT_VLAN;
		p->vlan_tci = rd16(f + 14);
		off = 16;
	}
	p->l3_off = (uint16_t)(off + 2);
	ip = f + p->l3_off;
	if (rd16(f + off) == 0x86dd) {
		uint8_t nh = ip[6];
		uint16_t l4o = 40;

		p->key.family = KEEL_AF_INET6;
		p->l3_len = (uint16_t)(40 + rd16(ip + 4));
		p->ttl = ip[7];
		while (nh == 0 || nh == 44) {
			if (nh == 44) {
				p->flags |= KEEL_PKT_FRAG;
				if (rd16(ip + l4o + 2) & 0xfff8)
					p->flags |= KEEL_PKT_FRAG_LATER;
				nh = ip[l4o];
				l4o += 8;
			} else {
				nh = ip[l4o];
				l4o = (uint16_t)(l4o + (ip[l4o + 1] + 1) * 8);
			}
		}
		p->key.proto = nh;
		p->l4_off = (uint16_t)(p->l3_off + l4o);
		memcpy(p->key.src, ip + 8, 16);
		memcpy(p->key.dst, ip + 24, 16);
	} else {
		p->key.family = KEEL_AF_INET4;
		p->l3_len = rd16(ip + 2);
		p->l4_off = (uint16_t)(p->l3_off + (ip[0] & 0x0f) * 4);
		p->ttl = ip[8];
		p->key.proto = ip[9];
		if (ip[6] & 0x40)
			p->flags |= KEEL_PKT_DF;
		if (rd16(ip + 6) & 0x3fff)
			p->flags |= KEEL_PKT_FRAG;
		if (rd16(ip + 6) & 0x1fff)
			p->flags |= KEEL_PKT_FRAG_LATER;
		memcpy(p->key.src, ip + 12, 4);
		memcpy(p->key.dst, ip + 16, 4);
	}
	if (p->flags & KEEL_PKT_FRAG_LATER)
		return;
	l4 = f + p->l4_off;
	if (p->key.proto == KEEL_PROTO_ICMP || p->key.proto == KEEL_PROTO_ICMPV6) {
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		if (is_icmp_error(p->key.family, l4[0]))
			p->flags |= KEEL_PKT_ICMP_ERROR;
	} else if (p->key.proto == KEEL_PROTO_TCP || p->key.proto == KEEL_PROTO_UDP) {
		memcpy(&p->key.sport, l4, 2);
		memcpy(&p->key.dport, l4 + 2, 2);
	}
}

static void frame_build(struct frame *fr, const struct pktgen *g, uint16_t headroom)
{
	memset(fr, 0, sizeof(*fr));
	fr->len = pktgen_build(fr->mem + headroom, MEM_SIZE - headroom, g);
	assert_true(fr->len > 0);
	fr->b.data = fr->mem + headroom;
	fr->b.len = (uint16_t)fr->len;
	fr->b.headroom = headroom;
	fr->b.tailroom = (uint16_t)(MEM_SIZE - headroom - fr->len);
	memcpy(fr->orig, fr->b.data, fr->len);
	fill_pkt(fr->b.data, &fr->p);
}

static uint32_t room(const struct keel_buf *b)
{
	return (uint32_t)b->headroom + b->len + b->tailroom;
}

/* ---- echo ---- */

static const struct pktgen ping4 = {
	.family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 1,
	.icmp_type = 8, .payload_len = 56, .ttl = 57, .tos = 0x10,
};

static const struct pktgen ping6 = {
	.family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 58,
	.icmp_type = 128, .payload_len = 57, .ttl = 57,
};

/* A DF TCP packet from the VIP's client, for the too-big answer. */
static const struct pktgen tcp4_big = {
	.family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 6,
	.sport = 40000, .dport = 80, .payload_len = 100, .df = true,
};

static void test_echo_v4(void **state)
{
	struct pktgen g = ping4;
	static struct frame fr;
	uint8_t exp[14 + 84];
	uint32_t r;

	(void)state;
	g.pad = 4;
	frame_build(&fr, &g, HEADROOM);
	r = room(&fr.b);
	assert_int_equal(fr.len, 14 + 84 + 4);

	/* Expected: the request with MACs, addresses, TTL, type and checksums changed. */
	memcpy(exp, fr.orig, sizeof(exp));
	memcpy(exp, pktgen_client_mac, 6);
	memcpy(exp + 6, pktgen_lb_mac, 6);
	memcpy(exp + 14 + 12, ((const uint8_t[]){ 198, 51, 100, 10, 192, 0, 2, 1 }), 8);
	exp[14 + 8] = 64;
	wr16(exp + 14 + 10, 0);
	wr16(exp + 14 + 10, pktgen_csum(exp + 14, 20));
	exp[34] = 0;
	wr16(exp + 36, 0);
	wr16(exp + 36, pktgen_csum(exp + 34, 64));

	assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &port), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, sizeof(exp)); /* padding trimmed */
	assert_ptr_equal(fr.b.data, fr.mem + HEADROOM);
	assert_int_equal(room(&fr.b), r);
	assert_memory_equal(fr.b.data, exp, sizeof(exp));
	assert_true(pktgen_ip4_csum_ok(fr.b.data + 14));
	assert_true(pktgen_l4_csum_ok(4, fr.b.data + 14, fr.b.data + 34, 64, 1));
	assert_int_equal(fr.b.data[15], 0x10); /* TOS kept */
}

static void test_echo_v6_vlan(void **state)
{
	struct pktgen g = ping6;
	static struct frame fr;
	uint8_t exp[18 + 40 + 65];

	(void)state;
	g.vlan = 42;
	frame_build(&fr, &g, HEADROOM);
	memcpy(exp, fr.orig, sizeof(exp));
	memcpy(exp, pktgen_client_mac, 6);
	memcpy(exp + 6, pktgen_lb_mac, 6);
	memcpy(exp + 18 + 8, fr.orig + 18 + 24, 16);
	memcpy(exp + 18 + 24, fr.orig + 18 + 8, 16);
	exp[18 + 7] = 64;
	exp[58] = 129;

	assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &port), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, sizeof(exp));
	/* Everything but the checksum as expected; the checksum checked independently. */
	exp[60] = fr.b.data[60];
	exp[61] = fr.b.data[61];
	assert_memory_equal(fr.b.data, exp, sizeof(exp));
	assert_int_equal(rd16(fr.b.data + 14), 42);
	assert_true(pktgen_l4_csum_ok(6, fr.b.data + 18, fr.b.data + 58, 65, 58));
}

/* The incremental update must also be right where the old checksum wraps. */
static void test_echo_checksum_sweep(void **state)
{
	static struct frame fr;
	unsigned int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		struct pktgen g = ping4;
		uint8_t l4[16] = { 8, 0, 0, 0, 0, 0, 0, 0 };

		wr16(l4 + 4, (uint16_t)(i * 0xdb));
		l4[6] = (uint8_t)i;
		l4[8] = (uint8_t)(i * 7);
		g.l4_override = l4;
		g.l4_override_len = sizeof(l4);
		frame_build(&fr, &g, HEADROOM);
		assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &port), KEEL_DROP_NONE);
		assert_true(pktgen_l4_csum_ok(4, fr.b.data + 14, fr.b.data + 34, 16, 1));
		g = ping6;
		g.l4_override = l4;
		g.l4_override_len = sizeof(l4);
		l4[0] = 128;
		frame_build(&fr, &g, HEADROOM);
		assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &port), KEEL_DROP_NONE);
		assert_true(pktgen_l4_csum_ok(6, fr.b.data + 14, fr.b.data + 54, 16, 58));
	}
}

/* Answers come from the port's own MAC, whatever the request was sent to (issue 14 item 2). */
static void test_echo_from_port_mac(void **state)
{
	static const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x77 };
	static struct frame fr;
	struct keel_port p2 = port;

	(void)state;
	memcpy(p2.mac, other, 6);
	frame_build(&fr, &ping4, HEADROOM);
	assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &p2), KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data, pktgen_client_mac, 6);
	assert_memory_equal(fr.b.data + 6, other, 6);

	frame_build(&fr, &tcp4_big, HEADROOM);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, other, 1280), KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data, pktgen_client_mac, 6);
	assert_memory_equal(fr.b.data + 6, other, 6);
}

/* Item 4: a request whose ICMP checksum is wrong is not answered, in either family; nor one whose reply exceeds the MTU. */
static void test_echo_checksum_and_mtu(void **state)
{
	static struct frame fr;
	struct keel_port small = port;
	unsigned int i;

	(void)state;
	/* Every single-bit error in the message is caught (RFC 1071: one's complement sum). */
	for (i = 0; i < 8 * 16; i++) {
		struct pktgen g = i & 1 ? ping6 : ping4;
		uint32_t l4 = g.family == 6 ? 14 + 40 : 14 + 20;

		frame_build(&fr, &g, HEADROOM);
		fr.b.data[l4 + i / 8] ^= (uint8_t)(1u << (i % 8));
		memcpy(fr.orig, fr.b.data, fr.len);
		assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &port), KEEL_DROP_ICMP_CHECKSUM);
		assert_memory_equal(fr.b.data, fr.orig, fr.len); /* untouched */
	}
	/* ping4 is 84 bytes of IP: answered at MTU 84, refused at 83. */
	small.mtu = 84;
	frame_build(&fr, &ping4, HEADROOM);
	assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &small), KEEL_DROP_NONE);
	small.mtu = 83;
	frame_build(&fr, &ping4, HEADROOM);
	assert_int_equal(icmp_echo_reply(&fr.b, &fr.p, &small), KEEL_DROP_ECHO_TOO_BIG);
	assert_memory_equal(fr.b.data, fr.orig, fr.len);
}

/* ---- too big ---- */

static const struct pktgen tcp4 = {
	.family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 6,
	.sport = 40000, .dport = 80, .payload_len = 100, .df = true,
};

static const struct pktgen tcp6 = {
	.family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 6,
	.sport = 40000, .dport = 443, .payload_len = 100,
};

static void test_too_big_v4(void **state)
{
	struct pktgen g = tcp4;
	static struct frame fr;
	uint8_t exp[42] = {
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* to the client's MAC */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* from ours */
		0x08, 0x00,
		0x45, 0xc0, 0x00, 0xa8,             /* precedence 6, 20 + 8 + 140 */
		0x00, 0x00, 0x00, 0x00,
		0x40, 0x01, 0x00, 0x00,             /* TTL 64, ICMP */
		198, 51, 100, 10,                   /* from the VIP */
		192, 0, 2, 1,
		0x03, 0x04, 0x00, 0x00,             /* fragmentation needed */
		0x00, 0x00, 0x05, 0x64,             /* next-hop MTU 1380 */
	};
	uint32_t r;

	(void)state;
	g.pad = 6;
	frame_build(&fr, &g, HEADROOM);
	r = room(&fr.b);
	wr16(exp + 24, pktgen_csum(exp + 14, 20));
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1380), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, 42 + 140);
	assert_int_equal(fr.b.headroom, HEADROOM - 28);
	assert_ptr_equal(fr.b.data, fr.mem + fr.b.headroom);
	assert_int_equal(room(&fr.b), r);
	/* Checksum of the ICMP message, with the quote, by the naive code. */
	{
		uint8_t msg[8 + 140];

		memcpy(msg, exp + 34, 8);
		memcpy(msg + 8, fr.orig + 14, 140);
		wr16(exp + 36, pktgen_csum(msg, sizeof(msg)));
	}
	assert_memory_equal(fr.b.data, exp, sizeof(exp));
	assert_memory_equal(fr.b.data + 42, fr.orig + 14, 140);
	assert_true(pktgen_ip4_csum_ok(fr.b.data + 14));
	assert_true(pktgen_l4_csum_ok(4, fr.b.data + 14, fr.b.data + 34, 8 + 140, 1));
}

/* A full-size packet: the error stops at 576 bytes (RFC 1812 4.3.2.3); the VLAN tag stays. */
static void test_too_big_v4_quote_limit(void **state)
{
	struct pktgen g = tcp4;
	static struct frame fr;

	(void)state;
	g.payload_len = 1460;
	g.vlan = 0x3fff;
	frame_build(&fr, &g, HEADROOM);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1400), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, 18 + 576);
	assert_int_equal(rd16(fr.b.data + 12), 0x8100);
	assert_int_equal(rd16(fr.b.data + 14), 0x3fff);
	assert_int_equal(rd16(fr.b.data + 16), 0x0800);
	assert_int_equal(rd16(fr.b.data + 18 + 2), 576);
	assert_int_equal(rd16(fr.b.data + 18 + 20 + 6), 1400);
	assert_memory_equal(fr.b.data + 18 + 28, fr.orig + 18, 576 - 28);
	assert_true(pktgen_ip4_csum_ok(fr.b.data + 18));
	assert_true(pktgen_l4_csum_ok(4, fr.b.data + 18, fr.b.data + 38, 556, 1));
}

static void test_too_big_v6(void **state)
{
	static struct frame fr;
	uint8_t exp[62] = {
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x86, 0xdd,
		0x60, 0x00, 0x00, 0x00,
		0x00, 0xa8, 0x3a, 0x40,             /* 8 + 160, ICMPv6, hop limit 64 */
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00,             /* packet too big; checksum checked apart */
		0x00, 0x00, 0x05, 0x00,             /* MTU 1280 */
	};

	(void)state;
	frame_build(&fr, &tcp6, HEADROOM);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1280), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, 62 + 160);
	assert_int_equal(fr.b.headroom, HEADROOM - 48);
	exp[56] = fr.b.data[56];
	exp[57] = fr.b.data[57];
	assert_memory_equal(fr.b.data, exp, sizeof(exp));
	assert_memory_equal(fr.b.data + 62, fr.orig + 14, 160);
	assert_true(pktgen_l4_csum_ok(6, fr.b.data + 14, fr.b.data + 54, 168, 58));
}

/* RFC 4443 2.4(c): as much as fits in the minimum MTU, with an odd quote length. */
static void test_too_big_v6_quote_limit(void **state)
{
	struct pktgen g = tcp6;
	static struct frame fr;

	(void)state;
	g.proto = 17;
	g.payload_len = 1451;
	frame_build(&fr, &g, HEADROOM);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1400), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, 14 + 1280);
	assert_int_equal(rd16(fr.b.data + 14 + 4), 1240);
	assert_memory_equal(fr.b.data + 14 + 48, fr.orig + 14, 1232);
	assert_true(pktgen_l4_csum_ok(6, fr.b.data + 14, fr.b.data + 54, 1240, 58));

	g.payload_len = 1231 - 48; /* quote of 1231 bytes: just under the limit */
	frame_build(&fr, &g, HEADROOM);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1400), KEEL_DROP_NONE);
	assert_int_equal(fr.b.len, 14 + 1279);
	assert_true(pktgen_l4_csum_ok(6, fr.b.data + 14, fr.b.data + 54, 1239, 58));
}

static void test_too_big_no_headroom(void **state)
{
	static struct frame fr;
	struct keel_buf bb;

	(void)state;
	frame_build(&fr, &tcp4, 27);
	bb = fr.b;
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1000), KEEL_DROP_NO_HEADROOM);
	assert_memory_equal(&fr.b, &bb, sizeof(bb));
	assert_memory_equal(fr.b.data, fr.orig, fr.len);
	frame_build(&fr, &tcp4, 28);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1000), KEEL_DROP_NONE);
	assert_int_equal(fr.b.headroom, 0);

	frame_build(&fr, &tcp6, 47);
	assert_int_equal(icmp_too_big(&fr.b, &fr.p, port.mac, 1280), KEEL_DROP_NO_HEADROOM);
	assert_memory_equal(fr.b.data, fr.orig, fr.len);
}

/* ---- flow key of an ICMP error ---- */

/*
 * Build an ICMP error frame (from a router to the VIP) quoting the first
 * quote_len bytes of the packet q (as sent by the VIP to the client).
 */
static void error_frame(struct frame *fr, int family, uint8_t type, const struct pktgen *q,
			size_t quote_len)
{
	uint8_t qbuf[1600], l4[1600];
	struct pktgen g = { 0 };
	size_t n;

	n = pktgen_build_ip(qbuf, sizeof(qbuf), q);
	assert_true(n >= quote_len);
	memset(l4, 0, 8);
	l4[0] = type;
	l4[1] = family == 6 ? 0 : 4;
	memcpy(l4 + 8, qbuf, quote_len);
	g.family = family;
	g.src = family == 6 ? "2001:db8:ff::1" : "203.0.113.1";
	g.dst = family == 6 ? "2001:db8:1::10" : "198.51.100.10";
	g.proto = family == 6 ? 58 : 1;
	g.l4_override = l4;
	g.l4_override_len = (uint16_t)(8 + quote_len);
	frame_build(fr, &g, HEADROOM);
	assert_true(fr->p.flags & KEEL_PKT_ICMP_ERROR);
}

/* What the VIP sent to the client: a reply of the connection 192.0.2.1:40000 -> VIP:80. */
static const struct pktgen reply4 = {
	.family = 4, .src = "198.51.100.10", .dst = "192.0.2.1", .proto = 6,
	.sport = 80, .dport = 40000, .payload_len = 1200,
};

static const struct pktgen reply6 = {
	.family = 6, .src = "2001:db8:1::10", .dst = "2001:db8::1", .proto = 17,
	.sport = 53, .dport = 40001, .payload_len = 1200,
};

static void expect_key(const struct keel_flow_key *k, int family, const char *src,
		       const char *dst, uint16_t sport, uint16_t dport, uint8_t proto)
{
	struct keel_flow_key e;

	memset(&e, 0, sizeof(e));
	pktgen_addr(family, src, e.src);
	pktgen_addr(family, dst, e.dst);
	e.sport = htons(sport);
	e.dport = htons(dport);
	e.proto = proto;
	e.family = (uint8_t)family;
	assert_memory_equal(k, &e, sizeof(e));
}

static void test_error_key_v4_options(void **state)
{
	struct pktgen q = reply4;
	static struct frame fr;
	struct keel_flow_key k;

	(void)state;
	q.ip4_opt_len = 12;
	/* Only the header with options and 8 bytes of TCP (RFC 792). */
	error_frame(&fr, 4, 3, &q, 32 + 8);
	memset(&k, 0xa5, sizeof(k));
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 4, "192.0.2.1", "198.51.100.10", 40000, 80, 6);

	/* One byte short of the 8. */
	error_frame(&fr, 4, 3, &q, 32 + 7);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
}

static void test_error_key_v4_long_quote(void **state)
{
	static struct frame fr;
	struct keel_flow_key k;

	(void)state;
	error_frame(&fr, 4, 3, &reply4, 548);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 4, "192.0.2.1", "198.51.100.10", 40000, 80, 6);
	/* Time exceeded is as good as fragmentation needed. */
	error_frame(&fr, 4, 11, &reply4, 28);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 4, "192.0.2.1", "198.51.100.10", 40000, 80, 6);
}

static void test_error_key_v6(void **state)
{
	static struct frame fr;
	struct keel_flow_key k;

	(void)state;
	error_frame(&fr, 6, 2, &reply6, 1232);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);

	error_frame(&fr, 6, 1, &reply6, 48);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);

	error_frame(&fr, 6, 2, &reply6, 47);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
}

/* Issue 14 item 5: the quoted packet's extension headers are walked as the parser walks them. */
static void test_error_key_v6_exthdrs(void **state)
{
	static struct frame fr;
	struct keel_flow_key k;
	struct pktgen q = reply6;

	(void)state;
	q.ip6_frag_hdr = true; /* first fragment */
	q.more_frags = true;
	error_frame(&fr, 6, 2, &q, 56);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);

	q = reply6; /* Hop-by-Hop (16 bytes), then an atomic fragment */
	q.ip6_hbh_len = 2;
	q.ip6_frag_hdr = true;
	error_frame(&fr, 6, 2, &q, 40 + 16 + 8 + 8);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);
	/* One byte short of the 8 L4 bytes the error must quote. */
	error_frame(&fr, 6, 2, &q, 40 + 16 + 8 + 7);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
}

/*
 * Issue 20 item 15: the parser refuses a Routing header with segments left,
 * but a quoted packet was in flight, its segments not yet used: the quote
 * walk still finds its connection.
 */
static void test_error_key_v6_routing(void **state)
{
	static struct frame fr;
	struct keel_flow_key k;
	struct pktgen q = reply6;
	uint8_t *quoted;

	(void)state;
	q.ip6_hbh_len = 1; /* 8 bytes, made a Routing header below */
	error_frame(&fr, 6, 2, &q, 40 + 8 + 8);
	quoted = fr.b.data + 14 + 40 + 8;
	quoted[6] = 43;
	quoted[40 + 2] = 4; /* SRv6 */
	quoted[40 + 3] = 1; /* one segment left */
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);
	quoted[40 + 2] = 0; /* type 0 */
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k), KEEL_DROP_NONE);
	expect_key(&k, 6, "2001:db8::1", "2001:db8:1::10", 40001, 53, 17);
}

/* Quotes cut short, by the sender or by len: never read past either. */
/* icmp_error_flow_key on an exact-length heap copy of the first n bytes, so ASan sees overreads. */
static enum keel_drop key_cut(const struct frame *fr, uint32_t n, struct keel_flow_key *k)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum keel_drop r;

	assert_non_null(copy);
	memcpy(copy, fr->b.data, n);
	r = icmp_error_flow_key(copy, n, &fr->p, k);
	free(copy);
	return r;
}

static void test_error_key_truncated(void **state)
{
	struct pktgen q = reply4;
	static struct frame fr;
	struct keel_flow_key k;
	uint32_t n;

	(void)state;
	error_frame(&fr, 4, 3, &reply4, 19);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
	error_frame(&fr, 4, 3, &reply4, 0);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* The IP packet claims 28 quoted bytes, the frame holds fewer. */
	error_frame(&fr, 4, 3, &reply4, 28);
	for (n = 0; n < 14 + 20 + 8 + 28; n++)
		assert_int_equal(key_cut(&fr, n, &k), KEEL_DROP_ICMP_ERROR_INNER);
	assert_int_equal(key_cut(&fr, n, &k), KEEL_DROP_NONE);

	/* IHL claims options that the quote does not hold. */
	q.ip4_opt_len = 40;
	error_frame(&fr, 4, 3, &q, 40);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* Same for IPv6, frame cut by len. */
	error_frame(&fr, 6, 2, &reply6, 48);
	for (n = 0; n < 14 + 40 + 8 + 48; n++)
		assert_int_equal(key_cut(&fr, n, &k), KEEL_DROP_ICMP_ERROR_INNER);
	assert_int_equal(key_cut(&fr, n, &k), KEEL_DROP_NONE);
}

static void test_error_key_bad_inner(void **state)
{
	struct pktgen q;
	static struct frame fr;
	struct keel_flow_key k;

	(void)state;
	/* Quoted ICMP: no ports. */
	q = reply4;
	q.proto = 1;
	q.icmp_type = 0;
	error_frame(&fr, 4, 3, &q, 28);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* GRE or anything else. */
	q = reply6;
	q.proto = 47;
	q.l4_override = (const uint8_t[8]){ 0 };
	q.l4_override_len = 8;
	error_frame(&fr, 6, 2, &q, 48);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* IPv6 quote cut inside its extension headers (the walk needs the whole chain). */
	q = reply6;
	q.ip6_hbh_len = 2;
	error_frame(&fr, 6, 2, &q, 48);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* A quoted later fragment carries no ports. */
	q = reply6;
	q.ip6_frag_hdr = true;
	q.frag_offset = 10;
	error_frame(&fr, 6, 2, &q, 56);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* An IPv6 packet quoted in an ICMPv4 error, and the reverse. */
	error_frame(&fr, 4, 3, &reply6, 48);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
	error_frame(&fr, 6, 2, &reply4, 48);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* A quoted non-first fragment carries no ports. */
	q = reply4;
	q.frag_offset = 10;
	error_frame(&fr, 4, 3, &q, 28);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);

	/* Not an error at all. */
	frame_build(&fr, &ping4, HEADROOM);
	assert_int_equal(icmp_error_flow_key(fr.b.data, fr.b.len, &fr.p, &k),
			 KEEL_DROP_ICMP_ERROR_INNER);
}

/* ---- Refusals as one table (lib/pkt_case.h): the verdict, and the frame left as it came ---- */

#define PING4(...) { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 1, .icmp_type = 8, \
		     .payload_len = 56, .ttl = 57, .tos = 0x10, __VA_ARGS__ }
#define PING6(...) { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 58, .icmp_type = 128, \
		     .payload_len = 57, .ttl = 57, __VA_ARGS__ }
#define TCP4(...) { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 6, .sport = 40000, \
		    .dport = 80, .payload_len = 100, .df = true, __VA_ARGS__ }
#define TCP6(...) { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 6, .sport = 40000, \
		    .dport = 443, .payload_len = 100, __VA_ARGS__ }

/* A row's call: an echo reply, or a "too big" answer for this MTU (unflag: clear the ICMP error flag first). */
struct icmp_row {
	uint8_t too_big;
	uint16_t mtu;
	uint8_t unflag;
};

static const struct icmp_row echo = { 0, 0, 0 };
static const struct icmp_row big1000 = { 1, 1000, 0 }, big1280 = { 1, 1280, 0 }, big1000_unflagged = { 1, 1000, 1 };

static int icmp_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	const struct icmp_row *r = c->arg;

	(void)ctx;
	fill_pkt(b->data, p);
	if (r->unflag)
		p->flags &= (uint8_t)~KEEL_PKT_ICMP_ERROR;
	return r->too_big ? icmp_too_big(b, p, port.mac, r->mtu) : icmp_echo_reply(b, p, &port);
}

static const uint8_t short_icmp[4] = { 8, 0, 0, 0 };
/* Quotes of 8 + 28 bytes behind an ICMP header: destination unreachable, a redirect, ICMPv6 unreachable. */
static const uint8_t quote_unreach4[8 + 28] = { 3, 4 };
static const uint8_t quote_redirect[8 + 28] = { 5, 4 };
static const uint8_t quote_unreach6[8 + 28] = { 1, 4 };

static const struct pkt_case refused_cases[] = {
	{ .what = "echo: first fragment", .in = PING4(.more_frags = true), .arg = &echo,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED, .out_mode = PKT_OUT_UNCHANGED },
	{ .what = "echo: ipv6 fragment", .in = PING6(.ip6_frag_hdr = true, .more_frags = true), .arg = &echo,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "echo: IPv4 options", .in = PING4(.ip4_opt_len = 4), .arg = &echo, .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "echo: extension header", .in = PING6(.ip6_hbh_len = 1), .arg = &echo,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "echo: an echo reply is not answered", .in = PING4(.icmp_type = 0), .arg = &echo,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "echo: an ICMPv4 type number in an ICMPv6 packet",
	  .in = PING4(.family = 6, .src = "2001:db8::1", .dst = "2001:db8::2", .proto = 58), .arg = &echo,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "echo: shorter than the 8-byte echo header",
	  .in = PING4(.l4_override = short_icmp, .l4_override_len = sizeof(short_icmp)), .arg = &echo,
	  .want = KEEL_DROP_L4_TRUNCATED, .out_mode = PKT_OUT_UNCHANGED },
	/* An ICMP error about an ICMP error (RFC 1122 3.2.2). */
	{ .what = "too big: about an ICMP error",
	  .in = TCP4(.proto = 1, .l4_override = quote_unreach4, .l4_override_len = sizeof(quote_unreach4)),
	  .arg = &big1000, .want = KEEL_DROP_ICMP_UNSUPPORTED, .out_mode = PKT_OUT_UNCHANGED },
	{ .what = "too big: a redirect, even if not flagged as an error",
	  .in = TCP4(.proto = 1, .l4_override = quote_redirect, .l4_override_len = sizeof(quote_redirect)),
	  .arg = &big1000_unflagged, .want = KEEL_DROP_ICMP_UNSUPPORTED },
	/* RFC 4443 2.4(e). */
	{ .what = "too big: about an ICMPv6 destination unreachable",
	  .in = TCP6(.proto = 58, .l4_override = quote_unreach6, .l4_override_len = sizeof(quote_unreach6)),
	  .arg = &big1280, .want = KEEL_DROP_ICMP_UNSUPPORTED },
	{ .what = "too big: a non-first fragment", .in = TCP4(.frag_offset = 100), .arg = &big1000,
	  .want = KEEL_DROP_ICMP_UNSUPPORTED },
	/* An echo request may get one. */
	{ .what = "too big: an echo request", .in = PING4(.payload_len = 1400), .arg = &big1000, .want = KEEL_DROP_NONE },
	{ .what = "too big: an ICMPv6 echo request", .in = PING6(.payload_len = 1400), .arg = &big1280,
	  .want = KEEL_DROP_NONE },
};

static void test_refused_cases(void **state)
{
	(void)state;
	pkt_case_run(PKT_CASES(refused_cases), icmp_stage, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_cases),
		cmocka_unit_test(test_echo_v4),
		cmocka_unit_test(test_echo_v6_vlan),
		cmocka_unit_test(test_echo_checksum_sweep),
		cmocka_unit_test(test_echo_from_port_mac),
		cmocka_unit_test(test_echo_checksum_and_mtu),
		cmocka_unit_test(test_too_big_v4),
		cmocka_unit_test(test_too_big_v4_quote_limit),
		cmocka_unit_test(test_too_big_v6),
		cmocka_unit_test(test_too_big_v6_quote_limit),
		cmocka_unit_test(test_too_big_no_headroom),
		cmocka_unit_test(test_error_key_v4_options),
		cmocka_unit_test(test_error_key_v4_long_quote),
		cmocka_unit_test(test_error_key_v6),
		cmocka_unit_test(test_error_key_v6_exthdrs),
		cmocka_unit_test(test_error_key_v6_routing),
		cmocka_unit_test(test_error_key_truncated),
		cmocka_unit_test(test_error_key_bad_inner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
