/* Snapshot builder and the worker-side validation: every corruption is refused with its reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maglev.h"
#include "pkt.h"
#include "snapfix.h"
#include "snapshot.h"
#include "vip_table.h"

static struct keel_backend_spec be[4];
static struct keel_vip_spec vips[2];
static struct keel_snapshot_spec spec;

static int setup(void **state)
{
	(void)state;
	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 2, KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.0.3", 7, 1, KEEL_BACKEND_DRAINING);
	be[3] = snapfix_backend("2001:db8::1", 9, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 3, 251, be, 3);
	vips[1] = snapfix_vip("2001:db8::80", 0, KEEL_PROTO_UDP, KEEL_VIP_ALL_PORTS,
			      KEEL_ENCAP_GUE, 4, 0, &be[3], 1);
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 2;
	spec.vips = vips;
	spec.generation = 77;
	snapfix_spec_defaults(&spec);
	return 0;
}

/* What an adopted flow must name to be kept: a backend id of the snapshot, on the flow's VIP. */
static void test_has_backend_on(void **state)
{
	struct keel_snapshot *s = snapfix_build(&spec);

	(void)state;
	assert_true(keel_snapshot_has_backend_on(s, 0, 3));
	assert_true(keel_snapshot_has_backend_on(s, 1, 3));
	assert_true(keel_snapshot_has_backend_on(s, 7, 3)); /* draining: still there */
	assert_true(keel_snapshot_has_backend_on(s, 9, 4));
	assert_false(keel_snapshot_has_backend_on(s, 9, 3)); /* another VIP's */
	assert_false(keel_snapshot_has_backend_on(s, 1, 4));
	assert_false(keel_snapshot_has_backend_on(s, 2, 3)); /* an id not allocated */
	assert_false(keel_snapshot_has_backend_on(s, 10, 3)); /* past the array */
	assert_false(keel_snapshot_has_backend_on(s, 60000, 3));
	assert_false(keel_snapshot_has_backend_on(s, 0, 5)); /* no such VIP */
	free(s);
}

static void test_layout(void **state)
{
	struct keel_snapshot *s = snapfix_build(&spec);
	const struct keel_vip *v = keel_snapshot_vips(s);
	const struct keel_backend *b = keel_snapshot_backends(s);
	const uint16_t *t;
	uint32_t i, counts[10] = { 0 };

	(void)state;
	assert_int_equal(s->generation, 77);
	assert_int_equal(s->n_vips, 2);
	assert_int_equal(s->n_backends, 10); /* highest id 9 */
	assert_memory_equal(&v[0].port, "\x00\x50", 2); /* network order 80, on any host */
	assert_int_equal(v[0].id, 3);
	assert_int_equal(v[1].table_size, KEEL_MAGLEV_DEFAULT_SIZE);
	assert_int_equal(b[7].state, KEEL_BACKEND_DRAINING);
	assert_int_equal(b[5].state, KEEL_BACKEND_UNUSED);
	assert_int_equal(b[9].vip, 1);
	assert_memory_equal(b[0].mac, spec.gw_mac, 6); /* default next hop */
	/* Header templates: Ethernet towards the backend, its family's outer header, none for unused ids. */
	assert_memory_equal(b[0].tmpl.hdr, spec.gw_mac, 6);
	assert_memory_equal(b[0].tmpl.hdr + 6, spec.src_mac, 6);
	assert_memory_equal(b[0].tmpl.hdr + 12, "\x08\x00\x45", 3);
	assert_memory_equal(b[0].tmpl.hdr + 14 + 16, b[0].addr, 4);
	assert_memory_equal(b[9].tmpl.hdr + 12, "\x86\xdd\x60", 3);
	assert_memory_equal(b[9].tmpl.hdr + 14 + 24, b[9].addr, 16);
	{
		static const struct keel_encap_tmpl zero;

		assert_memory_equal(&b[5].tmpl, &zero, sizeof(zero));
	}
	assert_int_equal(s->backend_off % 64, 0);
	t = keel_snapshot_table(s, &v[0]);
	for (i = 0; i < 251; i++) {
		assert_true(t[i] == 0 || t[i] == 1);
		counts[t[i]]++;
	}
	/* Weight 1:2 over 251 slots; the draining backend has none. */
	assert_in_range(counts[0], 80, 87);
	assert_in_range(counts[1], 164, 171);
	t = keel_snapshot_table(s, &v[1]);
	for (i = 0; i < KEEL_MAGLEV_DEFAULT_SIZE; i++)
		assert_int_equal(t[i], 9);
	free(s);
}

