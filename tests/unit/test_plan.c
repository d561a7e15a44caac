/* plan/: the table cache builds each distinct table once, an edit rebuilds only what it changes, and the preview agrees with a from-scratch build. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "ids.h"
#include "pkt.h"
#include "../plan/second_chance.h" /* control/plan's, not the packet core's second_chance.h */
#include "snapshot.h"
#include "spec.h"
#include "tables.h"
#include "vip_table.h"

#define N_VIPS 20
#define N_BACKENDS 8

/* N_VIPS VIPs of N_BACKENDS backends each, backend 0 of VIP `edited` at weight w0. */
static struct keel_config *config_with(uint32_t edited, uint32_t w0)
{
	struct keel_config *cfg = NULL;
	struct config_error err = { 0 };
	char *buf = malloc(1 << 16);
	size_t len = 0;
	uint32_t v, b;

	assert_non_null(buf);
	len += (size_t)snprintf(buf + len, (1 << 16) - len,
				"instance: plan\nnext_hop: { mac: \"02:00:5e:10:00:01\" }\n"
				"encap_source: { ipv4: 172.16.0.0/16 }\nmaglev_table_size: 1021\nvips:\n");
	for (v = 0; v < N_VIPS; v++) {
		len += (size_t)snprintf(buf + len, (1 << 16) - len,
					"  - name: v%u\n    address: 198.18.0.%u\n    port: 80\n"
					"    protocol: tcp\n    backends:\n",
					v, v + 1);
		for (b = 0; b < N_BACKENDS; b++)
			len += (size_t)snprintf(buf + len, (1 << 16) - len,
						"      - { address: 10.0.%u.%u, weight: %u }\n", v, b + 1,
						v == edited && b == 0 ? w0 : 1 + b % 3);
	}
	if (config_load_buffer(buf, len, "test", &cfg, &err))
		fail_msg("config: %s", err.msg);
	free(buf);
	return cfg;
}

static bool near(double x, double y)
{
	return x - y < 1e-9 && y - x < 1e-9;
}

struct side {
	struct keel_config *cfg;
	struct ids *ids;
	struct spec_out out;
};

static void side_build(struct side *s, struct keel_config *cfg, const struct ids *base)
{
	struct spec_inputs in = { 0 };

	s->cfg = cfg;
	s->ids = base ? ids_clone(base) : ids_new();
	assert_non_null(s->ids);
	assert_int_equal(ids_sync(s->ids, cfg, 1000), 0);
	in.cfg = cfg;
	in.ids = s->ids;
	assert_int_equal(spec_build(&in, &s->out), 0);
}

static void side_free(struct side *s)
{
	spec_free(&s->out);
	ids_free(s->ids);
	config_free(s->cfg);
}

/* An edit of one VIP rebuilds that VIP's table only; the others are the very same tables. */
static void test_edit_rebuilds_one_table(void **state)
{
	struct vip_tables *vt = vip_tables_new(2);
	struct side a, b;
	const uint16_t *before[N_VIPS];
	uint16_t *scratch = malloc(1021 * sizeof(*scratch));
	uint32_t i;

	(void)state;
	assert_non_null(vt);
	assert_non_null(scratch);
	side_build(&a, config_with(3, 1), NULL);
	assert_int_equal(spec_tables(&a.out, vt, NULL, NULL), 0);
	assert_int_equal(vip_tables_builds(vt), N_VIPS);
	for (i = 0; i < N_VIPS; i++)
		before[i] = a.out.vips[i].table;
	/* Asking again builds nothing. */
	assert_int_equal(spec_tables(&a.out, vt, NULL, NULL), 0);
	assert_int_equal(vip_tables_builds(vt), N_VIPS);

	side_build(&b, config_with(3, 5), a.ids);
	assert_int_equal(spec_tables(&b.out, vt, NULL, NULL), 0);
	assert_int_equal(vip_tables_builds(vt), N_VIPS + 1);
	for (i = 0; i < N_VIPS; i++) {
		/* Every table equals a from-scratch build of the same spec. */
		assert_int_equal(keel_vip_table_build(scratch, &b.out.vips[i], b.out.spec.fleet_seed), 0);
		assert_memory_equal(scratch, b.out.vips[i].table, 1021 * sizeof(*scratch));
		if (i == 3)
			assert_ptr_not_equal(b.out.vips[i].table, before[i]);
		else
			assert_ptr_equal(b.out.vips[i].table, before[i]);
	}
	/* Both sides were used since the last sweep: both stay; then the unused one goes. */
	vip_tables_sweep(vt);
	assert_int_equal(vip_tables_count(vt, NULL), N_VIPS + 1);
	assert_int_equal(spec_tables(&b.out, vt, NULL, NULL), 0);
	vip_tables_sweep(vt);
	assert_int_equal(vip_tables_count(vt, NULL), N_VIPS);
	side_free(&a);
	side_free(&b);
	free(scratch);
	vip_tables_free(vt);
}

/*
 * Second chance remembering the running tables by reference in the cache
 * names the very previous owners that it names with copies of its own,
 * through edits, a publish of no VIPs (a drained host, after which
 * keel-control does not sweep: the tables stay for the history) and back;
 * and a sweep after vip_tables_begin keeps only the tables used since.
 */
