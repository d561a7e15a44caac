/* The parse stage over Ethernet, VLAN and IPv4 frames (verdicts and metadata), and its robustness: every prefix, random mutations, the fast path. */
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

/* The IPv4 header checksum again, after a test changed the header. */
static void fix_ip4_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	parsefix_put16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
}

/* ---- Ethernet and VLAN ---- */

static void test_ip4_tcp_basic(void **state)
{
	struct pktgen g = parsefix_tcp4();
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len;

	(void)state;
	len = parsefix_build(buf, &g);
	assert_int_equal(len, 54);
	assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
	parsefix_assert_addr(p.key.src, 4, "198.51.100.7");
	parsefix_assert_addr(p.key.dst, 4, "203.0.113.10");
	assert_int_equal(parsefix_get16(&p.key.sport), 40000);
	assert_int_equal(parsefix_get16(&p.key.dport), 443);
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
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t len, opt, i;

	(void)state;
	for (opt = 4; opt <= 40; opt += 4) {
		struct pktgen g = parsefix_tcp4();

		g.ip4_opt_len = (uint8_t)opt;
		g.payload_len = 3;
		len = parsefix_build(buf, &g);
		/*
		 * Fill the options with bytes that read as ports 0xdead -> 0xbeef and
		 * a data offset of 5 if the parser looked at IP + 20 for TCP.
		 */
		for (i = 0; i < opt; i++)
			buf[34 + i] = (uint8_t[]){ 0xde, 0xad, 0xbe, 0xef }[i % 4];
		if (opt >= 16)
			buf[34 + 12] = 0x50;
		fix_ip4_csum(buf + 14);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 34 + opt);
		assert_int_equal(p.l3_len, 20 + opt + 20 + 3);
		assert_int_equal(parsefix_get16(&p.key.sport), 40000);
		assert_int_equal(parsefix_get16(&p.key.dport), 443);
		assert_int_equal(p.tcp_flags, KEEL_TCP_SYN);
	}
	/* UDP behind options, with VLAN. */
	{
		struct pktgen g = parsefix_tcp4();

		g.proto = KEEL_PROTO_UDP;
		g.sport = 1111;
		g.dport = 2222;
		g.ip4_opt_len = 12;
		g.vlan = 5;
		len = parsefix_build(buf, &g);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		assert_int_equal(p.l4_off, 18 + 32);
		assert_int_equal(parsefix_get16(&p.key.sport), 1111);
		assert_int_equal(parsefix_get16(&p.key.dport), 2222);
	}
}

/* ---- Robustness ---- */

/* Every strict prefix of an unpadded valid frame is refused with a reason, never read past. */
static void test_prefixes(void **state)
{
	struct pktgen gens[8];
	uint8_t buf[PARSEFIX_BUF_CAP];
	struct keel_pkt p;
	size_t i, len, cut;

	(void)state;
	gens[0] = parsefix_tcp4();
	gens[1] = parsefix_tcp4();
	gens[1].ip4_opt_len = 24;
	gens[1].vlan = 9;
	gens[2] = parsefix_tcp4();
	gens[2].proto = KEEL_PROTO_UDP;
	gens[3] = parsefix_tcp4();
	gens[3].proto = KEEL_PROTO_ICMP;
	gens[4] = parsefix_tcp6();
	gens[5] = parsefix_tcp6();
	gens[5].ip6_hbh_len = 3;
	gens[5].ip6_frag_hdr = true;
	gens[5].more_frags = true;
	gens[5].payload_len = 12;
	gens[6] = parsefix_tcp6();
	gens[6].proto = KEEL_PROTO_ICMPV6;
	gens[6].vlan = 100;
	gens[7] = parsefix_tcp4();
	gens[7].frag_offset = 20;
	for (i = 0; i < 8; i++) {
		len = parsefix_build(buf, &gens[i]);
		assert_int_equal(parsefix_parse(buf, len, &p), KEEL_DROP_NONE);
		for (cut = 0; cut < len; cut++)
			assert_int_not_equal(parsefix_parse(buf, cut, &p), KEEL_DROP_NONE);
	}
}

/* Deterministic random mutations of valid frames: checks in parsefix_parse must hold for all. */
static void test_mutations(void **state)
{
	uint8_t base[PARSEFIX_BUF_CAP], buf[PARSEFIX_BUF_CAP];
	uint32_t rng = 0x12345678;
	struct keel_pkt p;
	size_t blen, len, i, k;
	unsigned int accepted = 0;

	(void)state;
	for (i = 0; i < 40000; i++) {
		struct pktgen g = (i & 1) ? parsefix_tcp6() : parsefix_tcp4();

		g.proto = (uint8_t[]){ 6, 17, 1, 58, 47 }[i % 5];
		if (i & 2)
			g.vlan = 12;
		if (i & 4)
			g.ip6_hbh_len = 1;
		if (i & 8)
			g.ip4_opt_len = 8;
		if ((i & 48) == 16)
			g.ip6_frag_hdr = true;
		blen = parsefix_build(base, &g);
		memcpy(buf, base, blen);
		for (k = 0; k < 1 + (i % 4); k++) {
			rng = rng * 1103515245u + 12345u;
			buf[(rng >> 8) % blen] ^= (uint8_t)(1u << ((rng >> 4) & 7));
		}
		rng = rng * 1103515245u + 12345u;
		len = (rng >> 16) % 8 ? blen : (rng >> 4) % (blen + 1);
		if (parsefix_parse(buf, len, &p) == KEEL_DROP_NONE)
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
	uint8_t buf[PARSEFIX_BUF_CAP];
	uint32_t rng = 0x9abcdef1;
	struct keel_pkt fast, full;
	size_t blen, len, i, k;
	unsigned int accepted = 0;

	(void)state;
	for (i = 0; i < 40000; i++) {
		struct pktgen g = (i % 4 == 3) ? parsefix_tcp6() : parsefix_tcp4();
		enum keel_drop rf, rs;

		g.proto = (i & 4) ? 17 : 6;
		if (i % 16 == 8)
			g.ip4_opt_len = 4;
		blen = parsefix_build(buf, &g);
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
		cmocka_unit_test(test_ip4_options),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