static void test_deterministic(void **state)
{
	struct keel_snapshot *a = snapfix_build(&spec), *b;

	(void)state;
	b = snapfix_build(&spec);
	assert_int_equal(a->size, b->size);
	assert_memory_equal(a, b, a->size);
	free(a);
	free(b);
}

/*
 * The validation a worker spreads over its loop (keel_snapshot_check_step),
 * in steps of budget units: the verdict and reason it ends with, and how many
 * steps it took.
 */
static int check_in_steps(const struct keel_snapshot *s, size_t avail, uint32_t budget, const char **why,
			  uint64_t *steps)
{
	struct keel_snapshot_check c;
	int ret;

	*steps = 0;
	keel_snapshot_check_start(&c, s, avail);
	do {
		ret = keel_snapshot_check_step(&c, budget, why);
		++*steps;
	} while (ret > 0 && *steps < 100000000);
	return ret;
}

static const uint32_t budgets[] = { 1, 3, 64, 4096 };

/* Each corruption, fixed checksum or not, must be refused, whole or in steps, for the same reason. */
static void expect_refused(struct keel_snapshot *s, size_t avail, const char *reason)
{
	const char *why = NULL;
	uint64_t steps;
	uint32_t k;

	assert_int_equal(keel_snapshot_validate(s, avail, &why), -EINVAL);
	assert_non_null(why);
	assert_string_equal(why, reason);
	for (k = 0; k < sizeof(budgets) / sizeof(budgets[0]); k++) {
		why = NULL;
		assert_int_equal(check_in_steps(s, avail, budgets[k], &why, &steps), -EINVAL);
		assert_non_null(why);
		assert_string_equal(why, reason);
	}
}

/* A valid snapshot passes in steps of any budget, in about size / (8 x budget) steps or more. */
static void expect_valid_in_steps(const struct keel_snapshot *s)
{
	const char *why = NULL;
	uint64_t steps, prev = UINT64_MAX;
	uint32_t k;

	assert_int_equal(keel_snapshot_validate(s, s->size, &why), 0);
	for (k = 0; k < sizeof(budgets) / sizeof(budgets[0]); k++) {
		if (check_in_steps(s, s->size, budgets[k], &why, &steps))
			fail_msg("budget %u: %s", budgets[k], why);
		assert_true(steps >= s->size / 8 / budgets[k]);
		assert_true(steps <= prev);
		prev = steps;
	}
}

static void test_valid_in_steps(void **state)
{
	struct keel_snapshot *s = snapfix_build(&spec);
	struct keel_snapshot_check c;
	const char *why = NULL;

	(void)state;
	expect_valid_in_steps(s);
	free(s);
	/* With a previous-owner table and a source list: the stages after a table. */
	{
		static struct keel_src_prefix deny = { .addr = { 198, 51, 100, 3 }, .plen = 32 };
		static struct keel_src_spec src = { .n_deny = 1, .deny = &deny };
		struct keel_vip_spec v[2] = { vips[0], vips[1] };
		struct keel_snapshot_spec sp = spec;
		uint16_t prev[251];
		uint16_t *t;
		uint32_t i;

		for (i = 0; i < 251; i++)
			prev[i] = i % 5 ? KEEL_BACKEND_NONE : 7; /* the draining backend owned a slot before */
		v[0].prev_owner = prev;
		v[0].sources = &src;
		v[0].flags |= KEEL_VIP_SOURCES;
		sp.vips = v;
		s = snapfix_build(&sp);
		assert_int_not_equal(keel_snapshot_vips(s)[0].prev_off, 0);
		assert_int_not_equal(keel_snapshot_vips(s)[0].src_off, 0);
		expect_valid_in_steps(s);
		t = (uint16_t *)((uint8_t *)s + keel_snapshot_vips(s)[0].prev_off);
		t[250] = 9; /* the other VIP's backend */
		s->checksum = keel_snapshot_checksum(s);
		expect_refused(s, s->size, "previous owner is not a backend of its VIP");
		free(s);
		s = snapfix_build(&spec);
	}
	/* The verdict stays once given. */
	keel_snapshot_check_start(&c, s, s->size);
	while (keel_snapshot_check_step(&c, 1000, &why) > 0)
		;
	assert_int_equal(keel_snapshot_check_step(&c, 1000, &why), 0);
	free(s);
}

