/* The encapsulation case table, shared by test_encap (the bytes encap_packet writes) and the BPF fixtures (keel-decap gives back what the packet core encapsulated). */
#include "encap_cases.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pktgen.h"

/* As pkt_case.c's buffer: 2048 bytes, 128 of them headroom. */
#define MEM_SIZE 2048
#define HEADROOM 128

static const uint8_t backend_mac[6] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x05 };
static const uint8_t our_mac[6] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01 };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * Fill p from a pktgen frame the way keel_parse would for the plain cases
 * used here (kept local so these tests do not depend on the parser).
 */
void encap_fill_pkt(const uint8_t *f, struct keel_pkt *p)
{
	uint16_t off = 12;
	const uint8_t *ip;

	memset(p, 0, sizeof(*p));
	if (rd16(f + 12) == 0x8100) {
		p->flags |= KEEL_PKT_VLAN;
		p->vlan_tci = rd16(f + 14);
		off = 16;
	}
	p->l3_off = (uint16_t)(off + 2);
	ip = f + p->l3_off;
	if (rd16(f + off) == 0x86dd) {
		p->key.family = KEEL_AF_INET6;
		p->l3_len = (uint16_t)(40 + rd16(ip + 4));
		p->l4_off = (uint16_t)(p->l3_off + 40);
		p->tos = (uint8_t)((ip[0] & 0x0f) << 4 | ip[1] >> 4);
		p->ttl = ip[7];
		p->key.proto = ip[6];
		memcpy(p->key.src, ip + 8, 16);
		memcpy(p->key.dst, ip + 24, 16);
	} else {
		p->key.family = KEEL_AF_INET4;
		p->l3_len = rd16(ip + 2);
		p->l4_off = (uint16_t)(p->l3_off + (ip[0] & 0x0f) * 4);
		p->tos = ip[1];
		p->ttl = ip[8];
		p->key.proto = ip[9];
		if (ip[6] & 0x40)
			p->flags |= KEEL_PKT_DF;
		memcpy(p->key.src, ip + 12, 4);
		memcpy(p->key.dst, ip + 16, 4);
	}
	if (p->key.proto == KEEL_PROTO_TCP || p->key.proto == KEEL_PROTO_UDP) {
		memcpy(&p->key.sport, f + p->l4_off, 2);
		memcpy(&p->key.dport, f + p->l4_off + 2, 2);
	}
}

void encap_snap_init(struct keel_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->src_mac, our_mac, 6);
	memcpy(s->src4, ((const uint8_t[]){ 10, 1, 0, 0 }), 4);
	s->src4_plen = 16;
	{
		uint8_t a[16];

		pktgen_addr(6, "fd00:1::", a);
		memcpy(s->src6, a, 16);
	}
	s->src6_plen = 64;
	s->ttl = 32;
	s->gue_port = ENCAP_GUE_DEFAULT_PORT;
	s->mtu = 1500;
}

void encap_backend_init(struct keel_backend *be, int family)
{
	memset(be, 0, sizeof(*be));
	be->family = (uint8_t)family;
	pktgen_addr(family, family == 6 ? "fd00:2::5" : "10.2.0.5", be->addr);
	memcpy(be->mac, backend_mac, 6);
	be->state = KEEL_BACKEND_ACTIVE;
}

/*
 * encap_packet with be's header template filled for s first, as
 * keel_snapshot_build leaves it (the tests change s and be between calls).
 */
enum keel_drop encap_tmpl(struct keel_buf *b, const struct keel_pkt *p,
			  const struct keel_snapshot *s, const struct keel_backend *be,
			  uint8_t encap, uint32_t entropy, uint16_t *inner_mtu)
{
	struct keel_backend filled = *be;

	keel_encap_tmpl_fill(&filled.tmpl, s, &filled);
	return encap_packet(b, p, s, &filled, encap, entropy, inner_mtu);
}

#define ENTROPY 0x12345678u

