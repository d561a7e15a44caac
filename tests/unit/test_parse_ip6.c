/* The parse stage over IPv6: the fixed header, the payload limit, every extension header kind, their order, count and truncation, fragments. */
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
#include "pktgen.h"

/* ---- IPv6 ---- */

static void test_ip6_tcp_basic(void **state)
{
	struct pktgen g = parsefix_tcp6();
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = parsefix_build(buf, &g);
	assert_int_equal(len, 14 + 40 + 20 + 10);
	/* Flow label set: must not leak into the traffic class. */
	buf[15] |= 0x0a;
	buf[16] = 0xbc;
	buf[17] = 0xde;
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	parsefix_assert_addr(p.key.src, 6, "2001:db8::7");
	parsefix_assert_addr(p.key.dst, 6, "2001:db8:1::10");
	assert_int_equal(parsefix_get16(&p.key.sport), 40000);
	assert_int_equal(parsefix_get16(&p.key.dport), 443);
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
	parsefix_put16(buf + 12, 0x86dd);
	buf[14] = 0x60;
	buf[14 + 6] = 59; /* No Next Header */
	buf[14 + 7] = 64;
	buf[14 + 8] = 0x20;
	parsefix_put16(buf + 18, 65535 - 54);
	assert_int_equal(parsefix_parse(buf, 65535, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l3_len, 65535 - 14);
	assert_int_equal(p.key.proto, 59);
	parsefix_put16(buf + 18, 65535 - 53);
	assert_int_equal(parsefix_parse(buf, cap, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
	parsefix_put16(buf + 18, 65535);
	assert_int_equal(parsefix_parse(buf, cap, &p), KEEL_DROP_IP6_PAYLOAD_LENGTH);
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

	memset(buf, 0, PARSEFIX_BUF_CAP);
	memcpy(buf, pktgen_lb_mac, 6);
	memcpy(buf + 6, pktgen_client_mac, 6);
	parsefix_put16(buf + 12, 0x86dd);
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
			parsefix_put16(buf + off + 2, ext[i].frag);
			parsefix_put16(buf + off + 4, 0xcafe);
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
		parsefix_put16(buf + off, 40000);
		parsefix_put16(buf + off + 2, 443);
		buf[off + 12] = 0x50;
		buf[off + 13] = KEEL_TCP_SYN;
	}
	off += l4_len;
	parsefix_put16(buf + 14 + 4, (uint16_t)(off - 54));
	return off;
}

static void test_ip6_exthdr_kinds(void **state)
{
	static const uint8_t kinds[] = { 0, 43, 60 };
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t i, len;
	uint8_t units;

	(void)state;
	for (i = 0; i < 3; i++) {
		for (units = 1; units <= 3; units++) {
			struct ext6 e = { .type = kinds[i], .units = units };

			len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
			assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
			assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
			assert_int_equal(p.l4_off, 54 + units * 8);
			assert_int_equal(p.l3_len, 40 + units * 8 + 20);
			assert_int_equal(parsefix_get16(&p.key.sport), 40000);
			assert_int_equal(parsefix_get16(&p.key.dport), 443);
			assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);
			assert_int_equal(p.flags, 0);
		}
	}
	/* pktgen's own Hop-by-Hop header, with UDP. */
	{
		struct pktgen g = parsefix_tcp6();

		g.proto = KEEL_PROTO_UDP;
		g.ip6_hbh_len = 2;
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 54 + 16);
		assert_int_equal(parsefix_get16(&p.key.dport), 443);
	}
	/* A full legal chain: HBH, DO, RH, Fragment (first), DO, TCP. */
	{
		struct ext6 e[] = {
			{ 0, 1, 0 }, { 60, 2, 0 }, { 43, 3, 0 }, { 44, 1, 0x0001 }, { 60, 1, 0 },
		};

		len = build6_chain(buf, e, 5, KEEL_PROTO_TCP, 20 + 4);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(p.l4_off, 54 + 8 + 16 + 24 + 8 + 8);
		assert_int_equal(parsefix_get16(&p.key.dport), 443);
	}
	/* No Next Header after a Destination Options header: proto 59, no ports. */
	{
		struct ext6 e = { 60, 1, 0 };

		len = build6_chain(buf, &e, 1, 59, 0);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, 59);
		assert_int_equal(p.l4_off, 62);
		assert_int_equal(p.key.sport, 0);
		assert_int_equal(p.key.dport, 0);
		/* And directly after the IPv6 header, with stray bytes after it. */
		len = build6_chain(buf, NULL, 0, 59, 12);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
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
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ext6 e = { .type = 43, .units = 3 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
		buf[54 + 2] = cases[i].type;
		buf[54 + 3] = cases[i].segments_left;
		assert_int_equal(parsefix_parse(buf, len, &p), cases[i].want);
		if (cases[i].want == KEEL_DROP_NONE) {
			assert_int_equal(p.l4_off, 54 + 24);
			assert_int_equal(parsefix_get16(&p.key.dport), 443);
		}
	}
	/* Behind Hop-by-Hop and Destination Options, and a second (spent) one before it: still found. */
	{
		struct ext6 e[] = { { 0, 1, 0 }, { 43, 1, 0 }, { 60, 1, 0 }, { 43, 2, 0 } };

		len = build6_chain(buf, e, 4, KEEL_PROTO_TCP, 20);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		buf[54 + 24 + 2] = 4;
		buf[54 + 24 + 3] = 1;
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT);
	}
	/* In the unfragmentable part: every fragment refused alike, the later ones too. */
	{
		struct ext6 first[] = { { 43, 1, 0 }, { 44, 1, 0x0001 } };
		struct ext6 later[] = { { 43, 1, 0 }, { 44, 1, 0x0100 } };

		len = build6_chain(buf, first, 2, KEEL_PROTO_TCP, 24);
		buf[54 + 3] = 3;
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT);
		len = build6_chain(buf, later, 2, KEEL_PROTO_TCP, 24);
		buf[54 + 2] = 0;
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_ROUTING_TYPE0);
	}
	/* A malformed chain is named as such first: the truncated header's fields are never read. */
	{
		struct ext6 e = { 43, 2, 0 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 0);
		buf[54 + 3] = 1;
		assert_int_equal(len, 54 + 16);
		parsefix_put16(buf + 14 + 4, 12);
		assert_int_equal(parsefix_parse(buf, 54 + 12, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	}
}

static void test_ip6_exthdr_order(void **state)
{
	struct ext6 e[] = { { 60, 1, 0 }, { 0, 1, 0 } };
	struct ext6 f[] = { { 0, 1, 0 }, { 0, 1, 0 } };
	struct ext6 h[] = { { 44, 1, 0x0001 }, { 0, 1, 0 } };
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = build6_chain(buf, e, 2, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
	len = build6_chain(buf, f, 2, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
	len = build6_chain(buf, h, 2, KEEL_PROTO_TCP, 24);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_ORDER);
}

static void test_ip6_exthdr_too_many(void **state)
{
	struct ext6 e[KEEL_PARSE_MAX_EXTHDRS + 1];
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t i, len;

	(void)state;
	for (i = 0; i < KEEL_PARSE_MAX_EXTHDRS + 1; i++)
		e[i] = (struct ext6){ .type = i & 1 ? 43 : 60, .units = 1 };
	/* Exactly the limit is walked. */
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.l4_off, 54 + 8 * KEEL_PARSE_MAX_EXTHDRS);
	assert_int_equal(parsefix_get16(&p.key.dport), 443);
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS + 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TOO_MANY);
	/* A Fragment header as the one too many. */
	e[KEEL_PARSE_MAX_EXTHDRS] = (struct ext6){ .type = 44, .frag = 0x0001 };
	len = build6_chain(buf, e, KEEL_PARSE_MAX_EXTHDRS + 1, KEEL_PROTO_TCP, 24);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TOO_MANY);
}