static void test_corruptions(void **state)
{
	struct keel_snapshot *s = snapfix_build(&spec), *c;
	size_t sz = s->size;
	uint16_t *t;

	(void)state;
	c = malloc(sz);
	assert_non_null(c);

	memcpy(c, s, sz);
	expect_refused(c, sizeof(*c) - 1, "area smaller than a snapshot header");
	expect_refused(c, sz - 1, "size out of bounds");

	c->magic ^= 1;
	expect_refused(c, sz, "bad magic");

	memcpy(c, s, sz);
	c->abi = 99;
	expect_refused(c, sz, "ABI version mismatch");

	/* A single flipped byte in a table is a half-written snapshot. */
	memcpy(c, s, sz);
	((uint8_t *)c)[sz - 3] ^= 0x40;
	expect_refused(c, sz, "checksum mismatch");

	/* Valid checksum but a table slot naming a backend of another VIP. */
	memcpy(c, s, sz);
	t = (uint16_t *)((uint8_t *)c + keel_snapshot_vips(c)[0].table_off);
	t[5] = 9;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "Maglev slot names a backend not active on its VIP");

	memcpy(c, s, sz);
	t = (uint16_t *)((uint8_t *)c + keel_snapshot_vips(c)[0].table_off);
	t[5] = 7; /* draining: not in the table */
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "Maglev slot names a backend not active on its VIP");

	memcpy(c, s, sz);
	t = (uint16_t *)((uint8_t *)c + keel_snapshot_vips(c)[0].table_off);
	t[0] = 4000;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "Maglev slot names a backend not active on its VIP");

	memcpy(c, s, sz);
	c->vip_off = (uint32_t)sz;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "VIP or backend array out of bounds");

	memcpy(c, s, sz);
	((struct keel_vip *)((uint8_t *)c + c->vip_off))[1].table_off = (uint32_t)sz - 8;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "Maglev table out of bounds");

	memcpy(c, s, sz);
	((struct keel_vip *)((uint8_t *)c + c->vip_off))[0].table_size = 250;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "VIP table size not an accepted prime");

	memcpy(c, s, sz);
	c->vip_hash_size = 3;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "VIP hash out of bounds");

	memcpy(c, s, sz);
	((uint16_t *)((uint8_t *)c + c->vip_hash_off))[0] = 3;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "VIP hash entry out of range");

	memcpy(c, s, sz);
	((struct keel_backend *)((uint8_t *)c + c->backend_off))[1].vip = 5;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "bad backend record");

	memcpy(c, s, sz);
	c->mtu = 100;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "bad output parameters");

	/* A header template that would send elsewhere than its backend says. */
	memcpy(c, s, sz);
	((struct keel_backend *)((uint8_t *)c + c->backend_off))[1].tmpl.hdr[14 + 19] ^= 1;
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "backend header template does not match the backend");

	/* Output parameters changed without the templates made again. */
	memcpy(c, s, sz);
	c->ttl = (uint8_t)(c->ttl + 1);
	c->checksum = keel_snapshot_checksum(c);
	expect_refused(c, sz, "backend header template does not match the backend");

	free(c);
	free(s);
}

