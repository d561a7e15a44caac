/*
 * Typed edits of the model (control/config/config_edit.c): every edit, its
 * refusals, and that a refused edit changes nothing. Each result is checked
 * against the path it replaces (the model through its JSON form and the
 * schema): the same model and warnings when accepted, the same reason when
 * the schema refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_edit.h"
#include "config_field.h"
#include "pkt.h"

static const char base_yaml[] =
	"instance: t\n"
	"next_hop: {gateway: 10.0.0.254}\n"
	"encap_source: {ipv4: 172.16.0.0/16}\n"
	"vips:\n"
	"  - name: web\n"
	"    address: 192.0.2.10\n"
	"    port: 443\n"
	"    protocol: tcp\n"
	"    maglev_table_size: 7\n"
	"    backends:\n"
	"      - {address: 10.0.0.1, weight: 1}\n"
	"      - {address: 10.0.0.2, weight: 2}\n"
	"      - {address: 10.0.0.3, weight: 3, state: disabled}\n"
	"  - name: dns\n"
	"    address: 192.0.2.11\n"
	"    port: 53\n"
	"    protocol: udp\n"
	"    backends:\n"
	"      - {address: 10.0.0.1}\n"
	"      - {address: 10.0.0.3, state: draining}\n";

/* IPv6 sources but an MTU below IPv6's minimum (fine while nothing is IPv6). */
static const char v6_yaml[] =
	"instance: t\n"
	"mtu: 1200\n"
	"next_hop: {gateway: 10.0.0.254}\n"
	"encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\n"
	"vips:\n"
	"  - {name: web, address: 192.0.2.10, port: 80, protocol: tcp,\n"
	"     backends: [{address: 10.0.0.1}]}\n";

static struct keel_config *load(const char *yaml)
{
	struct keel_config *cfg = NULL;
	struct config_error err;

	if (config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, &err))
		fail_msg("refused: %s", err.msg);
	return cfg;
}

static char *dump(const struct keel_config *cfg)
{
	json_t *j = config_to_json(cfg);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	assert_non_null(text);
	return text;
}

static struct config_edit edit(enum config_edit_op op, const char *vip, const char *addr,
			       uint32_t weight)
{
	struct config_edit e = { .op = op, .vip = vip, .weight = weight };
	const char *bad;

	assert_int_equal(config_parse_addr(addr, e.addr, &e.family, &bad), 0);
	return e;
}

/* The old path on a model: its JSON form through the schema, origin "edit". */
static int through_schema(const struct keel_config *cfg, struct keel_config **out,
			  struct config_error *err)
{
	json_t *j = config_to_json(cfg);
	int rc;

	assert_non_null(j);
	rc = config_from_json(j, "edit", out, err);
	json_decref(j);
	return rc;
}

/* An accepted edit: the schema accepts the result as it is, with the same warnings. */
static void assert_schema_agrees(const struct keel_config *next)
{
	struct config_error err = { .msg = "" };
	struct keel_config *back = NULL;

	if (through_schema(next, &back, &err))
		fail_msg("the schema refuses the edited model: %s", err.msg);
	assert_true(config_equal(next, back));
	assert_int_equal(next->n_warnings, back->n_warnings);
	for (size_t i = 0; i < next->n_warnings; i++)
		assert_string_equal(next->warnings[i], back->warnings[i]);
	config_free(back);
}

/* Apply e, which must succeed; cur is unchanged. */
static struct keel_config *edit_ok(const struct keel_config *cur, const struct config_edit *e)
{
	struct keel_config *next = NULL;
	char *before = dump(cur), *after, why[512] = "";
	int rc = config_edit_apply(cur, e, &next, why, sizeof(why));

	if (rc)
		fail_msg("edit refused (%d): %s", rc, why);
	assert_non_null(next);
	assert_ptr_not_equal(next, cur);
	after = dump(cur);
	assert_string_equal(before, after);
	assert_schema_agrees(next);
	free(before);
	free(after);
	return next;
}