/* ---- Exact bytes per encapsulation ---- */
static const uint8_t out_4in4[34] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05, /* backend MAC */
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01, /* our MAC */
	0x08, 0x00,
	0x45, 0xb9, 0x00, 0xa0,             /* TOS copied (DSCP 46, ECT(1)), 20 + 140 */
	0x00, 0x00, 0x40, 0x00,             /* ID 0, DF */
	0x20, 0x04, 0x00, 0x00,             /* TTL 32, IPIP */
	0x0a, 0x01, 0x56, 0x79,             /* 10.1/16 + entropy 0x5678: top host bit 0, lowest 1 */
	0x0a, 0x02, 0x00, 0x05,
};
static const uint8_t out_6in6[54] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	0x6b, 0x94, 0x56, 0x78,             /* TC 0xb9, flow label 0x45678 */
	0x00, 0xa0, 0x29, 0x20,             /* 160, IPv6, hop limit 32 */
	0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x79,
	0xfd, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x05,
};
static const uint8_t out_4in6[54] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	0x6b, 0x94, 0x56, 0x78,
	0x00, 0x8c, 0x04, 0x20,             /* 140, IPv4, hop limit 32 */
	0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x79,
	0xfd, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x05,
};
static const uint8_t out_6in4_vlan[38] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
	0x81, 0x00, 0x20, 0x64,             /* same TCI: PCP 1, VID 100 */
	0x08, 0x00,
	0x45, 0xb9, 0x00, 0xb4,             /* 20 + 160 */
	0x00, 0x00, 0x40, 0x00,
	0x20, 0x29, 0x00, 0x00,             /* TTL 32, IPv6 */
	0x0a, 0x01, 0x56, 0x79,
	0x0a, 0x02, 0x00, 0x05,
};
static const uint8_t out_gue4[46] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00,
	0x45, 0xb9, 0x00, 0xac,             /* 20 + 8 + 4 + 140 */
	0x00, 0x00, 0x40, 0x00,
	0x20, 0x11, 0x00, 0x00,             /* UDP */
	0x0a, 0x01, 0x56, 0x79,
	0x0a, 0x02, 0x00, 0x05,
	0xc4, 0x8d, 0x17, 0xc0,             /* 0xc000 | entropy >> 18, port 6080 */
	0x00, 0x98, 0x00, 0x00,             /* 152, no checksum over IPv4 */
	0x00, 0x04, 0x00, 0x00,             /* GUE v0, C 0, hlen 0, proto 4, flags 0 */
};
static const uint8_t out_gue6[66] = {
	0x02, 0xbb, 0x00, 0x00, 0x00, 0x05,
	0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd,
	0x6b, 0x94, 0x56, 0x78,
	0x00, 0xac, 0x11, 0x20,             /* 8 + 4 + 160, UDP */
	0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x79,
	0xfd, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x05,
	0xc4, 0x8d, 0x17, 0xc0,
	0x00, 0xac, 0x00, 0x00,             /* checksum checked apart */
	0x00, 0x29, 0x00, 0x00,             /* proto 41 */
};


static const struct encap_row ipip4 = { 4, KEEL_ENCAP_IPIP }, ipip6 = { 6, KEEL_ENCAP_IPIP };
static const struct encap_row gue4 = { 4, KEEL_ENCAP_GUE }, gue6 = { 6, KEEL_ENCAP_GUE };
static const struct encap_row gue6_fedc = { 6, KEEL_ENCAP_GUE, .entropy = 0xfedcba98 };
static const struct encap_row ipip4_1 = { 4, KEEL_ENCAP_IPIP, .entropy = 1 };
static const struct encap_row ipip6_1 = { 6, KEEL_ENCAP_IPIP, .entropy = 1 };
/* 140-byte inner: 160 with IPIP over IPv4. */
static const struct encap_row ipip4_mtu159 = { 4, KEEL_ENCAP_IPIP, .entropy = 1, .mtu = 159, .want_mtu = 139 };
static const struct encap_row ipip4_mtu160 = { 4, KEEL_ENCAP_IPIP, .entropy = 1, .mtu = 160 };
/* GUE over IPv6: 52 bytes of overhead. */
static const struct encap_row gue6_mtu1500 = { 6, KEEL_ENCAP_GUE, .entropy = 1, .mtu = 1500, .want_mtu = 1448 };
/* GUE over IPv6 needs 52 bytes beyond the reused Ethernet header; IPIP over IPv4, 20. */
static const struct encap_row gue6_room51 = { 6, KEEL_ENCAP_GUE, .entropy = 1, .headroom = 51 };
static const struct encap_row gue6_room52 = { 6, KEEL_ENCAP_GUE, .entropy = 1, .headroom = 52 };
static const struct encap_row ipip4_room0 = { 4, KEEL_ENCAP_IPIP, .entropy = 1, .headroom = HEADROOM_NONE };

/*
 * The stage: fill p as the parser would, encapsulate for the row's backend,
 * and check what every success must keep: the MTU out-parameter untouched,
 * the headroom shrunk by exactly the new bytes in front of the inner packet,
 * the buffer's room unchanged. The runner compares the bytes.
 */