static void test_ip6_exthdr_truncated(void **state)
{
	struct ext6 e = { 60, 2, 0 };
	struct ext6 fr = { 44, 1, 0x0001 };
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* Header claims 16 bytes; the payload (and frame) hold 12. */
	len = build6_chain(buf, &e, 1, 59, 0);
	parsefix_put16(buf + 18, 12);
	assert_int_equal(parsefix_parse(buf, len - 4, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* The frame has the bytes, but the payload length ends inside the header. */
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Fewer than 8 bytes: not even the fixed part. */
	parsefix_put16(buf + 18, 4);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Payload length 0 with a Hop-by-Hop header (a jumbogram): not supported. */
	e.type = 0;
	len = build6_chain(buf, &e, 1, 59, 0);
	parsefix_put16(buf + 18, 0);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
	/* Fragment header cut short. */
	len = build6_chain(buf, &fr, 1, KEEL_PROTO_TCP, 0);
	parsefix_put16(buf + 18, 7);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_EXTHDR_TRUNCATED);
}

static void test_ip6_frag(void **state)
{
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* First fragment: ports read. */
	{
		struct pktgen g = parsefix_tcp6();

		g.ip6_frag_hdr = true;
		g.more_frags = true;
		g.payload_len = 36;
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(p.key.proto, KEEL_PROTO_TCP);
		assert_int_equal(p.l4_off, 62);
		assert_int_equal(parsefix_get16(&p.key.sport), 40000);
		assert_int_equal(parsefix_get16(&p.key.dport), 443);
	}
	/* Later fragment: proto from the Fragment header, no ports, l4_off after it. */
	{
		struct pktgen g = parsefix_tcp6();

		g.ip6_frag_hdr = true;
		g.frag_offset = 100;
		g.payload_len = 20;
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
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
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	}
	/* A later ICMPv6 fragment: payload is not read as ICMP. */
	{
		struct pktgen g = parsefix_tcp6();

		g.proto = KEEL_PROTO_ICMPV6;
		g.icmp_type = 1;
		g.ip6_frag_hdr = true;
		g.frag_offset = 3;
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.key.proto, KEEL_PROTO_ICMPV6);
		assert_int_equal(p.icmp_type, 0);
		assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	}
	/* First UDP fragment: UDP length covers the datagram, bigger than this piece. */
	{
		struct pktgen g = parsefix_tcp6();

		g.proto = KEEL_PROTO_UDP;
		g.ip6_frag_hdr = true;
		g.more_frags = true;
		g.payload_len = 16;
		len = parsefix_build(buf, &g);
		parsefix_put16(buf + 62 + 4, 4000);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.flags, KEEL_PKT_FRAG);
		assert_int_equal(parsefix_get16(&p.key.dport), 443);
		parsefix_put16(buf + 62 + 4, 6);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_UDP_LENGTH);
	}
	/* A first fragment whose TCP header did not fit (RFC 7112). */
	{
		struct ext6 e = { 44, 1, 0x0001 };

		len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 16);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_L4_TRUNCATED);
	}
}