/* Apply e, which must be refused with rc and a reason holding want; cur and *out unchanged. */
static void edit_refused(const struct keel_config *cur, const struct config_edit *e, int rc,
			 const char *want, char *why, size_t whylen)
{
	struct keel_config *sentinel = (struct keel_config *)(uintptr_t)0x5a5a, *next = sentinel;
	char *before = dump(cur), *after;
	size_t warnings = cur->n_warnings;

	why[0] = '\0';
	assert_int_equal(config_edit_apply(cur, e, &next, why, whylen), rc);
	assert_ptr_equal(next, sentinel);
	if (!strstr(why, want))
		fail_msg("reason \"%s\" does not say \"%s\"", why, want);
	after = dump(cur);
	assert_string_equal(before, after);
	assert_int_equal(cur->n_warnings, warnings);
	free(before);
	free(after);
}

/*
 * A refused add as the schema refuses it: the same backend appended to the VIP
 * in the JSON form gets the same reason, word for word.
 */
static void add_refused_as_schema(const struct keel_config *cur, const char *vip,
				  const char *addr, const char *want)
{
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_ADD, vip, addr, 1);
	struct config_error err = { .msg = "" };
	struct keel_config *back = NULL;
	json_t *j = config_to_json(cur), *v;
	char why[512];
	size_t i;

	edit_refused(cur, &e, -EINVAL, want, why, sizeof(why));
	json_array_foreach(json_object_get(j, "vips"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")), vip))
			json_array_append_new(json_object_get(v, "backends"),
					      json_pack("{s:s,s:i}", "address", addr, "weight", 1));
	assert_int_equal(config_from_json(j, "edit", &back, &err), -EINVAL);
	json_decref(j);
	assert_string_equal(why, err.msg);
}

static const struct config_backend *backend(const struct keel_config *cfg, const char *vip,
					    const char *addr)
{
	const struct config_vip *v = config_vip_find(cfg, vip, NULL);
	uint8_t a[16], fam;
	const char *bad;
	int bi;

	assert_non_null(v);
	assert_int_equal(config_parse_addr(addr, a, &fam, &bad), 0);
	bi = config_backend_index(v, a, fam);
	return bi < 0 ? NULL : &v->backends[bi];
}

static void test_copy(void **state)
{
	struct keel_config *cur = load(base_yaml), *copy;
	char *a, *b;

	(void)state;
	copy = config_copy(cur);
	assert_non_null(copy);
	assert_true(config_equal(cur, copy));
	assert_int_equal(copy->n_warnings, cur->n_warnings);
	assert_ptr_not_equal(copy->vips, cur->vips);
	assert_ptr_not_equal(copy->vips[0].backends, cur->vips[0].backends);
	/* Independent: a change to the copy leaves the original. */
	a = dump(cur);
	copy->vips[0].backends[0].weight = 9;
	b = dump(cur);
	assert_string_equal(a, b);
	free(a);
	free(b);
	config_free(copy);
	config_free(cur);
}

/*
 * A VIP's source list is the copy's own: an edit frees the configuration it was copied from,
 * and the copy's list (read by the next publish) must outlive it. It was shared, and a publish
 * after any edit read freed memory (keel-control crashed in keel_src_list_write).
 */
static void test_copy_sources(void **state)
{
	static const char yaml[] =
		"instance: t\n"
		"next_hop: {gateway: 10.0.0.254}\n"
		"encap_source: {ipv4: 172.16.0.0/16}\n"
		"vips:\n"
		"  - name: web\n"
		"    address: 192.0.2.10\n"
		"    port: 443\n"
		"    protocol: tcp\n"
		"    sources: {allow: [198.51.100.0/24], deny: [203.0.113.3/32]}\n"
		"    backends: [{address: 10.0.0.1}]\n";
	struct keel_config *cur = load(yaml), *copy;
	char *before, *after;

	(void)state;
	assert_non_null(cur->vips[0].sources);
	copy = config_copy(cur);
	assert_non_null(copy);
	assert_non_null(copy->vips[0].sources);
	assert_ptr_not_equal(copy->vips[0].sources, cur->vips[0].sources);
	assert_ptr_not_equal(copy->vips[0].sources->deny, cur->vips[0].sources->deny);
	assert_true(config_equal(cur, copy));
	before = dump(copy);
	config_free(cur);
	after = dump(copy);
	assert_string_equal(before, after);
	assert_int_equal(copy->vips[0].sources->n_allow, 1);
	assert_int_equal(copy->vips[0].sources->n_deny, 1);
	free(before);
	free(after);
	config_free(copy);
}

static void test_add(void **state)
{
	struct keel_config *cur = load(base_yaml), *next;
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.9", 4);
	const struct config_backend *b;

	(void)state;
	next = edit_ok(cur, &e);
	assert_int_equal(next->vips[0].n_backends, 4);
	b = backend(next, "web", "10.0.0.9");
	assert_non_null(b);
	assert_int_equal(b->weight, 4);
	assert_int_equal(b->state, CONFIG_BACKEND_ACTIVE);
	assert_ptr_equal(b, &next->vips[0].backends[3]); /* appended, as the API always did */
	assert_null(backend(cur, "web", "10.0.0.9"));
	assert_null(backend(next, "dns", "10.0.0.9"));
	config_free(next);
	/* IPv6 with an IPv6 source, weight 0. */
	config_free(cur);
	cur = load("instance: t\nnext_hop: {gateway: 10.0.0.254}\n"
		   "encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\n"
		   "vips: [{name: web, address: 192.0.2.10, port: 80, protocol: tcp,"
		   " backends: [{address: 10.0.0.1}]}]\n");
	e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "2001:db8::1", 0);
	next = edit_ok(cur, &e);
	assert_int_equal(backend(next, "web", "2001:db8::1")->weight, 0);
	config_free(next);
	config_free(cur);
}