int encap_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	const struct encap_row *r = c->arg;
	const uint8_t *base;
	uint32_t room;
	uint16_t mtu = 0xdead, old_head, old_l3;
	struct keel_snapshot s;
	struct keel_backend be;
	struct keel_buf before;
	enum keel_drop d;

	(void)ctx;
	if (r->headroom) /* less room in front than the runner's buffer has */
		b->headroom = r->headroom == HEADROOM_NONE ? 0 : r->headroom;
	base = b->data - b->headroom;
	room = (uint32_t)b->headroom + b->len + b->tailroom;
	old_head = b->headroom;
	before = *b;
	encap_snap_init(&s);
	if (r->mtu)
		s.mtu = r->mtu;
	encap_backend_init(&be, r->be_family);
	encap_fill_pkt(b->data, p);
	old_l3 = p->l3_off;
	d = encap_tmpl(b, p, &s, &be, r->encap, r->entropy ? r->entropy : ENTROPY, &mtu);
	if (d == KEEL_DROP_NONE) {
		assert_int_equal(mtu, 0xdead); /* untouched on success */
		if (c->out)
			assert_int_equal(old_head - b->headroom, c->out_len - old_l3);
		assert_ptr_equal(b->data, base + b->headroom);
		assert_int_equal((uint32_t)b->headroom + b->len + b->tailroom, room);
	} else {
		/* A refusal leaves the buffer as it was (the runner compares the bytes). */
		assert_ptr_equal(b->data, before.data);
		assert_int_equal(b->len, before.len);
		assert_int_equal(b->headroom, before.headroom);
		assert_int_equal(b->tailroom, before.tailroom);
		if (r->want_mtu)
			assert_int_equal(mtu, r->want_mtu);
	}
	return d;
}

static size_t input_len(const struct pkt_case *c)
{
	uint8_t buf[MEM_SIZE];

	return pkt_case_build(c, buf, sizeof(buf));
}

static void check_4in4(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)p, (void)ctx;
	assert_int_equal(input_len(c), 14 + 140 + 6);
	assert_true(pktgen_ip4_csum_ok(b->data + 14));
	/* Padding dropped and given back as tailroom. */
	assert_int_equal(b->tailroom, MEM_SIZE - HEADROOM - (14 + 140 + 6) + 6);
	/* The inner packet's own checksums are still right. */
	assert_true(pktgen_ip4_csum_ok(b->data + 34));
	assert_true(pktgen_l4_csum_ok(4, b->data + 34, b->data + 54, 120, 6));
}

static void check_6in6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_true(pktgen_l4_csum_ok(6, b->data + 54, b->data + 94, 120, 6));
}

static void check_6in4_vlan(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)ctx;
	assert_true(p->flags & KEEL_PKT_VLAN);
	assert_true(pktgen_ip4_csum_ok(b->data + 18));
}

static void check_gue4(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_true(pktgen_ip4_csum_ok(b->data + 14));
	assert_true(pktgen_l4_csum_ok(4, b->data + 14, b->data + 34, 152, 17));
}

static void check_gue6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_true(rd16(b->data + 60) != 0);
	assert_true(pktgen_l4_csum_ok(6, b->data + 14, b->data + 54, 172, 17));
}

/* Odd inner length exercises the checksum's trailing byte; 4in6 GUE with a VLAN. */
static void check_gue6_odd_vlan(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p,
				void *ctx)
{
	uint8_t in[MEM_SIZE];

	(void)p, (void)ctx;
	pkt_case_build(c, in, sizeof(in));
	assert_int_equal(b->len, 18 + 40 + 12 + 129);
	assert_int_equal(rd16(b->data + 12), 0x8100);
	assert_int_equal(rd16(b->data + 14), 7);
	assert_int_equal(rd16(b->data + 16), 0x86dd);
	assert_int_equal(b->data[18 + 6], 17);
	assert_int_equal(b->data[18 + 40 + 9], 4);
	assert_true(pktgen_l4_csum_ok(6, b->data + 18, b->data + 58, 8 + 4 + 129, 17));
	assert_memory_equal(b->data + 70, in + 18, 129);
}

/* ECN is copied (RFC 6040 normal mode), also across families: CE from an IPv6 TC. */
static void check_ecn_6in4(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(b->data[15], 0x2b);
	assert_int_equal(b->data[20] & 0x40, 0x40); /* DF */
	assert_int_equal(b->data[22], 32);          /* TTL from the snapshot, not the inner 50 */
}

static void check_ecn_4in6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(b->data[14], 0x60);
	assert_int_equal(b->data[15] & 0xf0, 0x00);
	assert_int_equal(b->data[21], 32);
}

static void check_fits(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p, void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(rd16(b->data + 16), 160);
}

static void check_overhead_gue6(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p,
				void *ctx)
{
	const struct encap_row *r = c->arg;

	(void)b, (void)p, (void)ctx;
	assert_int_equal(r->want_mtu, 1500 - encap_overhead(KEEL_AF_INET6, KEEL_ENCAP_GUE));
}

