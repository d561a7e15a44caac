/* Source lists: the snapshot's matcher against a naive oracle (IPv4, IPv6), the snapshot checks, and the pipeline's verdicts and counters. */
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
#include "snapfix.h"
#include "source_list.h"

#define FRAME_MAX 2048
#define HEADROOM 256

/* xorshift64*: reproducible, so a failure names a seed that repeats it. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

/* Obviously right: does net/plen cover addr, bit by bit. */
static int naive_covers(const uint8_t *net, uint8_t plen, const uint8_t *addr)
{
	for (unsigned int i = 0; i < plen; i++) {
		unsigned int byte = i / 8, bit = 7 - i % 8;

		if (((net[byte] >> bit) & 1) != ((addr[byte] >> bit) & 1))
			return 0;
	}
	return 1;
}

static int naive_in(const struct keel_src_prefix *p, uint32_t n, const uint8_t *addr)
{
	for (uint32_t i = 0; i < n; i++)
		if (naive_covers(p[i].addr, p[i].plen, addr))
			return 1;
	return 0;
}

/* The configured meaning: a deny entry refuses; with allow entries, what none of them covers is refused. */
static int naive_refuses(const struct keel_src_spec *s, const uint8_t *addr)
{
	if (naive_in(s->deny, s->n_deny, addr))
		return 1;
	return s->n_allow && !naive_in(s->allow, s->n_allow, addr);
}

static void zero_host_bits(uint8_t *a, uint8_t plen, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes * 8; i++)
		if (i >= plen)
			a[i / 8] &= (uint8_t)~(1u << (7 - i % 8));
}

/*
 * A random prefix. Addresses share few top bits (a handful of /8s, /16s of
 * IPv6) so that prefixes nest, touch and overlap, and random probes hit them.
 */
static void random_prefix(struct keel_src_prefix *p, uint8_t family)
{
	unsigned int bytes = family == KEEL_AF_INET4 ? 4 : 16;
	uint64_t r = rnd();

	memset(p, 0, sizeof(*p));
	for (unsigned int i = 0; i < bytes; i += 8) {
		uint64_t v = rnd();

		memcpy(p->addr + i, &v, bytes - i < 8 ? bytes - i : 8);
	}
	p->addr[0] = (uint8_t)(r & 3) * 64; /* 0, 64, 128, 192: the IPv4 top and the IPv6 top /16 */
	p->addr[1] = family == KEEL_AF_INET4 ? p->addr[1] : (uint8_t)((r >> 2) & 1);
	if (r >> 8 & 1)
		p->addr[0] = 0xff; /* the top of the space, where the last boundary is dropped */
	if (family == KEEL_AF_INET4)
		p->plen = (uint8_t)(8 + (r >> 16) % 25);
	else
		p->plen = (uint8_t)(16 + (r >> 16) % 113);
	if ((r >> 24) % 64 == 0)
		p->plen = 0; /* now and then, everything */
	zero_host_bits(p->addr, p->plen, bytes);
}

/* A probe: near a prefix (its first or last address, or just outside), or anywhere. */
static void probe_addr(uint8_t *a, const struct keel_src_prefix *set, uint32_t n, uint8_t family)
{
	unsigned int bytes = family == KEEL_AF_INET4 ? 4 : 16;
	uint64_t r = rnd();
	const struct keel_src_prefix *p;
	int i;

	memset(a, 0, 16);
	if (!n || r % 4 == 0) {
		for (unsigned int k = 0; k < bytes; k++)
			a[k] = (uint8_t)rnd();
		if (r & 16)
			a[0] = (uint8_t)(r >> 5 & 3) * 64;
		return;
	}
	p = &set[(r >> 8) % n];
	memcpy(a, p->addr, bytes);
	if (r % 4 >= 2) /* the last address of the prefix */
		for (unsigned int k = p->plen; k < bytes * 8; k++)
			a[k / 8] |= (uint8_t)(1u << (7 - k % 8));
	if (r % 4 == 3) { /* one past it */
		for (i = (int)bytes - 1; i >= 0 && ++a[i] == 0; i--)
			;
	} else if (r & 32) { /* one before the first */
		for (i = (int)bytes - 1; i >= 0 && a[i]-- == 0; i--)
			;
	}
}

static struct keel_snapshot *build_with(const struct keel_src_spec *src, uint8_t family,
					struct keel_backend_spec *be, struct keel_vip_spec *vip)
{
	struct keel_snapshot_spec spec = { 0 };

	*be = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	*vip = snapfix_vip(family == KEEL_AF_INET4 ? "192.0.2.1" : "2001:db8::1", 80, KEEL_PROTO_TCP,
			   0, KEEL_ENCAP_IPIP, 3, 251, be, 1);
	vip->sources = src;
	spec.generation = 1;
	spec.n_vips = 1;
	spec.vips = vip;
	snapfix_spec_defaults(&spec);
	return snapfix_build(&spec);
}