static void test_add_refused(void **state)
{
	struct keel_config *cur = load(base_yaml);
	struct config_edit e;
	char why[512];

	(void)state;
	e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.2", 1);
	edit_refused(cur, &e, -EEXIST, "backend 10.0.0.2 already in VIP web", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_ADD, "nope", "10.0.0.9", 1);
	edit_refused(cur, &e, -ENOENT, "no VIP named nope", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.9", 65536);
	edit_refused(cur, &e, -EINVAL, "weight must be 0..65535", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.9", UINT32_MAX);
	edit_refused(cur, &e, -EINVAL, "weight must be 0..65535", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_ADD, NULL, "10.0.0.9", 1);
	edit_refused(cur, &e, -EINVAL, "no VIP named", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.9", 1);
	e.family = 0;
	edit_refused(cur, &e, -EINVAL, "no family", why, sizeof(why));
	/* What the schema refuses, refused with its words. */
	add_refused_as_schema(cur, "web", "127.0.0.1",
			      "edit: vips[0].backends[3].address: 127.0.0.1 is a loopback address");
	add_refused_as_schema(cur, "web", "224.0.0.1", "multicast");
	add_refused_as_schema(cur, "dns", "192.0.2.10", "is the address of VIP web (vips[0])");
	add_refused_as_schema(cur, "web", "172.16.3.4", "is inside encap_source.ipv4");
	add_refused_as_schema(cur, "web", "2001:db8::1", "encap_source has no ipv6 prefix");
	/* maglev_table_size 7 holds 7 backends: the fifth..seventh fit, the eighth does not. */
	{
		struct keel_config *a = cur, *b = NULL;
		char addr[16];

		for (int i = 4; i <= 7; i++) {
			snprintf(addr, sizeof(addr), "10.0.1.%d", i);
			e = edit(CONFIG_EDIT_BACKEND_ADD, "web", addr, 1);
			b = edit_ok(a, &e);
			if (a != cur)
				config_free(a);
			a = b;
		}
		add_refused_as_schema(a, "web", "10.0.1.8",
				      "maglev_table_size 7 is smaller than the 8 backends");
		config_free(a);
	}
	config_free(cur);
	cur = load(v6_yaml);
	add_refused_as_schema(cur, "web", "2001:db8::1",
			      "edit: mtu: 1200 is below 1280, the IPv6 minimum, and IPv6 is in use");
	config_free(cur);
}

/* The backend limit is over all VIPs: one more than CONFIG_MAX_BACKENDS is refused. */
static void test_add_over_limit(void **state)
{
	struct keel_config *cur = load(base_yaml);
	struct config_vip *v = &cur->vips[1];
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "10.0.0.9", 1);
	uint32_t n = CONFIG_MAX_BACKENDS - cur->vips[0].n_backends, i;
	char why[512];

	(void)state;
	/* The model as a file at the limit would load: dns holds the rest (10.1.x.y). */
	free(v->backends);
	v->backends = calloc(n + 1, sizeof(*v->backends));
	assert_non_null(v->backends);
	for (i = 0; i < n; i++) {
		v->backends[i].family = KEEL_AF_INET4;
		v->backends[i].addr[0] = 10;
		v->backends[i].addr[1] = 1;
		v->backends[i].addr[2] = (uint8_t)(i >> 8);
		v->backends[i].addr[3] = (uint8_t)i;
		v->backends[i].weight = 1;
	}
	v->n_backends = n;
	v->table_size = 65537;
	edit_refused(cur, &e, -EINVAL, "too many backends: more than 16384 over all VIPs", why,
		     sizeof(why));
	config_free(cur);
}

static void test_del(void **state)
{
	struct keel_config *cur = load(base_yaml), *next, *last;
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_DEL, "web", "10.0.0.1", 0);
	char why[512];

	(void)state;
	next = edit_ok(cur, &e);
	assert_int_equal(next->vips[0].n_backends, 2);
	assert_null(backend(next, "web", "10.0.0.1"));
	assert_non_null(backend(next, "dns", "10.0.0.1")); /* the other VIP keeps it */
	/* Order kept: 10.0.0.2, then 10.0.0.3. */
	assert_int_equal(next->vips[0].backends[0].weight, 2);
	assert_int_equal(next->vips[0].backends[1].weight, 3);
	edit_refused(next, &e, -ENOENT, "no backend 10.0.0.1 in VIP web", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_DEL, "nope", "10.0.0.1", 0);
	edit_refused(cur, &e, -ENOENT, "no VIP named nope", why, sizeof(why));
	/*
	 * The last backends: the model holds a VIP without any (the schema warns
	 * it drops new connections); refusing that without force is the
	 * preview's rule in keel-control (control_api.sh: 409).
	 */
	e = edit(CONFIG_EDIT_BACKEND_DEL, "dns", "10.0.0.1", 0);
	last = edit_ok(cur, &e);
	config_free(next);
	e = edit(CONFIG_EDIT_BACKEND_DEL, "dns", "10.0.0.3", 0);
	next = edit_ok(last, &e);
	assert_int_equal(next->vips[1].n_backends, 0);
	assert_non_null(next->vips[1].backends);
	assert_non_null(strstr(next->warnings[next->n_warnings - 1],
			       "edit: vips[1]: VIP dns has no active backend"));
	config_free(last);
	config_free(next);
	config_free(cur);
}

static void test_weight(void **state)
{
	struct keel_config *cur = load(base_yaml), *next;
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_WEIGHT, "web", "10.0.0.2", 65535);
	char why[512];

	(void)state;
	next = edit_ok(cur, &e);
	assert_int_equal(backend(next, "web", "10.0.0.2")->weight, 65535);
	assert_int_equal(backend(cur, "web", "10.0.0.2")->weight, 2);
	config_free(next);
	e.weight = 65536;
	edit_refused(cur, &e, -EINVAL, "weight must be 0..65535", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_WEIGHT, "web", "10.0.0.9", 1);
	edit_refused(cur, &e, -ENOENT, "no backend 10.0.0.9 in VIP web", why, sizeof(why));
	e = edit(CONFIG_EDIT_BACKEND_WEIGHT, "nope", "10.0.0.1", 1);
	edit_refused(cur, &e, -ENOENT, "no VIP named nope", why, sizeof(why));
	/* Weight 0 on dns's only active backend: accepted, with the schema's warning. */
	e = edit(CONFIG_EDIT_BACKEND_WEIGHT, "dns", "10.0.0.1", 0);
	next = edit_ok(cur, &e);
	assert_non_null(strstr(next->warnings[next->n_warnings - 1],
			       "VIP dns has no active backend with a weight above 0"));
	config_free(next);
	config_free(cur);
}

