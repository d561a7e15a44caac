/* Second chance, Keel's side: which packets name a previous owner, the exact GUE bytes, and the snapshot rules for previous owners. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_table.h"
#include "pipeline.h"
#include "pktgen.h"
#include "second_chance.h"
#include "snapfix.h"

#define FRAME_MAX 2048
#define HEADROOM 256
#define M 251

static const struct keel_port test_port = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }, .mtu = 1500 };
static struct keel_backend_spec be[2];
static struct keel_vip_spec vip;
static uint16_t prev[M];

struct env {
	struct keel_snapshot *snap;
	struct keel_worker w;
	struct keel_counters ctr;
	void *ftmem;
	uint8_t frame[HEADROOM + FRAME_MAX];
	struct keel_buf buf;
	uint8_t verdict;
};

static const struct pktgen ack = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6,
				   .sport = 40000, .dport = 80, .tcp_flags = 0x10, .payload_len = 10 };

/*
 * VIP vaddr:80 over encap, backends a0 (id 0) and a1 (id 1); with_prev: each
 * slot's previous owner is the other one.
 */
static struct keel_snapshot *make_at(const char *vaddr, const char *a0, const char *a1, uint8_t encap,
				     int with_prev, uint16_t bad_prev)
{
	struct keel_snapshot_spec spec = { 0 };
	struct keel_snapshot *s;

	be[0] = snapfix_backend(a0, 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend(a1, 1, 1, KEEL_BACKEND_ACTIVE);
	vip = snapfix_vip(vaddr, 80, KEEL_PROTO_TCP, 0, encap, 0, M, be, 2);
	spec.generation = 1;
	spec.n_vips = 1;
	spec.vips = &vip;
	snapfix_spec_defaults(&spec);
	s = snapfix_build(&spec);
	if (!with_prev)
		return s;
	for (uint32_t i = 0; i < M; i++)
		prev[i] = bad_prev ? bad_prev : (uint16_t)(keel_snapshot_table(s, keel_snapshot_vips(s))[i] ^ 1);
	free(s);
	vip.prev_owner = prev;
	return snapfix_build(&spec);
}

/* VIP 192.0.2.1:80, backends 10.0.0.1 (id 0) and 10.0.0.2 (id 1). */
static struct keel_snapshot *make(uint8_t encap, int with_prev, uint16_t bad_prev)
{
	return make_at("192.0.2.1", "10.0.0.1", "10.0.0.2", encap, with_prev, bad_prev);
}

static void env_init(struct env *e, struct keel_snapshot *s)
{
	struct flow_table_params fp = { .capacity = 1024, .secret = 7, .timeout_ms = { 60000, 5000, 30000 } };
	size_t sz = flow_table_mem_size(fp.capacity);

	memset(e, 0, sizeof(*e));
	e->snap = s;
	e->ftmem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	e->w.ft = flow_table_init(e->ftmem, sz, &fp);
	assert_non_null(e->w.ft);
	e->w.snap = s;
	e->w.ctr = &e->ctr;
	e->w.now_ms = 1000;
}

static void env_free(struct env *e)
{
	free(e->snap);
	free(e->ftmem);
}

static void send1(struct env *e, const struct pktgen *g)
{
	size_t len = pktgen_build(e->frame + HEADROOM, FRAME_MAX, g);

	assert_true(len > 0);
	e->buf.data = e->frame + HEADROOM;
	e->buf.len = (uint16_t)len;
	e->buf.headroom = HEADROOM;
	e->buf.tailroom = (uint16_t)(FRAME_MAX - len);
	assert_int_equal(keel_pipeline_burst(&e->w, &test_port, &e->buf, &e->verdict, 1), 1);
	assert_int_equal(e->verdict, KEEL_VERDICT_FORWARD);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static const uint8_t *gue_of(const struct env *e)
{
	return e->buf.data + 14 + 20 + 8;
}

static int tracked(struct env *e, const struct pktgen *g)
{
	struct keel_flow_key k = { 0 };

	pktgen_addr(4, g->src, k.src);
	pktgen_addr(4, g->dst, k.dst);
	k.sport = htons(g->sport);
	k.dport = htons(g->dport);
	k.proto = 6;
	k.family = 4;
	return flow_table_peek(e->w.ft, &k, e->w.now_ms) != NULL;
}

/* A mid-connection segment on a slot with a previous owner: to the owner, the other one named, untracked. */
static void test_ack_names_previous_owner(void **state)
{
	struct env e;
	const uint8_t *ip, *g, *inner;
	uint8_t want_prev[4];

	(void)state;
	env_init(&e, make(KEEL_ENCAP_GUE, 1, 0));
	send1(&e, &ack);
	ip = e.buf.data + 14;
	g = gue_of(&e);
	assert_int_equal(g[0], KEEL_GUE_PRIV_PREV4_WORDS);
	assert_int_equal(g[1], 4);
	assert_int_equal(rd16(g + 2), KEEL_GUE_FLAG_PRIV);
	assert_int_equal(g[4], KEEL_GUE_PRIV_PREV4);
	assert_int_equal(g[5], 0);
	assert_int_equal(rd16(g + 6), 0);
	/* Previous owner = the other backend than the outer destination. */
	memcpy(want_prev, !memcmp(ip + 16, be[0].addr, 4) ? be[1].addr : be[0].addr, 4);
	assert_memory_equal(g + 8, want_prev, 4);
	assert_int_equal(rd16(ip + 2), e.buf.len - 14);
	assert_true(pktgen_ip4_csum_ok(ip));
	assert_int_equal(rd16(ip + 20 + 4), e.buf.len - 14 - 20);
	assert_int_equal(rd16(ip + 20 + 6), 0);
	/* The client's packet follows, untouched. */
	inner = g + 4 + KEEL_GUE_PRIV_PREV4_LEN;
	assert_int_equal(inner[0], 0x45);
	assert_int_equal(rd16(inner + 2), e.buf.len - (inner - e.buf.data));
	assert_int_equal(e.ctr.second_chance, 1);
	assert_false(tracked(&e, &ack));
	/* And again for the next segment: it is still a miss, still named. */
	send1(&e, &ack);
	assert_int_equal(e.ctr.second_chance, 2);
	env_free(&e);
}

/*
 * The IPv6 form: an IPv6 outer header (the backends are IPv6) names an IPv6
 * previous owner in 20 bytes, Hlen 5, with the UDP checksum kept right;
 * for an IPv4 client (4in6 over GUE) and an IPv6 one (6in6).
 */
static void check_names_previous_owner6(const char *vaddr, const struct pktgen *g)
{
	struct env e;
	const uint8_t *ip, *udp, *gu, *inner;
	uint8_t want_prev[16];
	size_t plen;

	env_init(&e, make_at(vaddr, "2001:db8:b::1", "2001:db8:b::2", KEEL_ENCAP_GUE, 1, 0));
	send1(&e, g);
	assert_int_equal(rd16(e.buf.data + 12), 0x86dd);
	ip = e.buf.data + 14;
	udp = ip + 40;
	gu = udp + 8;
	plen = e.buf.len - 14 - 40;
	assert_int_equal(ip[6], 17);
	assert_int_equal(rd16(ip + 4), plen);
	assert_int_equal(rd16(udp + 4), plen);
	assert_true(rd16(udp + 6) != 0);
	assert_true(pktgen_l4_csum_ok(6, ip, udp, plen, 17));
	/* byte by byte, docs/second-chance.md */
	assert_int_equal(gu[0], 0x05); /* version 0, C 0, Hlen 5 */
	assert_int_equal(gu[1], g->family == 6 ? 41 : 4);
	assert_int_equal(rd16(gu + 2), 0x0001);
	assert_int_equal(gu[4], 0x02); /* previous owner, IPv6 */
	assert_int_equal(gu[5], 0);
	assert_int_equal(rd16(gu + 6), 0);
	memcpy(want_prev, !memcmp(ip + 24, be[0].addr, 16) ? be[1].addr : be[0].addr, 16);
	assert_memory_equal(gu + 8, want_prev, 16);
	assert_memory_not_equal(gu + 8, ip + 24, 16);
	/* The client's packet follows, untouched. */
	inner = gu + 4 + KEEL_GUE_PRIV_PREV6_LEN;
	if (g->family == 6) {
		assert_int_equal(inner[0] >> 4, 6);
		assert_int_equal(40 + rd16(inner + 4), e.buf.len - (inner - e.buf.data));
		assert_true(pktgen_l4_csum_ok(6, inner, inner + 40, rd16(inner + 4), 6));
	} else {
		assert_int_equal(inner[0], 0x45);
		assert_int_equal(rd16(inner + 2), e.buf.len - (inner - e.buf.data));
		assert_true(pktgen_l4_csum_ok(4, inner, inner + 20, rd16(inner + 2) - 20u, 6));
	}
	assert_int_equal(e.ctr.second_chance, 1);
	env_free(&e);
}

static void test_ack_names_previous_owner6(void **state)
{
	struct pktgen ack6 = ack;

	(void)state;
	check_names_previous_owner6("192.0.2.1", &ack);
	ack6.family = 6;
	ack6.src = "2001:db8:c::7";
	ack6.dst = "2001:db8:a::1";
	check_names_previous_owner6("2001:db8:a::1", &ack6);
	/* A payload of odd length: the checksum's words after the inserted field keep their places. */
	ack6.payload_len = 11;
	check_names_previous_owner6("2001:db8:a::1", &ack6);
}

/* A previous owner of the other family than the outer header: not named (the backend could not hand it on). */
static void test_other_family_not_named(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, make_at("192.0.2.1", "10.0.0.1", "2001:db8:b::2", KEEL_ENCAP_GUE, 1, 0));
	for (int i = 0; i < 8; i++) {
		struct pktgen g = ack;

		g.sport = (uint16_t)(40000 + i); /* both backends' slots */
		send1(&e, &g);
		if (rd16(e.buf.data + 12) == 0x86dd)
			assert_int_equal(e.buf.data[14 + 40 + 8], 0);
		else
			assert_int_equal(gue_of(&e)[0], 0);
		assert_true(tracked(&e, &g));
	}
	assert_int_equal(e.ctr.second_chance, 0);
	env_free(&e);
}

/* A SYN opens a connection at the current owner: plain GUE, tracked; its next segments hit and stay plain. */
static void test_syn_plain_and_tracked(void **state)
{
	struct pktgen syn = ack;
	struct env e;

	(void)state;
	syn.tcp_flags = 0x02;
	env_init(&e, make(KEEL_ENCAP_GUE, 1, 0));
	send1(&e, &syn);
	assert_int_equal(gue_of(&e)[0], 0);
	assert_int_equal(rd16(gue_of(&e) + 2), 0);
	assert_true(tracked(&e, &syn));
	send1(&e, &ack);
	assert_int_equal(gue_of(&e)[0], 0);
	assert_int_equal(e.ctr.second_chance, 0);
	env_free(&e);
}

/* Without previous owners, or over IPIP (no field for it), nothing changes: the packet is what it always was. */
static void test_nothing_to_name(void **state)
{
	struct env a, b;

	(void)state;
	env_init(&a, make(KEEL_ENCAP_GUE, 0, 0));
	send1(&a, &ack);
	assert_int_equal(gue_of(&a)[0], 0);
	assert_int_equal(a.ctr.second_chance, 0);
	assert_true(tracked(&a, &ack));
	env_free(&a);

	env_init(&b, make(KEEL_ENCAP_IPIP, 1, 0));
	send1(&b, &ack);
	assert_int_equal(b.buf.data[14 + 9], 4); /* IPIP */
	assert_int_equal(b.ctr.second_chance, 0);
	env_free(&b);
}

/* A previous owner that is no backend of the VIP makes the snapshot invalid. */
static void test_validate_previous_owner(void **state)
{
	struct keel_snapshot *s = make(KEEL_ENCAP_GUE, 1, 0); /* leaves vip and prev set up */
	struct keel_snapshot_spec spec = { 0 };
	const char *why = NULL;
	size_t sz;
	void *buf;

	(void)state;
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), 0);
	free(s);
	spec.generation = 1;
	spec.n_vips = 1;
	spec.vips = &vip;
	snapfix_spec_defaults(&spec);
	prev[7] = 5; /* no backend 5 */
	sz = keel_snapshot_size(&spec);
	buf = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	assert_non_null(buf);
	assert_int_equal(keel_snapshot_build(buf, sz, &spec, &why), 0);
	assert_int_equal(keel_snapshot_validate(buf, sz, &why), -EINVAL);
	assert_string_equal(why, "previous owner is not a backend of its VIP");
	free(buf);
}