static void test_second_chance_by_reference(void **state)
{
	static const uint32_t w0[] = { 1, 5, 5, 2, 0, 1, 3 };
	struct second_chance *own = second_chance_new(60000), *ref = second_chance_new(60000);
	struct vip_tables *vt = vip_tables_new(1);
	struct ids *ids = ids_new();
	struct keel_config *last_cfg = NULL;
	struct spec_out last = { 0 };
	uint64_t now = 1000;
	uint32_t k, i, named = 0;

	(void)state;
	assert_true(own && ref && vt && ids);
	second_chance_use_tables(ref, vt);
	for (k = 0; k < sizeof(w0) / sizeof(w0[0]); k++) {
		struct keel_config *cfg = config_with(k % 2 ? 3 : 7, w0[k]);
		struct spec_inputs in = { .cfg = cfg, .ids = ids };
		struct spec_out a, b;

		assert_int_equal(ids_sync(ids, cfg, now), 0);
		assert_int_equal(spec_build(&in, &a), 0);
		assert_int_equal(spec_build(&in, &b), 0);
		if (k == 4) /* drained: the same configuration without its VIPs */
			a.spec.n_vips = b.spec.n_vips = 0;
		/* An apply's preview asks for the running tables again (its "before" side). */
		if (k)
			assert_int_equal(spec_tables(&last, vt, NULL, NULL), 0);
		vip_tables_begin(vt);
		assert_int_equal(spec_tables(&b, vt, NULL, NULL), 0);
		assert_int_equal(second_chance_apply(own, &a.spec, a.vips, now), 0);
		assert_int_equal(second_chance_apply(ref, &b.spec, b.vips, now), 0);
		for (i = 0; i < a.spec.n_vips; i++) {
			assert_int_equal(!a.vips[i].prev_owner, !b.vips[i].prev_owner);
			if (a.vips[i].prev_owner) {
				assert_memory_equal(a.vips[i].prev_owner, b.vips[i].prev_owner,
						    1021 * sizeof(uint16_t));
				named++;
			}
		}
		assert_int_equal(second_chance_slots(own), second_chance_slots(ref));
		if (k != 4) {
			vip_tables_sweep(vt);
			/* Only this publish's tables stay. */
			assert_int_equal(vip_tables_count(vt, NULL), N_VIPS);
		}
		spec_free(&a);
		spec_free(&last);
		last = b;
		config_free(last_cfg);
		last_cfg = cfg;
		now += 1000;
	}
	spec_free(&last);
	config_free(last_cfg);
	/* The edits moved slots: some publishes named previous owners. */
	assert_true(named > 0);
	second_chance_free(own);
	second_chance_free(ref);
	vip_tables_free(vt);
	ids_free(ids);
}

/* The preview of a one-VIP edit: moved share and slot counts from a naive count over fresh tables. */
static void test_preview_matches_scratch(void **state)
{
	struct vip_tables *vt = vip_tables_new(1);
	struct side a, b;
	double moved = -1;
	bool emptied = true;
	uint16_t *ta = malloc(1021 * sizeof(*ta)), *tb = malloc(1021 * sizeof(*tb));
	json_t *p, *v3, *be;
	uint32_t s, nmoved = 0, count0 = 0;
	uint64_t builds;

	(void)state;
	side_build(&a, config_with(3, 1), NULL);
	side_build(&b, config_with(3, 6), a.ids);
	assert_int_equal(spec_tables(&a.out, vt, NULL, NULL), 0);
	builds = vip_tables_builds(vt);
	p = spec_preview(vt, &(struct spec_side){ a.cfg, a.ids }, &(struct spec_side){ b.cfg, b.ids },
			 NULL, NULL, &moved, &emptied);
	assert_non_null(p);
	/* The preview built the one new table, and reused the running ones. */
	assert_int_equal(vip_tables_builds(vt), builds + 1);
	assert_false(emptied);

	/* Naive oracle: fresh tables of VIP 3 before and after, compared slot by slot by address. */
	assert_int_equal(keel_vip_table_build(ta, &a.out.vips[3], a.out.spec.fleet_seed), 0);
	assert_int_equal(keel_vip_table_build(tb, &b.out.vips[3], b.out.spec.fleet_seed), 0);
	for (s = 0; s < 1021; s++) {
		nmoved += ta[s] != tb[s]; /* ids are the same on both sides: same id, same address */
		count0 += tb[s] == b.out.vips[3].backends[0].id;
	}
	v3 = json_object_get(p, "v3");
	assert_non_null(v3);
	assert_true(nmoved > 0);
	assert_true(near(json_real_value(json_object_get(v3, "moved_share")), (double)nmoved / 1021));
	assert_true(near(moved, (double)nmoved / 1021));
	be = json_object_get(json_object_get(v3, "backends"), "10.0.3.1");
	assert_non_null(be);
	assert_int_equal(json_integer_value(json_object_get(be, "after")), count0);
	/* Another VIP: nothing moved. */
	assert_true(json_real_value(json_object_get(json_object_get(p, "v4"), "moved_share")) == 0.0);
	json_decref(p);
	free(ta);
	free(tb);
	side_free(&a);
	side_free(&b);
	vip_tables_free(vt);
}

