/* Unit tests of the API contract (api/keel_api.h): every route built and matched, every struct round-tripped through JSON, the error table consistent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keel_api.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool has_param(enum keel_api_route r, const char *param)
{
	return strstr(keel_api_route(r)->pattern, param) != NULL;
}

/* keel_api_path's path (its query cut off) matched back by keel_api_match. */
static int match_built(const char *method, const char *built, struct keel_api_target *t,
		       const char **allow)
{
	char path[KEEL_API_PATH_MAX], why[256];

	snprintf(path, sizeof(path), "%s", built);
	path[strcspn(path, "?")] = '\0';
	return keel_api_match(method, path, t, allow, why, sizeof(why));
}

/* Every row: its path built for keelctl is the same route for the server, parameters and all. */
static void test_every_route_built_and_matched(void **state)
{
	static const char *const addrs[] = { "10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1" };
	const struct keel_api_query q = { .dry_run = true, .force = true };
	char path[KEEL_API_PATH_MAX];
	struct keel_api_target t;
	const char *allow;

	(void)state;
	for (int r = KEEL_API_ROUTE_NONE + 1; r < KEEL_API_ROUTE_COUNT; r++) {
		const struct keel_api_route_def *d = keel_api_route((enum keel_api_route)r);
		const char *method = keel_api_method_name(d->method);

		assert_non_null(d);
		assert_int_equal(strncmp(d->pattern, KEEL_API_PREFIX "/", strlen(KEEL_API_PREFIX) + 1), 0);
		for (size_t a = 0; a < N_OF(addrs); a++) {
			assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r,
						       "web-2.a_b", addrs[a], a ? &q : NULL), 0);
			if (a)
				assert_non_null(strstr(path, "?dry_run=1&force=1"));
			if (match_built(method, path, &t, &allow))
				fail_msg("%s %s: not matched", method, path);
			assert_int_equal(t.route, r);
			assert_null(allow);
			assert_string_equal(t.vip, has_param((enum keel_api_route)r, "{vip}") ? "web-2.a_b" : "");
			if (has_param((enum keel_api_route)r, "{addr}")) {
				assert_string_equal(t.addr.text, addrs[a]);
				/* %-encoded: a ':' never reaches the wire raw. */
				assert_null(strchr(path, ':'));
			} else {
				assert_int_equal(t.addr.family, 0);
			}
		}
	}
}