static void test_states(void **state)
{
	static const struct {
		enum config_edit_op op;
		const char *addr;
		uint8_t want;
	} cases[] = {
		{ CONFIG_EDIT_BACKEND_DRAIN, "10.0.0.1", CONFIG_BACKEND_DRAINING },
		{ CONFIG_EDIT_BACKEND_DRAIN, "10.0.0.3", CONFIG_BACKEND_DRAINING },
		{ CONFIG_EDIT_BACKEND_UNDRAIN, "10.0.0.3", CONFIG_BACKEND_ACTIVE },
		{ CONFIG_EDIT_BACKEND_UNDRAIN, "10.0.0.1", CONFIG_BACKEND_ACTIVE },
		{ CONFIG_EDIT_BACKEND_DISABLE, "10.0.0.2", CONFIG_BACKEND_DISABLED },
		{ CONFIG_EDIT_BACKEND_DISABLE, "10.0.0.3", CONFIG_BACKEND_DISABLED },
	};
	struct keel_config *cur = load(base_yaml), *next;
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_edit e = edit(cases[i].op, "web", cases[i].addr, 0);

		next = edit_ok(cur, &e);
		assert_int_equal(backend(next, "web", cases[i].addr)->state, cases[i].want);
		/* Only that backend of that VIP. */
		assert_int_equal(backend(next, "dns", "10.0.0.1")->state, CONFIG_BACKEND_ACTIVE);
		assert_int_equal(backend(next, "dns", "10.0.0.3")->state, CONFIG_BACKEND_DRAINING);
		config_free(next);
		e = edit(cases[i].op, "web", "10.0.0.9", 0);
		edit_refused(cur, &e, -ENOENT, "no backend 10.0.0.9 in VIP web", why, sizeof(why));
		e = edit(cases[i].op, "nope", cases[i].addr, 0);
		edit_refused(cur, &e, -ENOENT, "no VIP named nope", why, sizeof(why));
	}
	config_free(cur);
}