static void check_room_used(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p,
			    void *ctx)
{
	(void)c, (void)p, (void)ctx;
	assert_int_equal(b->headroom, 0);
}

#define TCP4(...) { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.10", .proto = 6, .sport = 40000, \
		    .dport = 80, .payload_len = 100, .tos = 0xb9, .ttl = 50, __VA_ARGS__ }
#define TCP6(...) { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:1::10", .proto = 6, .sport = 40000, \
		    .dport = 443, .payload_len = 100, .tos = 0xb9, .ttl = 50, __VA_ARGS__ }

const struct pkt_case encap_cases[] = {
	{ .what = "ipip 4in4", .in = TCP4(.pad = 6), .arg = &ipip4, .want = KEEL_DROP_NONE, PKT_OUT(out_4in4),
	  .out_mode = PKT_OUT_THEN_INNER, .out_ip4_csum = PKT_AT(14), .check = check_4in4 },
	{ .what = "ipip 6in6", .in = TCP6(), .arg = &ipip6, .want = KEEL_DROP_NONE, PKT_OUT(out_6in6),
	  .out_mode = PKT_OUT_THEN_INNER, .check = check_6in6 },
	{ .what = "ipip 4in6", .in = TCP4(), .arg = &ipip6, .want = KEEL_DROP_NONE, PKT_OUT(out_4in6),
	  .out_mode = PKT_OUT_THEN_INNER },
	{ .what = "ipip 6in4, tagged", .in = TCP6(.vlan = 0x2064, .pad = 2), .arg = &ipip4, .want = KEEL_DROP_NONE,
	  PKT_OUT(out_6in4_vlan), .out_mode = PKT_OUT_THEN_INNER, .out_ip4_csum = PKT_AT(18), .check = check_6in4_vlan },
	{ .what = "gue over ipv4", .in = TCP4(.pad = 1), .arg = &gue4, .want = KEEL_DROP_NONE, PKT_OUT(out_gue4),
	  .out_mode = PKT_OUT_THEN_INNER, .out_ip4_csum = PKT_AT(14), .check = check_gue4 },
	/* The UDP checksum (bytes 60-61) is checked apart. */
	{ .what = "gue over ipv6", .in = TCP6(), .arg = &gue6, .want = KEEL_DROP_NONE, PKT_OUT(out_gue6),
	  .out_mode = PKT_OUT_THEN_INNER, .out_skip = PKT_AT(60), .check = check_gue6 },
	{ .what = "gue 4in6, udp, odd length, tagged", .in = TCP4(.proto = 17, .payload_len = 101, .vlan = 7, .pad = 3),
	  .arg = &gue6_fedc, .want = KEEL_DROP_NONE, .check = check_gue6_odd_vlan },
	{ .what = "ecn CE and dscp from an ipv6 tc into ipv4", .in = TCP6(.tos = 0x2b), .arg = &ipip4_1,
	  .want = KEEL_DROP_NONE, .check = check_ecn_6in4 },
	{ .what = "tos 0 into an ipv6 tc", .in = TCP4(.tos = 0x00), .arg = &ipip6_1, .want = KEEL_DROP_NONE,
	  .check = check_ecn_4in6 },
	{ .what = "too big by one: mtu 159", .in = TCP4(), .arg = &ipip4_mtu159, .want = KEEL_DROP_TOO_BIG,
	  .out_mode = PKT_OUT_UNCHANGED },
	{ .what = "exactly fits: mtu 160", .in = TCP4(), .arg = &ipip4_mtu160, .want = KEEL_DROP_NONE,
	  .check = check_fits },
	{ .what = "too big, gue over ipv6", .in = TCP6(.payload_len = 1500 - 60 - 52 + 1), .arg = &gue6_mtu1500,
	  .want = KEEL_DROP_TOO_BIG, .out_mode = PKT_OUT_UNCHANGED, .check = check_overhead_gue6 },
	{ .what = "no headroom: gue over ipv6 in 51 bytes", .in = TCP4(), .arg = &gue6_room51,
	  .want = KEEL_DROP_NO_HEADROOM, .out_mode = PKT_OUT_UNCHANGED },
	{ .what = "headroom used up: gue over ipv6 in 52 bytes", .in = TCP4(), .arg = &gue6_room52,
	  .want = KEEL_DROP_NONE, .check = check_room_used },
	{ .what = "no headroom at all: ipip over ipv4", .in = TCP4(), .arg = &ipip4_room0,
	  .want = KEEL_DROP_NO_HEADROOM, .out_mode = PKT_OUT_UNCHANGED },
};

const size_t encap_cases_n = sizeof(encap_cases) / sizeof(encap_cases[0]);
