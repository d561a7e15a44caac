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

/* VIP 192.0.2.1:80 over encap, backends 10.0.0.1 (id 0) and 10.0.0.2 (id 1); with_prev: each slot's previous owner is the other one. */
static struct keel_snapshot *make(uint8_t encap, int with_prev, uint16_t bad_prev)
{
	struct keel_snapshot_spec spec = { 0 };
	struct keel_snapshot *s;

	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	vip = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, encap, 0, M, be, 2);
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
	assert_int_equal(g[0], SECOND_CHANCE_WORDS);
	assert_int_equal(g[1], 4);
	assert_int_equal(rd16(g + 2), SECOND_CHANCE_GUE_FLAG);
	assert_int_equal(g[4], SECOND_CHANCE_PREV4);
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
	inner = g + 4 + SECOND_CHANCE_LEN;
	assert_int_equal(inner[0], 0x45);
	assert_int_equal(rd16(inner + 2), e.buf.len - (inner - e.buf.data));
	assert_int_equal(e.ctr.second_chance, 1);
	assert_false(tracked(&e, &ack));
	/* And again for the next segment: it is still a miss, still named. */
	send1(&e, &ack);
	assert_int_equal(e.ctr.second_chance, 2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_names_previous_owner),
		cmocka_unit_test(test_syn_plain_and_tracked),
		cmocka_unit_test(test_nothing_to_name),
		cmocka_unit_test(test_validate_previous_owner),
		cmocka_unit_test(test_mark_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