/* No headroom for the 8 bytes, or over the MTU: the frame goes unchanged, without the hint. */
static void test_mark_refused(void **state)
{
	struct env e;
	struct keel_buf saved;
	uint8_t copy[FRAME_MAX];

	(void)state;
	env_init(&e, make(KEEL_ENCAP_GUE, 0, 0));
	send1(&e, &ack);
	saved = e.buf;
	memcpy(copy, e.buf.data, e.buf.len);
	e.buf.headroom = 4;
	assert_int_equal(second_chance_mark(&e.buf, &keel_snapshot_backends(e.snap)[1], 1500), 0);
	e.buf.headroom = saved.headroom;
	assert_int_equal(second_chance_mark(&e.buf, &keel_snapshot_backends(e.snap)[1], (uint16_t)(e.buf.len - 14)), 0);
	assert_ptr_equal(e.buf.data, saved.data);
	assert_int_equal(e.buf.len, saved.len);
	assert_memory_equal(e.buf.data, copy, e.buf.len);
	env_free(&e);
}

/* IPv6: no headroom for the 20 bytes, over the MTU, no UDP checksum, or a previous owner of the other family: unchanged. */
static void test_mark6_refused(void **state)
{
	const struct keel_backend *b1;
	struct keel_backend v4 = { 0 };
	struct keel_buf saved;
	uint8_t copy[FRAME_MAX];
	struct env e;

	(void)state;
	env_init(&e, make_at("192.0.2.1", "2001:db8:b::1", "2001:db8:b::2", KEEL_ENCAP_GUE, 0, 0));
	send1(&e, &ack);
	b1 = &keel_snapshot_backends(e.snap)[1];
	saved = e.buf;
	memcpy(copy, e.buf.data, e.buf.len);
	e.buf.headroom = KEEL_GUE_PRIV_PREV6_LEN - 1;
	assert_int_equal(second_chance_mark(&e.buf, b1, 1500), 0);
	e.buf.headroom = saved.headroom;
	assert_int_equal(second_chance_mark(&e.buf, b1, (uint16_t)(e.buf.len - 14 + KEEL_GUE_PRIV_PREV6_LEN - 1)), 0);
	v4.family = KEEL_AF_INET4;
	assert_int_equal(second_chance_mark(&e.buf, &v4, 1500), 0);
	e.buf.data[14 + 40 + 6] = e.buf.data[14 + 40 + 7] = 0;
	assert_int_equal(second_chance_mark(&e.buf, b1, 1500), 0);
	e.buf.data[14 + 40 + 6] = copy[14 + 40 + 6];
	e.buf.data[14 + 40 + 7] = copy[14 + 40 + 7];
	assert_ptr_equal(e.buf.data, saved.data);
	assert_int_equal(e.buf.len, saved.len);
	assert_memory_equal(e.buf.data, copy, e.buf.len);
	/* Exactly at the MTU it fits. */
	assert_int_equal(second_chance_mark(&e.buf, b1, (uint16_t)(e.buf.len - 14 + KEEL_GUE_PRIV_PREV6_LEN)), 1);
	assert_int_equal(e.buf.len, saved.len + KEEL_GUE_PRIV_PREV6_LEN);
	assert_true(pktgen_l4_csum_ok(6, e.buf.data + 14, e.buf.data + 54, e.buf.len - 54u, 17));
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_names_previous_owner),
		cmocka_unit_test(test_syn_plain_and_tracked),
		cmocka_unit_test(test_nothing_to_name),
		cmocka_unit_test(test_validate_previous_owner),
		cmocka_unit_test(test_mark_refused),
		cmocka_unit_test(test_ack_names_previous_owner6),
		cmocka_unit_test(test_other_family_not_named),
		cmocka_unit_test(test_mark6_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