static void test_spec_refused(void **state)
{
	struct keel_backend_spec dup[2];
	struct keel_vip_spec v;
	struct keel_snapshot_spec sp = spec;
	uint8_t buf[1 << 19] __attribute__((aligned(64)));
	const char *why = NULL;

	(void)state;
	v = vips[0];
	v.table_size = 253; /* 11 * 23 */
	sp.vips = &v;
	sp.n_vips = 1;
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &sp, &why), -EINVAL);
	assert_string_equal(why, "Maglev table size must be a prime <= 1048573");

	v = vips[0];
	v.port = 0;
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &sp, &why), -EINVAL);
	assert_string_equal(why, "port 0 if and only if all ports");

	v = vips[0];
	v.proto = KEEL_PROTO_ICMP;
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &sp, &why), -EINVAL);

	v = vips[0];
	dup[0] = be[0];
	dup[1] = be[1];
	dup[1].id = dup[0].id;
	v.backends = dup;
	v.n_backends = 2;
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &sp, &why), -EINVAL);
	assert_string_equal(why, "duplicate backend id");

	v = vips[0];
	assert_int_equal(keel_snapshot_build(buf, 100, &sp, &why), -ENOSPC);

	v = vips[0];
	v.id = KEEL_MAX_VIPS;
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &sp, &why), -EINVAL);
}

/* No active backend: the table is all NONE, and that is valid. */
static void test_empty_vip(void **state)
{
	struct keel_backend_spec b = snapfix_backend("10.0.0.9", 0, 0, KEEL_BACKEND_ACTIVE);
	struct keel_vip_spec v = snapfix_vip("192.0.2.9", 80, KEEL_PROTO_TCP, 0, 0, 0, 251, &b, 1);
	struct keel_snapshot_spec sp = spec;
	struct keel_snapshot *s;
	uint32_t i;

	(void)state;
	sp.vips = &v;
	sp.n_vips = 1;
	s = snapfix_build(&sp);
	for (i = 0; i < 251; i++)
		assert_int_equal(keel_snapshot_table(s, keel_snapshot_vips(s))[i], KEEL_BACKEND_NONE);
	free(s);
}

/*
 * The VIP port is stored in network byte order, whatever the host's: its two
 * bytes in memory are the big-endian encoding, the same bytes a packet's
 * destination port has on the wire (issue 14, item 11: the builder swapped
 * them unconditionally, wrong on a big-endian host).
 */
static void test_vip_port_network_order(void **state)
{
	static const uint16_t ports[] = { 1, 80, 443, 0x1234, 0x8001, 65535 };
	struct keel_backend_spec b = snapfix_backend("10.0.0.9", 0, 1, KEEL_BACKEND_ACTIVE);
	struct keel_snapshot_spec sp = spec;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		struct keel_vip_spec v = snapfix_vip("192.0.2.9", ports[i], KEEL_PROTO_TCP, 0, 0, 0,
						     251, &b, 1);
		const uint8_t wire[2] = { (uint8_t)(ports[i] >> 8), (uint8_t)ports[i] };
		struct keel_snapshot *s;

		sp.vips = &v;
		sp.n_vips = 1;
		s = snapfix_build(&sp);
		assert_memory_equal(&keel_snapshot_vips(s)[0].port, wire, 2);
		free(s);
	}
}

/*
 * The builder writes every byte of the snapshot: into a buffer full of
 * garbage (a reused slot) it gives the same bytes as into a zeroed one, with
 * previous owners, a source list with overlapping prefixes (shorter than its
 * bound) and an odd table size.
 */
static void test_dirty_buffer(void **state)
{
	static uint16_t prev[251];
	struct keel_src_prefix allow[3] = { { .addr = { 198, 51, 100 }, .plen = 24 },
					    { .addr = { 198, 51, 100, 128 }, .plen = 25 },
					    { .addr = { 203, 0, 113 }, .plen = 24 } };
	struct keel_src_spec src = { .mode = KEEL_SRC_ENFORCE, .n_allow = 3, .allow = allow };
	struct keel_snapshot *a;
	uint8_t *dirty;
	size_t size;
	uint32_t i;

	(void)state;
	for (i = 0; i < 251; i++)
		prev[i] = i % 3 ? KEEL_BACKEND_NONE : 1;
	vips[0].prev_owner = prev;
	vips[0].sources = &src;
	size = keel_snapshot_size(&spec);
	a = calloc(1, size);
	dirty = malloc(size);
	assert_non_null(a);
	assert_non_null(dirty);
	assert_int_equal(keel_snapshot_build(a, size, &spec, NULL), 0);
	memset(dirty, 0xa5, size);
	assert_int_equal(keel_snapshot_build(dirty, size, &spec, NULL), 0);
	assert_memory_equal(dirty, a, size);
	assert_int_equal(keel_snapshot_validate((struct keel_snapshot *)dirty, size, NULL), 0);
	free(dirty);
	free(a);
}