static void test_ip6_atomic_frag(void **state)
{
	struct pktgen g = parsefix_tcp6();
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* RFC 6946: offset 0, M clear is a whole packet, not a fragment. */
	g.ip6_frag_hdr = true;
	len = parsefix_build(buf, &g);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.l4_off, 62);
	assert_int_equal(parsefix_get16(&p.key.sport), 40000);
	assert_int_equal(p.tcp_flags, KEEL_TCP_ACK);
	/* Reserved fields (byte 1 and the 2 bits before M) are ignored (RFC 8200 4.5). */
	buf[54 + 1] = 0xff;
	buf[54 + 3] |= 0x06;
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(parsefix_get16(&p.key.dport), 443);
}

static void test_ip6_frag_invalid(void **state)
{
	struct ext6 two[] = { { 44, 1, 0x0001 }, { 44, 1, 0x0001 } };
	struct ext6 e = { 44, 1, 0x0001 };
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	/* Two Fragment headers. */
	len = build6_chain(buf, two, 2, KEEL_PROTO_TCP, 24);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	/* M set, fragment data not a multiple of 8 (RFC 8200 4.5). */
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	/* Same length as the last fragment (M clear) is fine. */
	e.frag = 10 << 3;
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 20);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	assert_int_equal(p.flags, KEEL_PKT_FRAG | KEEL_PKT_FRAG_LATER);
	/* Reassembly past 65535 bytes: 8191 * 8 + 8 > 65535. */
	e.frag = (uint16_t)(8191 << 3);
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 8);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_IP6_FRAG_INVALID);
	len = build6_chain(buf, &e, 1, KEEL_PROTO_TCP, 7);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