static void oracle_run(uint8_t family, uint32_t n, int allow)
{
	struct keel_src_prefix *set = calloc(n + 1, sizeof(*set));
	struct keel_src_spec src = { .mode = KEEL_SRC_ENFORCE };
	struct keel_backend_spec be;
	struct keel_vip_spec vip;
	struct keel_snapshot *s;
	const struct keel_src_list *l;
	const char *why = NULL;

	assert_non_null(set);
	for (uint32_t i = 0; i < n; i++)
		random_prefix(&set[i], family);
	if (allow) {
		src.allow = set;
		src.n_allow = n;
	} else {
		src.deny = set;
		src.n_deny = n;
	}
	s = build_with(&src, family, &be, &vip);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), 0);
	assert_true(keel_snapshot_vips(s)[0].src_off != 0);
	l = keel_src_list_at(s, keel_snapshot_vips(s)[0].src_off);
	for (uint32_t k = 0; k < 4000; k++) {
		uint8_t a[16];

		probe_addr(a, set, n, family);
		if (keel_src_list_refuses(s, l, a) != naive_refuses(&src, a)) {
			char t[64];

			inet_ntop(family == KEEL_AF_INET4 ? AF_INET : AF_INET6, a, t, sizeof(t));
			fail_msg("%s list of %u, probe %s: matcher %d, oracle %d (index %s)",
				 allow ? "allow" : "deny", n, t, keel_src_list_refuses(s, l, a),
				 naive_refuses(&src, a), l->index_off ? "yes" : "no");
		}
	}
	free(s);
	free(set);
}

/* Sizes from empty to past the index threshold (KEEL_SRC_INDEX_MIN boundaries), allow and deny. */
static void test_oracle4(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 2, 3, 7, 30, 200, 511, 600, 3000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int round = 0; round < 4; round++) {
			oracle_run(KEEL_AF_INET4, sizes[i], 0);
			oracle_run(KEEL_AF_INET4, sizes[i], 1);
		}
}

static void test_oracle6(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 2, 3, 7, 30, 200, 511, 600, 3000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int round = 0; round < 4; round++) {
			oracle_run(KEEL_AF_INET6, sizes[i], 0);
			oracle_run(KEEL_AF_INET6, sizes[i], 1);
		}
}

/* With both lists (disjoint, as the configuration demands), the deny entries outside the allow ones change nothing. */
static void test_allow_and_deny(void **state)
{
	struct keel_src_prefix allow[1] = { { .plen = 8 } }, deny[1] = { { .plen = 16 } };
	struct keel_src_spec src = { .allow = allow, .n_allow = 1, .deny = deny, .n_deny = 1 };
	struct keel_backend_spec be;
	struct keel_vip_spec vip;
	struct keel_snapshot *s;
	const struct keel_src_list *l;
	uint8_t a[16] = { 0 };

	(void)state;
	pktgen_addr(4, "10.0.0.0", allow[0].addr);
	pktgen_addr(4, "172.16.0.0", deny[0].addr);
	s = build_with(&src, KEEL_AF_INET4, &be, &vip);
	l = keel_src_list_at(s, keel_snapshot_vips(s)[0].src_off);
	pktgen_addr(4, "10.9.8.7", a);
	assert_int_equal(keel_src_list_refuses(s, l, a), 0);
	pktgen_addr(4, "172.16.1.1", a);
	assert_int_equal(keel_src_list_refuses(s, l, a), 1);
	pktgen_addr(4, "11.0.0.0", a);
	assert_int_equal(keel_src_list_refuses(s, l, a), 1);
	free(s);
}

/* The builder refuses what the configuration should have: host bits, lengths beyond the family. */
static void test_build_refuses(void **state)
{
	struct keel_src_prefix p = { .plen = 24 };
	struct keel_src_spec src = { .deny = &p, .n_deny = 1 };
	struct keel_snapshot_spec spec = { 0 };
	struct keel_backend_spec be = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	struct keel_vip_spec vip = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, 0, 0, 251, &be, 1);
	const char *why = NULL;
	size_t sz;
	void *buf;

	(void)state;
	pktgen_addr(4, "198.51.100.1", p.addr); /* host bits set under /24 */
	vip.sources = &src;
	spec.n_vips = 1;
	spec.vips = &vip;
	snapfix_spec_defaults(&spec);
	sz = keel_snapshot_size(&spec);
	buf = calloc(1, sz);
	assert_int_equal(keel_snapshot_build(buf, sz, &spec, &why), -EINVAL);
	assert_non_null(strstr(why, "source prefix"));
	p.addr[3] = 0;
	p.plen = 33;
	assert_int_equal(keel_snapshot_build(buf, sz, &spec, &why), -EINVAL);
	p.plen = 24;
	assert_int_equal(keel_snapshot_build(buf, sz, &spec, &why), 0);
	free(buf);
}