/* A configuration at the limits: 1024 VIPs and 16384 backends get ids and a spec (issue 19, item 5). */
static void test_at_the_limits(void **state)
{
	size_t cap = 4u << 20, len = 0;
	char *buf = malloc(cap);
	struct keel_config *cfg = NULL;
	struct config_error err = { 0 };
	struct spec_inputs in = { 0 };
	struct spec_out out;
	struct ids *ids = ids_new();
	uint32_t v, b;

	(void)state;
	assert_non_null(buf);
	assert_non_null(ids);
	len += (size_t)snprintf(buf + len, cap - len,
				"instance: plan\nnext_hop: { mac: \"02:00:5e:10:00:01\" }\n"
				"encap_source: { ipv4: 172.16.0.0/16 }\nmaglev_table_size: 251\nvips:\n");
	for (v = 0; v < KEEL_MAX_VIPS; v++) {
		len += (size_t)snprintf(buf + len, cap - len,
					"  - name: v%u\n    address: 198.18.%u.%u\n    port: 80\n"
					"    protocol: tcp\n    backends:\n", v, v / 250, v % 250 + 1);
		for (b = 0; b < KEEL_MAX_BACKENDS / KEEL_MAX_VIPS; b++) {
			uint32_t n = v * (KEEL_MAX_BACKENDS / KEEL_MAX_VIPS) + b;

			len += (size_t)snprintf(buf + len, cap - len, "      - { address: 10.1.%u.%u }\n",
						n / 256, n % 256);
		}
	}
	if (config_load_buffer(buf, len, "limits", &cfg, &err))
		fail_msg("config at the limits refused: %s", err.msg);
	free(buf);
	assert_int_equal(ids_sync(ids, cfg, 1000), 0);
	assert_int_equal(ids_backend(ids, "v1023", (const uint8_t[16]){ 10, 1, 63, 255 }, KEEL_AF_INET4),
			 KEEL_MAX_BACKENDS - 1);
	in.cfg = cfg;
	in.ids = ids;
	assert_int_equal(spec_build(&in, &out), 0);
	assert_int_equal(out.spec.n_vips, KEEL_MAX_VIPS);
	spec_free(&out);
	ids_free(ids);
	config_free(cfg);
}

/*
 * Source lists: a VIP's list goes into its snapshot spec as it is (and the
 * snapshot builds with it); the preview says what the list becomes, for that
 * VIP only.
 */
static void test_sources_spec_and_preview(void **state)
{
	struct vip_tables *vt = vip_tables_new(1);
	struct keel_src_spec *src = calloc(1, sizeof(*src));
	struct side a, b;
	struct keel_snapshot *s;
	const char *why = NULL;
	json_t *p, *v5;
	size_t sz;

	(void)state;
	assert_non_null(src);
	src->deny = calloc(1, sizeof(*src->deny));
	assert_non_null(src->deny);
	src->n_deny = 1;
	src->deny[0].addr[0] = 198, src->deny[0].addr[1] = 51, src->deny[0].addr[2] = 100;
	src->deny[0].plen = 24;
	side_build(&a, config_with(3, 1), NULL);
	b.cfg = config_with(3, 1);
	b.cfg->vips[5].sources = src; /* owned and freed by the model */
	side_build(&b, b.cfg, a.ids);
	assert_ptr_equal(b.out.vips[5].sources, src);
	assert_null(b.out.vips[4].sources);
	sz = keel_snapshot_size(&b.out.spec);
	s = calloc(1, sz);
	assert_non_null(s);
	assert_int_equal(keel_snapshot_build(s, sz, &b.out.spec, &why), 0);
	assert_true(keel_snapshot_vips(s)[5].flags & KEEL_VIP_SOURCES);
	assert_false(keel_snapshot_vips(s)[4].flags & KEEL_VIP_SOURCES);
	free(s);

	assert_int_equal(spec_tables(&a.out, vt, NULL, NULL), 0);
	p = spec_preview(vt, &(struct spec_side){ a.cfg, a.ids }, &(struct spec_side){ b.cfg, b.ids },
			 NULL, NULL, NULL, NULL);
	assert_non_null(p);
	v5 = json_object_get(json_object_get(p, "v5"), "sources");
	assert_non_null(v5);
	assert_string_equal(json_string_value(json_object_get(v5, "before")), "none");
	assert_string_equal(json_string_value(json_object_get(v5, "after")), "enforce, 0 allow, 1 deny");
	assert_null(json_object_get(json_object_get(p, "v4"), "sources"));
	json_decref(p);
	side_free(&a);
	side_free(&b);
	vip_tables_free(vt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_rebuilds_one_table),
		cmocka_unit_test(test_second_chance_by_reference),
		cmocka_unit_test(test_preview_matches_scratch),
		cmocka_unit_test(test_sources_spec_and_preview),
		cmocka_unit_test(test_at_the_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