/* A route without a parameter it needs is not built; one that does not fit is not cut. */
static void test_path_refusals(void **state)
{
	char path[KEEL_API_PATH_MAX], small[12];

	(void)state;
	for (int r = KEEL_API_ROUTE_NONE + 1; r < KEEL_API_ROUTE_COUNT; r++) {
		if (has_param((enum keel_api_route)r, "{vip}"))
			assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, NULL,
						       "10.0.0.1", NULL), -EINVAL);
		if (has_param((enum keel_api_route)r, "{addr}"))
			assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, "web",
						       "", NULL), -EINVAL);
	}
	assert_int_equal(keel_api_path(path, sizeof(path), KEEL_API_ROUTE_NONE, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(keel_api_path(path, sizeof(path), KEEL_API_ROUTE_COUNT, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(keel_api_path(small, sizeof(small), KEEL_API_ROUTE_TABLE_DIGEST, NULL, NULL, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(keel_api_path(small, sizeof(small), KEEL_API_ROUTE_STATUS, NULL, NULL,
				       &(struct keel_api_query){ .dry_run = true }),
			 -ENAMETOOLONG);
	assert_int_equal(keel_api_path(path, sizeof(path), KEEL_API_ROUTE_STATUS, NULL, NULL, NULL), 0);
	assert_string_equal(path, KEEL_API_PREFIX "/status");
	assert_int_equal(keel_api_path(path, sizeof(path), KEEL_API_ROUTE_BACKEND_WEIGHT, "w",
				       "2001:db8::1", NULL), 0);
	assert_string_equal(path, KEEL_API_PREFIX "/vips/w/backends/2001%3Adb8%3A%3A1/weight");
}

/* Bad paths of every route are refused: another prefix, a segment more or less, a bad name or address, another method. */
static void test_bad_paths_refused(void **state)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
	char path[KEEL_API_PATH_MAX], bad[KEEL_API_PATH_MAX + 16], why[256];
	struct keel_api_target t;
	const char *allow;

	(void)state;
	for (int r = KEEL_API_ROUTE_NONE + 1; r < KEEL_API_ROUTE_COUNT; r++) {
		const struct keel_api_route_def *d = keel_api_route((enum keel_api_route)r);

		assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, "web",
					       "10.0.0.1", NULL), 0);
		snprintf(bad, sizeof(bad), "/v0%s", path + strlen(KEEL_API_PREFIX));
		assert_int_equal(keel_api_match(keel_api_method_name(d->method), bad, &t, &allow, why, sizeof(why)), -ENOENT);
		assert_int_equal(t.route, KEEL_API_ROUTE_NONE);
		snprintf(bad, sizeof(bad), "%s/x/y/z", path);
		assert_int_equal(keel_api_match(keel_api_method_name(d->method), bad, &t, &allow, why, sizeof(why)), -ENOENT);
		snprintf(bad, sizeof(bad), "%s/", path);
		assert_int_equal(keel_api_match(keel_api_method_name(d->method), bad, &t, &allow, why, sizeof(why)), -ENOENT);
		if (has_param((enum keel_api_route)r, "{vip}")) {
			assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, "-web",
						       "10.0.0.1", NULL), 0);
			assert_int_equal(keel_api_match(keel_api_method_name(d->method), path, &t, &allow, why, sizeof(why)), -ENOENT);
		}
		if (has_param((enum keel_api_route)r, "{addr}")) {
			assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, "web",
						       "10.0.0.256", NULL), 0);
			assert_int_equal(keel_api_match(keel_api_method_name(d->method), path, &t, &allow, why, sizeof(why)), -EINVAL);
			assert_non_null(strstr(why, "10.0.0.256"));
		}
		/* Another method: 405 naming the method of the pattern's first row, unless a row has it. */
		assert_int_equal(keel_api_path(path, sizeof(path), (enum keel_api_route)r, "web",
					       "10.0.0.1", NULL), 0);
		for (size_t m = 0; m < N_OF(methods); m++) {
			int rc = keel_api_match(methods[m], path, &t, &allow, why, sizeof(why));

			if (!rc) {
				assert_string_equal(keel_api_method_name(keel_api_route(t.route)->method), methods[m]);
				assert_string_equal(keel_api_route(t.route)->pattern, d->pattern);
			} else {
				assert_int_equal(rc, -EOPNOTSUPP);
				assert_non_null(allow);
				assert_string_not_equal(allow, methods[m]);
			}
		}
	}
}

/* The table: one row per (method, pattern); changes are admin-only; bodies bounded. */
static void test_route_table(void **state)
{
	(void)state;
	for (int r = KEEL_API_ROUTE_NONE + 1; r < KEEL_API_ROUTE_COUNT; r++) {
		const struct keel_api_route_def *d = keel_api_route((enum keel_api_route)r);

		for (int s = r + 1; s < KEEL_API_ROUTE_COUNT; s++)
			if (d->method == keel_api_route((enum keel_api_route)s)->method &&
			    !strcmp(d->pattern, keel_api_route((enum keel_api_route)s)->pattern))
				fail_msg("%s twice", d->pattern);
		/* A read never takes a configuration-sized body but check and diff. */
		if (d->method == KEEL_API_GET)
			assert_int_equal(keel_api_route_body_limit((enum keel_api_route)r), 0);
		if (d->method != KEEL_API_GET && d->access == KEEL_API_READ)
			assert_int_equal(keel_api_route_body_limit((enum keel_api_route)r), KEEL_API_BODY_CONFIG_MAX);
		/* Reads are GET (and check, diff: a configuration in, nothing changed); the rest is admin's. */
		assert_int_equal(keel_api_route_mutates((enum keel_api_route)r),
				 d->method != KEEL_API_GET && r != KEEL_API_ROUTE_CONFIG_CHECK &&
					 r != KEEL_API_ROUTE_CONFIG_DIFF);
	}
	assert_null(keel_api_route(KEEL_API_ROUTE_NONE));
	assert_false(keel_api_route_mutates(KEEL_API_ROUTE_NONE));
	assert_int_equal(keel_api_route_body_limit(KEEL_API_ROUTE_COUNT), 0);
	assert_true(keel_api_weight_ok(0));
	assert_true(keel_api_weight_ok(KEEL_API_WEIGHT_MAX));
	assert_false(keel_api_weight_ok(KEEL_API_WEIGHT_MAX + 1ll));
	assert_false(keel_api_weight_ok(-1));
}