static void test_server(void **state)
{
	struct keel_config *cur = load(base_yaml), *next, *back;
	struct config_edit e = edit(CONFIG_EDIT_SERVER_DRAIN, NULL, "10.0.0.1", 0);
	char why[512];

	(void)state;
	/* 10.0.0.1 is active in both VIPs: draining in both. */
	next = edit_ok(cur, &e);
	assert_int_equal(backend(next, "web", "10.0.0.1")->state, CONFIG_BACKEND_DRAINING);
	assert_int_equal(backend(next, "dns", "10.0.0.1")->state, CONFIG_BACKEND_DRAINING);
	assert_int_equal(backend(next, "web", "10.0.0.2")->state, CONFIG_BACKEND_ACTIVE);
	e.op = CONFIG_EDIT_SERVER_UNDRAIN;
	back = edit_ok(next, &e);
	assert_true(config_equal(back, cur));
	config_free(back);
	config_free(next);
	/* 10.0.0.3: disabled in web, draining in dns; undrain moves dns only, drain neither. */
	e = edit(CONFIG_EDIT_SERVER_UNDRAIN, NULL, "10.0.0.3", 0);
	next = edit_ok(cur, &e);
	assert_int_equal(backend(next, "web", "10.0.0.3")->state, CONFIG_BACKEND_DISABLED);
	assert_int_equal(backend(next, "dns", "10.0.0.3")->state, CONFIG_BACKEND_ACTIVE);
	config_free(next);
	e.op = CONFIG_EDIT_SERVER_DRAIN;
	next = edit_ok(cur, &e);
	assert_true(config_equal(next, cur));
	config_free(next);
	e = edit(CONFIG_EDIT_SERVER_DRAIN, NULL, "10.9.9.9", 0);
	edit_refused(cur, &e, -ENOENT, "no VIP has backend 10.9.9.9", why, sizeof(why));
	e.op = CONFIG_EDIT_SERVER_UNDRAIN;
	edit_refused(cur, &e, -ENOENT, "no VIP has backend 10.9.9.9", why, sizeof(why));
	config_free(cur);
}

/* An unknown operation is refused like the rest, and the reason fits whatever buffer it gets. */
static void test_unknown_and_short_why(void **state)
{
	struct keel_config *cur = load(base_yaml);
	struct config_edit e = edit(CONFIG_EDIT_BACKEND_ADD, "web", "127.0.0.1", 1);
	char why[512], tiny[8];

	(void)state;
	e.op = (enum config_edit_op)99;
	edit_refused(cur, &e, -EINVAL, "unknown edit 99", why, sizeof(why));
	e.op = CONFIG_EDIT_BACKEND_ADD;
	edit_refused(cur, &e, -EINVAL, "edit: v", tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	config_free(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_copy_sources),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_refused),
		cmocka_unit_test(test_add_over_limit),
		cmocka_unit_test(test_del),
		cmocka_unit_test(test_weight),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_unknown_and_short_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
