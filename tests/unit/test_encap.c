/* Unit tests for encap_packet: exact outer header bytes for every encapsulation, checksums checked by pktgen's naive code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "encap.h"
#include "encap_cases.h"
#include "pkt_case.h"
#include "pktgen.h"

#define MEM_SIZE 2048
#define HEADROOM 128

/* A frame in a buffer with headroom, and the metadata the parser would give it. */
struct frame {
	uint8_t mem[MEM_SIZE];
	struct keel_buf b;
	struct keel_pkt p;
	uint8_t inner[MEM_SIZE]; /* copy of the IP packet as built */
	uint16_t inner_len;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void frame_build(struct frame *fr, const struct pktgen *g, uint16_t headroom)
{
	size_t len;

	memset(fr, 0, sizeof(*fr));
	len = pktgen_build(fr->mem + headroom, MEM_SIZE - headroom, g);
	assert_true(len > 0);
	fr->b.data = fr->mem + headroom;
	fr->b.len = (uint16_t)len;
	fr->b.headroom = headroom;
	fr->b.tailroom = (uint16_t)(MEM_SIZE - headroom - len);
	encap_fill_pkt(fr->b.data, &fr->p);
	fr->inner_len = fr->p.l3_len;
	memcpy(fr->inner, fr->b.data + fr->p.l3_off, fr->inner_len);
}

static const struct pktgen tcp4 = {
	.family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 6,
	.sport = 40000, .dport = 80, .payload_len = 100, .tos = 0xb9, .ttl = 50,
};

static const struct pktgen tcp6 = {
	.family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 6,
	.sport = 40000, .dport = 443, .payload_len = 100, .tos = 0xb9, .ttl = 50,
};

/* ---- Exact bytes per encapsulation, as one table (lib/encap_cases.c) ---- */
static void test_encap_cases(void **state)
{
	(void)state;
	pkt_case_run(encap_cases, encap_cases_n, encap_stage, NULL);
}

/* Source host bits, UDP source port and flow label follow the entropy; the prefix does not. */
static void test_entropy_ip4(void **state)
{
	struct keel_snapshot s;
	struct keel_backend be;
	static struct frame fr;
	uint32_t e;
	uint16_t mtu;
	uint16_t ports[4];
	int i = 0;

	(void)state;
	encap_snap_init(&s);
	memcpy(s.src4, ((const uint8_t[]){ 10, 1, 2, 0 }), 4);
	s.src4_plen = 24;
	encap_backend_init(&be, 4);
	for (e = 0; e < 4; e++) {
		uint32_t ent = e * 0x40040001u; /* varies the low byte and the top bits */

		frame_build(&fr, &tcp4, HEADROOM);
		assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_GUE, ent, &mtu),
				 KEEL_DROP_NONE);
		assert_int_equal(fr.b.data[26], 10);
		assert_int_equal(fr.b.data[27], 1);
		assert_int_equal(fr.b.data[28], 2);
		/* Host bits of a /24: entropy in bits 1..6, bit 0 set, bit 7 clear. */
		assert_int_equal(fr.b.data[29], 1 | ((uint8_t)ent & 0x7e));
		ports[i] = rd16(fr.b.data + 34);
		assert_true(ports[i] >= 49152);
		i++;
	}
	for (i = 1; i < 4; i++)
		assert_int_not_equal(ports[i], ports[i - 1]);

	/* Never the network or broadcast address, whatever the entropy. */
	for (e = 0; e < 512; e++) {
		uint32_t ent = e * 0x00800001u; /* low byte 0..255, twice, top bits varied */

		frame_build(&fr, &tcp4, HEADROOM);
		assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, ent, &mtu),
				 KEEL_DROP_NONE);
		assert_int_not_equal(fr.b.data[29], 0);
		assert_int_not_equal(fr.b.data[29], 255);
		assert_true(pktgen_ip4_csum_ok(fr.b.data + 14));
	}
	/* /31 (RFC 3021): both addresses are hosts, the entropy picks one. */
	s.src4_plen = 31;
	frame_build(&fr, &tcp4, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 1, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 26, ((const uint8_t[]){ 10, 1, 2, 1 }), 4);
	/* /30: .1 only (.2 would need the entropy bit that keeps .3, the broadcast, out). */
	s.src4_plen = 30;
	frame_build(&fr, &tcp4, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0xffffffff, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 26, ((const uint8_t[]){ 10, 1, 2, 1 }), 4);
	/* /32: no host bits, the address as configured whatever the entropy. */
	s.src4_plen = 32;
	frame_build(&fr, &tcp4, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0xffffffff, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 26, ((const uint8_t[]){ 10, 1, 2, 0 }), 4);
	/* /0: every bit but the top and the lowest is entropy. */
	s.src4_plen = 0;
	frame_build(&fr, &tcp4, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0xc0a80100, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 26, ((const uint8_t[]){ 64, 168, 1, 1 }), 4);
	assert_true(pktgen_ip4_csum_ok(fr.b.data + 14));
}

static void test_entropy_ip6(void **state)
{
	struct keel_snapshot s;
	struct keel_backend be;
	static struct frame fr;
	uint8_t prefix[16];
	uint16_t mtu;

	(void)state;
	encap_snap_init(&s);
	pktgen_addr(6, "fd00:1:2:3:4:5:6:7700", prefix);
	memcpy(s.src6, prefix, 16);
	s.src6_plen = 120;
	encap_backend_init(&be, 6);

	frame_build(&fr, &tcp6, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0xabcde, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 22, prefix, 15);
	assert_int_equal(fr.b.data[22 + 15], 0xdf); /* the lowest bit is always 1 */
	/* Flow label: low 20 bits of the entropy. */
	assert_int_equal(((uint32_t)fr.b.data[15] & 0x0f) << 16 | rd16(fr.b.data + 16), 0xabcde);

	frame_build(&fr, &tcp6, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0x11100000, &mtu),
			 KEEL_DROP_NONE);
	/* Entropy 0 in the host bits: still not the prefix's all-zeros address. */
	assert_int_equal(fr.b.data[22 + 15], 0x01);
	/* A zero label would mean "no label" (RFC 6437): it is kept nonzero. */
	assert_int_not_equal(((uint32_t)fr.b.data[15] & 0x0f) << 16 | rd16(fr.b.data + 16), 0);

	/* /96: the last 32 bits are entropy but the lowest; /128: none. */
	s.src6_plen = 96;
	frame_build(&fr, &tcp6, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0x01020304, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 22, prefix, 12);
	assert_memory_equal(fr.b.data + 34, ((const uint8_t[]){ 1, 2, 3, 5 }), 4);
	s.src6_plen = 128;
	frame_build(&fr, &tcp6, HEADROOM);
	assert_int_equal(encap_tmpl(&fr.b, &fr.p, &s, &be, KEEL_ENCAP_IPIP, 0x01020304, &mtu),
			 KEEL_DROP_NONE);
	assert_memory_equal(fr.b.data + 22, prefix, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encap_cases),
		cmocka_unit_test(test_entropy_ip4),
		cmocka_unit_test(test_entropy_ip6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