/* A worker refuses a snapshot whose list is out of order or whose index lies, even with a right checksum. */
static void test_validate_refuses(void **state)
{
	struct keel_src_prefix set[1200];
	struct keel_src_spec src = { .deny = set, .n_deny = 1200 };
	struct keel_backend_spec be;
	struct keel_vip_spec vip;
	struct keel_snapshot *s;
	struct keel_src_list *l;
	uint32_t *b, t;
	const char *why = NULL;

	(void)state;
	for (uint32_t i = 0; i < 1200; i++) {
		memset(&set[i], 0, sizeof(set[i]));
		set[i].addr[0] = 10;
		set[i].addr[1] = (uint8_t)(i / 8);
		set[i].addr[2] = (uint8_t)(i % 8 * 16);
		set[i].plen = 24;
	}
	s = build_with(&src, KEEL_AF_INET4, &be, &vip);
	l = (struct keel_src_list *)keel_src_list_at(s, keel_snapshot_vips(s)[0].src_off);
	assert_int_equal(l->n, 2400);
	assert_true(l->index_off != 0);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), 0);

	b = (uint32_t *)((uint8_t *)s + l->bound_off);
	t = b[5];
	b[5] = b[6];
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), -EINVAL);
	assert_string_equal(why, "source list boundaries not ascending");
	b[5] = t;
	((uint32_t *)((uint8_t *)s + l->index_off))[10 << 8]++;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), -EINVAL);
	assert_string_equal(why, "source list index does not match its boundaries");
	((uint32_t *)((uint8_t *)s + l->index_off))[10 << 8]--;
	l->bound_off = (uint32_t)s->size;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), -EINVAL);
	free(s);
}

struct env {
	struct keel_snapshot *snap;
	struct keel_worker w;
	struct keel_counters ctr;
	void *ftmem;
	uint8_t frame[HEADROOM + FRAME_MAX];
	struct keel_buf buf;
	uint8_t verdict;
};

static const struct keel_port test_port = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }, .mtu = 1500 };

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

static uint8_t send1(struct env *e, const char *src, uint16_t sport)
{
	struct pktgen g = { .family = 4, .src = src, .dst = "192.0.2.1", .proto = 6, .sport = sport,
			    .dport = 80, .tcp_flags = 0x02, .payload_len = 0 };
	size_t len = pktgen_build(e->frame + HEADROOM, FRAME_MAX, &g);

	assert_true(len > 0);
	e->buf.data = e->frame + HEADROOM;
	e->buf.len = (uint16_t)len;
	e->buf.headroom = HEADROOM;
	e->buf.tailroom = (uint16_t)(FRAME_MAX - len);
	keel_pipeline_burst(&e->w, &test_port, &e->buf, &e->verdict, 1);
	return e->verdict;
}

/* Enforce: the denied source is dropped as source_denied and counted on its VIP; the other goes on. */
static void pipeline_case(uint8_t mode)
{
	struct keel_src_prefix deny = { .plen = 24 };
	struct keel_src_spec src = { .mode = mode, .deny = &deny, .n_deny = 1 };
	struct keel_backend_spec be;
	struct keel_vip_spec vip;
	struct env e;

	pktgen_addr(4, "198.51.100.0", deny.addr);
	env_init(&e, build_with(&src, KEEL_AF_INET4, &be, &vip));
	assert_int_equal(send1(&e, "198.51.100.7", 40000),
			 mode == KEEL_SRC_ENFORCE ? KEEL_VERDICT_DROP : KEEL_VERDICT_FORWARD);
	assert_int_equal(e.ctr.vip_source_denied[3], 1);
	assert_int_equal(e.ctr.drops[KEEL_DROP_SOURCE_DENIED], mode == KEEL_SRC_ENFORCE);
	assert_int_equal(e.ctr.vip[3].pkts, mode == KEEL_SRC_COUNT);
	assert_int_equal(send1(&e, "198.51.101.7", 40000), KEEL_VERDICT_FORWARD);
	assert_int_equal(e.ctr.vip_source_denied[3], 1);
	assert_int_equal(e.ctr.drops[KEEL_DROP_SOURCE_DENIED], mode == KEEL_SRC_ENFORCE);
	free(e.snap);
	free(e.ftmem);
}

static void test_pipeline_enforce(void **state)
{
	(void)state;
	pipeline_case(KEEL_SRC_ENFORCE);
}

static void test_pipeline_count(void **state)
{
	(void)state;
	pipeline_case(KEEL_SRC_COUNT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle4),
		cmocka_unit_test(test_oracle6),
		cmocka_unit_test(test_allow_and_deny),
		cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_validate_refuses),
		cmocka_unit_test(test_pipeline_enforce),
		cmocka_unit_test(test_pipeline_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