/* The query encoded by keelctl is the query the server decodes. */
static void test_query_round_trip(void **state)
{
	struct keel_api_query q = { .dry_run = true, .force = true, .no_wait = true, .revision = 42,
				    .has_vip = true, .has_src = true, .has_sport = true, .has_dport = true,
				    .vip = "web", .sport = 40000, .dport = 0 };
	struct keel_api_query back = { 0 }, none = { 0 };
	char text[KEEL_API_PATH_MAX], why[256];

	(void)state;
	assert_int_equal(keel_api_addr_parse("2001:DB8::7", &q.src), 0);
	assert_int_equal(keel_api_query_encode(&q, text, sizeof(text)), 0);
	assert_int_equal(text[0], '?');
	for (char *save = NULL, *kv = strtok_r(text + 1, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		if (keel_api_query_set(&back, kv, eq, why, sizeof(why)))
			fail_msg("%s: %s", kv, why);
	}
	assert_true(back.dry_run && back.force && back.no_wait);
	assert_int_equal(back.revision, 42);
	assert_true(back.has_vip && back.has_src && back.has_sport && back.has_dport);
	assert_string_equal(back.vip, "web");
	assert_int_equal(back.src.family, AF_INET6);
	assert_memory_equal(back.src.bytes, q.src.bytes, 16);
	assert_string_equal(back.src.text, "2001:db8::7");
	assert_int_equal(back.sport, 40000);
	assert_int_equal(back.dport, 0);
	/* Nothing set: no query at all. */
	assert_int_equal(keel_api_query_encode(&none, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	/* The one unknown-key refusal. */
	assert_int_equal(keel_api_query_set(&back, "dryrun", "1", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "unknown query parameter"));
}

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (!j)
		fail_msg("%s: %s", text, err.text);
	return j;
}

static void assert_body_equal(const struct keel_api_backend_body *a,
			      const struct keel_api_backend_body *b)
{
	assert_int_equal(a->has_addr, b->has_addr);
	assert_int_equal(a->has_weight, b->has_weight);
	assert_int_equal(a->weight, b->weight);
	assert_int_equal(a->addr.family, b->addr.family);
	assert_memory_equal(a->addr.bytes, b->addr.bytes, 16);
	assert_string_equal(a->addr.text, b->addr.text);
}

static void test_backend_body_round_trip(void **state)
{
	struct keel_api_backend_body b = { .has_addr = true, .has_weight = true, .weight = KEEL_API_WEIGHT_MAX }, back;
	char why[256];
	json_t *j;

	(void)state;
	assert_int_equal(keel_api_addr_parse("2001:db8::1", &b.addr), 0);
	j = keel_api_backend_body_encode(&b);
	assert_int_equal(keel_api_backend_body_decode(j, true, &back, why, sizeof(why)), 0);
	json_decref(j);
	assert_body_equal(&b, &back);
	/* A weight edit: the weight alone. */
	b.has_addr = false;
	memset(&b.addr, 0, sizeof(b.addr));
	b.weight = 0;
	j = keel_api_backend_body_encode(&b);
	assert_int_equal(json_object_size(j), 1);
	assert_int_equal(keel_api_backend_body_decode(j, false, &back, why, sizeof(why)), 0);
	json_decref(j);
	assert_body_equal(&b, &back);
	/* Out of range, unknown keys, missing members. */
	j = parse("{\"weight\": 65536}");
	assert_int_equal(keel_api_backend_body_decode(j, false, &back, why, sizeof(why)), -EINVAL);
	json_decref(j);
	j = parse("{\"weight\": 1, \"state\": \"x\"}");
	assert_int_equal(keel_api_backend_body_decode(j, false, &back, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "unknown key \"state\"");
	json_decref(j);
	j = parse("{\"address\": \"10.0.0.1\"}");
	assert_int_equal(keel_api_backend_body_decode(j, true, &back, why, sizeof(why)), 0);
	assert_int_equal(back.weight, KEEL_API_WEIGHT_DEFAULT);
	assert_int_equal(back.addr.family, AF_INET);
	assert_memory_equal(back.addr.bytes, "\x0a\x00\x00\x01", 4);
	assert_int_equal(keel_api_backend_body_decode(j, false, &back, why, sizeof(why)), -EINVAL);
	json_decref(j);
}

static void test_host_drain_round_trip(void **state)
{
	struct keel_api_host_drain d = { .has_wait = true, .wait = "5s" }, back;
	char why[256];
	json_t *j;

	(void)state;
	j = keel_api_host_drain_encode(&d);
	assert_int_equal(keel_api_host_drain_decode(j, &back, why, sizeof(why)), 0);
	json_decref(j);
	assert_memory_equal(&d, &back, sizeof(d));
	memset(&d, 0, sizeof(d));
	j = keel_api_host_drain_encode(&d);
	assert_int_equal(json_object_size(j), 0);
	assert_int_equal(keel_api_host_drain_decode(j, &back, why, sizeof(why)), 0);
	assert_false(back.has_wait);
	assert_int_equal(keel_api_empty_body_decode(j, why, sizeof(why)), 0);
	json_decref(j);
	assert_int_equal(keel_api_host_drain_decode(NULL, &back, why, sizeof(why)), 0);
	j = parse("{\"wiat\": \"5s\"}");
	assert_int_equal(keel_api_host_drain_decode(j, &back, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "unknown key \"wiat\" (known: wait)");
	assert_int_equal(keel_api_empty_body_decode(j, why, sizeof(why)), -EINVAL);
	json_decref(j);
}

/* An answer as the server writes it: decoded and encoded again, the same JSON. */
static void answer_round_trip(const char *text, json_t *(*trip)(const json_t *))
{
	json_t *j = parse(text), *again = trip(j);

	if (!json_equal(j, again)) {
		char *a = json_dumps(again, JSON_SORT_KEYS | JSON_COMPACT);

		fail_msg("round trip of %s gave %s", text, a ? a : "NULL");
	}
	json_decref(again);
	json_decref(j);
}

static json_t *report_trip(const json_t *j)
{
	struct keel_api_report r;
	json_t *o;

	assert_int_equal(keel_api_report_decode(j, &r), 0);
	o = keel_api_report_encode(&r);
	keel_api_report_free(&r);
	return o;
}

static void test_report_round_trip(void **state)
{
	struct keel_api_report r;
	json_t *j;

	(void)state;
	/* docs/api.md, "Reports of changes". */
	answer_round_trip("{\"applied\": true, \"dry_run\": false, \"generation\": 8, \"changed\": true,"
			  " \"config_generation\": 8,"
			  " \"preview\": {\"web\": {\"moved_share\": 0.25, \"new\": false, \"empty\": false,"
			  "  \"backends\": {"
			  "  \"10.0.0.1\": {\"before\": 510, \"after\": 383},"
			  "  \"10.0.0.3\": {\"before\": 0, \"after\": 127}}},"
			  "  \"old\": {\"moved_share\": 1.0, \"removed\": true},"
			  "  \"api\": {\"moved_share\": 0.0, \"new\": true, \"empty\": true, \"backends\": {"
			  "  \"10.0.0.9\": {\"after\": 65537}}}},"
			  " \"warnings\": [\"w1\", \"w2\"], \"published\": false, \"publish_error\": \"timed out\"}",
			  report_trip);
	/* backend drain --all, and a fleet edit. */
	answer_round_trip("{\"applied\": false, \"dry_run\": true, \"generation\": 3, \"changed\": false,"
			  " \"preview\": {}, \"warnings\": [], \"vips\": [\"web\", \"api\"],"
			  " \"revision\": 17, \"converged\": false, \"pending_hosts\": [\"lb2\"],"
			  " \"hosts\": {\"lb1\": 17, \"lb2\": 16}}",
			  report_trip);
	/* A refusal with the preview that made it dangerous. */
	answer_round_trip("{\"error\": \"moves 60% of web\", \"report\": {\"applied\": false,"
			  " \"dry_run\": false, \"generation\": 2, \"changed\": true, \"preview\": {},"
			  " \"warnings\": []}}",
			  report_trip);
	j = parse("{\"applied\": true, \"generation\": 9, \"revision\": 4, \"converged\": true,"
		  " \"hosts\": {\"lb1\": 4, \"lb2\": 4}}");
	assert_int_equal(keel_api_report_decode(j, &r), 0);
	assert_true(r.has_revision && r.has_converged && r.converged);
	assert_false(r.has_changed);
	assert_int_equal(r.n_hosts, 2);
	keel_api_report_free(&r);
	json_decref(j);
	j = json_array();
	assert_int_equal(keel_api_report_decode(j, &r), -EINVAL);
	json_decref(j);
}

static json_t *backends_trip(const json_t *j)
{
	struct keel_api_backend_view *b;
	json_t *a = json_array();
	size_t n;

	assert_int_equal(keel_api_backends_decode(j, &b, &n), 0);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, keel_api_backend_view_encode(&b[i]));
	free(b);
	return json_pack("{s:o}", "backends", a);
}

static json_t *workers_trip(const json_t *j)
{
	struct keel_api_worker_status *w;
	json_t *a = json_array();
	size_t n;
	bool has;

	assert_int_equal(keel_api_workers_decode(j, &w, &n, &has), 0);
	assert_true(has);
	assert_ptr_equal(keel_api_status_workers(j), json_object_get(json_object_get(j, "dataplane"), "workers"));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, keel_api_worker_status_encode(&w[i]));
	free(w);
	return json_pack("{s:{s:o}}", "dataplane", "workers", a);
}

static json_t *fleet_trip(const json_t *j)
{
	struct keel_api_fleet_status f;
	json_t *o;

	assert_int_equal(keel_api_fleet_decode(j, &f), 0);
	o = keel_api_fleet_encode(&f);
	keel_api_fleet_free(&f);
	return o;
}

static void test_views_round_trip(void **state)
{
	struct keel_api_worker_status *w;
	json_t *j;
	size_t n;
	bool has;

	(void)state;
	answer_round_trip("{\"backends\": [{\"address\": \"10.0.0.1\", \"weight\": 65535, \"state\": \"active\","
			  " \"health\": {\"state\": \"up\", \"last\": \"HTTP 200\", \"latency_us\": 1500,"
			  " \"checks\": 40, \"since_ms\": 1700000000000, \"last_check_ms\": 1700000009000}},"
			  " {\"address\": \"2001:db8::1\", \"weight\": 0, \"state\": \"draining\","
			  " \"health\": {\"state\": \"unchecked\"}},"
			  " {\"address\": \"10.0.0.3\", \"weight\": 2, \"state\": \"active\","
			  " \"health\": {\"state\": \"unchecked\"},"
			  " \"slow_start\": {\"percent\": 40, \"until_ms\": 1700000012500}}]}",
			  backends_trip);
	answer_round_trip("{\"dataplane\": {\"workers\": [{\"worker\": 0, \"lcore\": 1, \"socket\": 0,"
			  " \"generation\": 12, \"activations\": 3, \"refused\": 0, \"busy_cycles\": 123456789,"
			  " \"numa_mismatch\": false}, {\"worker\": 1, \"lcore\": 2, \"socket\": 1,"
			  " \"generation\": 11, \"activations\": 2, \"refused\": 1, \"busy_cycles\": 0,"
			  " \"numa_mismatch\": true}]}}",
			  workers_trip);
	answer_round_trip("{\"host\": \"lb1\", \"prefix\": \"/keel/site1\", \"revision\": 7,"
			  " \"applied_revision\": 6, \"store_up\": false, \"store_lost\": true,"
			  " \"store_error\": \"no quorum\","
			  " \"hosts\": {\"lb1\": {\"applied_revision\": 6, \"dataplane_alive\": true,"
			  " \"announcing\": true, \"version\": \"0.1.0\", \"last_refusal\": \"\","
			  " \"digests\": {\"web\": \"00ff\"}}, \"lb2\": {\"applied_revision\": 7,"
			  " \"dataplane_alive\": false, \"announcing\": false, \"version\": \"0.1.0\","
			  " \"last_refusal\": \"revision 5: refused\"}},"
			  " \"gone\": {\"lb3\": {\"applied_revision\": 4, \"dataplane_alive\": true,"
			  " \"announcing\": true, \"version\": \"0.1.0\", \"last_refusal\": \"\"}}}",
			  fleet_trip);
	/* No dataplane: no workers, told apart from an empty list. */
	j = parse("{\"dataplane\": {\"alive\": false}}");
	assert_int_equal(keel_api_workers_decode(j, &w, &n, &has), 0);
	assert_false(has);
	assert_int_equal(n, 0);
	free(w);
	json_decref(j);
}

/* The one error table: each errno once per layer, a status per row, one exit code per status. */
static void test_error_table(void **state)
{
	static const struct {
		unsigned int status;
		int exit_code;
	} keelctl[] = {
		/* What keelctl answered before the table (tools/keelctl/api.c's own map). */
		{ 200, 0 }, { 201, 0 }, { 400, 65 }, { 403, 77 }, { 404, 65 }, { 405, 69 },
		{ 409, 65 }, { 412, 75 }, { 413, 65 }, { 415, 65 }, { 422, 65 }, { 500, 69 },
		{ 501, 69 }, { 503, 69 }, { 418, 69 },
	};
	const struct keel_api_error *t;
	size_t n;

	(void)state;
	t = keel_api_errors(&n);
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		assert_true(t[i].err > 0);
		assert_true(t[i].status >= 400 && t[i].status <= 599);
		assert_non_null(t[i].message);
		assert_true(strlen(t[i].message) > 0);
		assert_int_equal(keel_api_exit_code(t[i].status), t[i].exit_code);
		assert_ptr_equal(keel_api_error_find(t[i].layer, t[i].err), &t[i]);
		for (size_t j = i + 1; j < n; j++) {
			if (t[i].err == t[j].err && t[i].layer == t[j].layer)
				fail_msg("%s mapped twice in layer %d", strerror(t[i].err), t[i].layer);
			if (t[i].status == t[j].status && t[i].exit_code != t[j].exit_code)
				fail_msg("status %u has two exit codes", t[i].status);
		}
	}
	for (size_t i = 0; i < N_OF(keelctl); i++)
		if (keel_api_exit_code(keelctl[i].status) != keelctl[i].exit_code)
			fail_msg("HTTP %u: exit %d, keelctl said %d", keelctl[i].status,
				 keel_api_exit_code(keelctl[i].status), keelctl[i].exit_code);
	/* Layers: EINVAL is a refused change, a malformed request, a host without bgp:, a bad filter. */
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, EINVAL), 422);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EINVAL), 400);
	assert_int_equal(keel_api_error_status(KEEL_API_HOST, EINVAL), 409);
	assert_int_equal(keel_api_error_status(KEEL_API_TRACE, EINVAL), 400);
	/* The trace layer falls back on the control layer; the host layer does not. */
	assert_int_equal(keel_api_error_status(KEEL_API_TRACE, ENOTCONN), 503);
	assert_int_equal(keel_api_error_status(KEEL_API_HOST, ENOTCONN), 500);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, ENOSYS), 501);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EACCES), 403);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EMEDIUMTYPE), 415);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, ENOTTY), 400);
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, ENOTTY), 500);
	assert_string_equal(keel_api_error_message(KEEL_API_CONTROL, ENOTTY), "internal error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_built_and_matched),
		cmocka_unit_test(test_path_refusals),
		cmocka_unit_test(test_bad_paths_refused),
		cmocka_unit_test(test_route_table),
		cmocka_unit_test(test_query_round_trip),
		cmocka_unit_test(test_backend_body_round_trip),
		cmocka_unit_test(test_host_drain_round_trip),
		cmocka_unit_test(test_report_round_trip),
		cmocka_unit_test(test_views_round_trip),
		cmocka_unit_test(test_error_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