/*
 * Building over a slot: tables named by a serial the memo records at the
 * same offset are left in place (scribbled here to show it) and enter the
 * checksum by their sums; the bytes and checksum otherwise equal a plain
 * build's. A changed table (new serial) is written; a cleared memo writes all.
 */
static void test_build_over(void **state)
{
	static uint16_t t0[251], t1[KEEL_MAGLEV_DEFAULT_SIZE], t0b[251];
	struct keel_slot_memo *memo = calloc(1, sizeof(*memo));
	struct keel_snapshot *plain, *slot;
	uint16_t *in_slot;
	size_t size;

	(void)state;
	assert_non_null(memo);
	assert_int_equal(keel_vip_table_build(t0, &vips[0], spec.fleet_seed), 0);
	assert_int_equal(keel_vip_table_build(t1, &vips[1], spec.fleet_seed), 0);
	vips[0].table = t0;
	vips[1].table = t1;
	vips[0].table_serial = 10;
	vips[1].table_serial = 11;
	keel_snapshot_sum_table(t0, 251, vips[0].table_sum);
	keel_snapshot_sum_table(t1, KEEL_MAGLEV_DEFAULT_SIZE, vips[1].table_sum);
	size = keel_snapshot_size(&spec);
	plain = calloc(1, size);
	slot = malloc(size);
	assert_true(plain && slot);
	assert_int_equal(keel_snapshot_build(plain, size, &spec, NULL), 0);
	memset(slot, 0xa5, size);
	assert_int_equal(keel_snapshot_build_over(slot, size, &spec, memo, NULL), 0);
	assert_memory_equal(slot, plain, size); /* composed checksum == keel_snapshot_checksum */
	assert_int_equal(memo->n, 2);

	/* The same tables again: VIP 1's stays in place. */
	in_slot = (uint16_t *)((uint8_t *)slot + keel_snapshot_vips(slot)[1].table_off);
	in_slot[5] ^= 1;
	spec.generation++;
	assert_int_equal(keel_snapshot_build_over(slot, size, &spec, memo, NULL), 0);
	assert_int_equal(in_slot[5], t1[5] ^ 1);
	in_slot[5] ^= 1;
	assert_int_equal(keel_snapshot_validate(slot, size, NULL), 0);
	assert_int_equal(slot->checksum, keel_snapshot_checksum(slot));

	/* VIP 0 changes (a new serial): written, and the checksum follows. */
	memcpy(t0b, t0, sizeof(t0b));
	t0b[0] = t0[1];
	vips[0].table = t0b;
	vips[0].table_serial = 12;
	keel_snapshot_sum_table(t0b, 251, vips[0].table_sum);
	spec.generation++;
	assert_int_equal(keel_snapshot_build_over(slot, size, &spec, memo, NULL), 0);
	assert_int_equal(slot->checksum, keel_snapshot_checksum(slot));
	assert_memory_equal((uint8_t *)slot + keel_snapshot_vips(slot)[0].table_off, t0b, sizeof(t0b));

	/* A cleared memo: every table written again. */
	in_slot[5] ^= 1;
	memo->n = 0;
	assert_int_equal(keel_snapshot_build_over(slot, size, &spec, memo, NULL), 0);
	assert_int_equal(in_slot[5], t1[5]);
	assert_int_equal(slot->checksum, keel_snapshot_checksum(slot));
	free(memo);
	free(plain);
	free(slot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_layout, setup),
		cmocka_unit_test_setup(test_has_backend_on, setup),
		cmocka_unit_test_setup(test_deterministic, setup),
		cmocka_unit_test_setup(test_corruptions, setup),
		cmocka_unit_test_setup(test_valid_in_steps, setup),
		cmocka_unit_test_setup(test_spec_refused, setup),
		cmocka_unit_test_setup(test_empty_vip, setup),
		cmocka_unit_test_setup(test_vip_port_network_order, setup),
		cmocka_unit_test_setup(test_dirty_buffer, setup),
		cmocka_unit_test_setup(test_build_over, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
