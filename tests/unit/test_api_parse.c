/* Unit tests of the management API's request parsing: routes, %-decoding, query, content types, bounded bodies, JSON edits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_request.h"
#include "keel_api.h"

static int route(const char *method, const char *path, struct keel_api_target *t, const char **allow)
{
	char why[256];

	return keel_api_match(method, path, t, allow, why, sizeof(why));
}

static void test_routes(void **state)
{
	static const struct {
		const char *method, *path;
		enum keel_api_route route;
		const char *vip, *addr;
	} ok[] = {
		{ "GET", "/v1/status", KEEL_API_ROUTE_STATUS, "", "" },
		{ "GET", "/v1/config", KEEL_API_ROUTE_CONFIG, "", "" },
		{ "POST", "/v1/config/check", KEEL_API_ROUTE_CONFIG_CHECK, "", "" },
		{ "POST", "/v1/config/diff", KEEL_API_ROUTE_CONFIG_DIFF, "", "" },
		{ "POST", "/v1/config/apply", KEEL_API_ROUTE_CONFIG_APPLY, "", "" },
		{ "GET", "/v1/vips", KEEL_API_ROUTE_VIPS, "", "" },
		{ "GET", "/v1/vips/web", KEEL_API_ROUTE_VIP, "web", "" },
		{ "GET", "/v1/vips/web-2.a_b/table", KEEL_API_ROUTE_VIP_TABLE, "web-2.a_b", "" },
		{ "POST", "/v1/vips/web/backends", KEEL_API_ROUTE_BACKEND_ADD, "web", "" },
		{ "DELETE", "/v1/vips/web/backends/10.0.0.1", KEEL_API_ROUTE_BACKEND_DEL, "web", "10.0.0.1" },
		{ "PUT", "/v1/vips/w/backends/2001:db8::1/weight", KEEL_API_ROUTE_BACKEND_WEIGHT, "w", "2001:db8::1" },
		{ "PUT", "/v1/vips/w/backends/2001%3Adb8%3A%3A1/weight", KEEL_API_ROUTE_BACKEND_WEIGHT, "w", "2001:db8::1" },
		{ "PUT", "/v1/vips/w/backends/2001%3adb8%3a0%3a0%3a0%3a0%3a0%3a1/weight", KEEL_API_ROUTE_BACKEND_WEIGHT, "w", "2001:db8::1" },
		{ "POST", "/v1/vips/w/backends/2001:DB8::A/drain", KEEL_API_ROUTE_BACKEND_DRAIN, "w", "2001:db8::a" },
		{ "POST", "/v1/vips/w/backends/10.0.0.1/undrain", KEEL_API_ROUTE_BACKEND_UNDRAIN, "w", "10.0.0.1" },
		{ "POST", "/v1/vips/w/backends/10.0.0.1/disable", KEEL_API_ROUTE_BACKEND_DISABLE, "w", "10.0.0.1" },
		{ "POST", "/v1/vips/w/backends/::ffff:10.0.0.1/flush", KEEL_API_ROUTE_BACKEND_FLUSH, "w", "::ffff:10.0.0.1" },
		{ "GET", "/v1/health", KEEL_API_ROUTE_HEALTH, "", "" },
		{ "GET", "/v1/stats", KEEL_API_ROUTE_STATS, "", "" },
		{ "GET", "/v1/lookup", KEEL_API_ROUTE_LOOKUP, "", "" },
		{ "GET", "/v1/vips/%77eb", KEEL_API_ROUTE_VIP, "web", "" },
		{ "POST", "/v1/backends/10.0.0.1/drain", KEEL_API_ROUTE_BACKEND_DRAIN_ALL, "", "10.0.0.1" },
		{ "POST", "/v1/backends/2001%3Adb8%3A%3A1/undrain", KEEL_API_ROUTE_BACKEND_UNDRAIN_ALL, "", "2001:db8::1" },
	};
	struct keel_api_target t;
	const char *allow;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(route(ok[i].method, ok[i].path, &t, &allow), 0);
		assert_int_equal(t.route, ok[i].route);
		assert_string_equal(t.vip, ok[i].vip);
		assert_string_equal(t.addr.text, ok[i].addr);
		assert_null(allow);
	}
}

static void test_route_refusals(void **state)
{
	static const struct {
		const char *method, *path;
		int rc;
		const char *allow;
	} bad[] = {
		{ "GET", "/v2/status", -ENOENT, NULL },
		{ "GET", "/v1/status/", -ENOENT, NULL },
		{ "GET", "/v1/vips/", -ENOENT, NULL },
		{ "GET", "/v1//vips", -ENOENT, NULL },
		{ "GET", "/", -ENOENT, NULL },
		{ "GET", "", -EINVAL, NULL },
		{ "GET", "v1/status", -EINVAL, NULL },
		{ "GET", "/v1/a/b/c/d/e/f/g/h/i", -ENOENT, NULL },       /* too many segments */
		{ "GET", "/v1/vips/-web", -ENOENT, NULL },               /* no such name possible */
		{ "GET", "/v1/vips/a%2Fb", -ENOENT, NULL },              /* %2F does not cut the path */
		{ "GET", "/v1/vips/web%00", -EINVAL, NULL },
		{ "GET", "/v1/vips/we%zz", -EINVAL, NULL },
		{ "GET", "/v1/vips/we%4", -EINVAL, NULL },
		{ "GET", "/v1/vips/0123456789012345678901234567890123456789012345678901234567890123", -ENOENT, NULL },
		{ "POST", "/v1/vips/w/backends/10.0.0.256/drain", -EINVAL, NULL },
		{ "POST", "/v1/vips/w/backends/fe80::1%25eth0/drain", -EINVAL, NULL },
		{ "POST", "/v1/status", -EOPNOTSUPP, "GET" },
		{ "GET", "/v1/config/apply", -EOPNOTSUPP, "POST" },
		{ "DELETE", "/v1/vips/web", -EOPNOTSUPP, "GET" },
		{ "GET", "/v1/vips/web/backends", -EOPNOTSUPP, "POST" },
		{ "POST", "/v1/vips/w/backends/10.0.0.1", -EOPNOTSUPP, "DELETE" },
		{ "PUT", "/v1/vips/w/backends/10.0.0.1/drain", -EOPNOTSUPP, "POST" },
		{ "get", "/v1/status", -EOPNOTSUPP, "GET" },
		{ "GET", "/v1/backends/10.0.0.1/drain", -EOPNOTSUPP, "POST" },
		{ "POST", "/v1/backends/web/drain", -EINVAL, NULL },       /* an address, not a name */
		{ "POST", "/v1/backends/10.0.0.1/disable", -ENOENT, NULL }, /* drain and undrain only */
		{ "POST", "/v1/backends", -ENOENT, NULL },
	};
	struct keel_api_target t;
	const char *allow;
	char seg[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(route(bad[i].method, bad[i].path, &t, &allow), bad[i].rc);
		if (bad[i].allow)
			assert_string_equal(allow, bad[i].allow);
		else
			assert_null(allow);
		assert_int_equal(t.route, KEEL_API_ROUTE_NONE);
	}
	/* A segment longer than API_SEGMENT_MAX is no resource, whatever it holds. */
	memset(seg, 'a', sizeof(seg));
	memcpy(seg, "/v1/vips/", 9);
	seg[sizeof(seg) - 1] = '\0';
	assert_int_equal(route("GET", seg, &t, &allow), -ENOENT);
}

static void test_route_properties(void **state)
{
	(void)state;
	for (int r = KEEL_API_ROUTE_STATUS; r < KEEL_API_ROUTE_COUNT; r++) {
		bool mut = keel_api_route_mutates((enum keel_api_route)r);
		size_t lim = keel_api_route_body_limit((enum keel_api_route)r);

		/* Every mutating route but DELETE takes a (bounded) body. */
		if (mut && r != KEEL_API_ROUTE_BACKEND_DEL)
			assert_true(lim == KEEL_API_BODY_EDIT_MAX || lim == KEEL_API_BODY_CONFIG_MAX);
		assert_true(lim <= KEEL_API_BODY_CONFIG_MAX);
	}
	assert_false(keel_api_route_mutates(KEEL_API_ROUTE_CONFIG_CHECK));
	assert_false(keel_api_route_mutates(KEEL_API_ROUTE_CONFIG_DIFF));
	assert_true(keel_api_route_mutates(KEEL_API_ROUTE_CONFIG_APPLY));
	assert_true(keel_api_route_mutates(KEEL_API_ROUTE_BACKEND_FLUSH));
	assert_true(keel_api_route_mutates(KEEL_API_ROUTE_BACKEND_DRAIN_ALL));
	assert_true(keel_api_route_mutates(KEEL_API_ROUTE_BACKEND_UNDRAIN_ALL));
	assert_int_equal(keel_api_route_body_limit(KEEL_API_ROUTE_STATUS), 0);
	assert_int_equal(keel_api_route_body_limit(KEEL_API_ROUTE_CONFIG_CHECK), KEEL_API_BODY_CONFIG_MAX);
	assert_int_equal(keel_api_route_body_limit(KEEL_API_ROUTE_BACKEND_WEIGHT), KEEL_API_BODY_EDIT_MAX);
}

static void test_decode(void **state)
{
	char s[64];

	(void)state;
	strcpy(s, "a%41%7e%7E+b");
	assert_int_equal(keel_api_decode(s), 0);
	assert_string_equal(s, "aA~~+b");
	strcpy(s, "%");
	assert_int_equal(keel_api_decode(s), -EINVAL);
	strcpy(s, "%4");
	assert_int_equal(keel_api_decode(s), -EINVAL);
	strcpy(s, "%g0");
	assert_int_equal(keel_api_decode(s), -EINVAL);
	strcpy(s, "x%00y");
	assert_int_equal(keel_api_decode(s), -EINVAL);
	strcpy(s, "");
	assert_int_equal(keel_api_decode(s), 0);
}

/* The access log's path: addresses readable, the line still printable ASCII (issue 20). */
static void test_log_path(void **state)
{
	char s[64], small[8];

	(void)state;
	api_request_log_path("/v1/vips/w/backends/2001%3Adb8%3A%3A1/weight", s, sizeof(s));
	assert_string_equal(s, "/v1/vips/w/backends/2001:db8::1/weight");
	api_request_log_path("/v1/vips/%77eb/a%20b/%22q%22", s, sizeof(s));
	assert_string_equal(s, "/v1/vips/web/a b/\"q\"");
	/* '%' itself, controls, bytes >= 0x80 and bad escapes stay (or become) %XX */
	api_request_log_path("/x%25y%0a%00%C3%A9%zz%4", s, sizeof(s));
	assert_string_equal(s, "/x%25y%0a%00%C3%A9%zz%4");
	api_request_log_path("/a\nb\xc3", s, sizeof(s));
	assert_string_equal(s, "/a%0Ab%C3");
	api_request_log_path("/v1/status", small, sizeof(small));
	assert_string_equal(small, "/v1/sta");
	api_request_log_path("/ab\n", small, 5);
	assert_string_equal(small, "/ab");
}

static void test_query(void **state)
{
	struct keel_api_query q = { 0 };
	char why[256];

	(void)state;
	assert_int_equal(keel_api_query_set(&q, "dry_run", "1", why, sizeof(why)), 0);
	assert_true(q.dry_run);
	assert_int_equal(keel_api_query_set(&q, "force", NULL, why, sizeof(why)), 0);
	assert_true(q.force);
	assert_int_equal(keel_api_query_set(&q, "force", "false", why, sizeof(why)), 0);
	assert_false(q.force);
	assert_int_equal(keel_api_query_set(&q, "force", "2", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "src", "2001%3ADB8%3A%3A7", why, sizeof(why)), 0);
	assert_string_equal(q.src.text, "2001:db8::7");
	assert_int_equal(keel_api_query_set(&q, "src", "1.2.3", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "sport", "65535", why, sizeof(why)), 0);
	assert_int_equal(q.sport, 65535);
	assert_int_equal(keel_api_query_set(&q, "sport", "65536", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "sport", "-1", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "sport", "", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "sport", "1x", why, sizeof(why)), -EINVAL);
	assert_false(q.has_dport);
	assert_int_equal(keel_api_query_set(&q, "dport", "8443", why, sizeof(why)), 0);
	assert_true(q.has_dport);
	assert_int_equal(q.dport, 8443);
	assert_int_equal(q.sport, 65535);
	assert_int_equal(keel_api_query_set(&q, "dport", "65536", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "dport"));
	assert_int_equal(keel_api_query_set(&q, "vip", "web", why, sizeof(why)), 0);
	assert_true(q.has_vip && q.has_src && q.has_sport);
	assert_int_equal(keel_api_query_set(&q, "vip", "a b", why, sizeof(why)), -EINVAL);
	assert_int_equal(keel_api_query_set(&q, "verbose", "1", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "verbose"));
}

static void test_content(void **state)
{
	(void)state;
	assert_int_equal(api_request_content(NULL), API_CONTENT_NONE);
	assert_int_equal(api_request_content("application/json"), API_CONTENT_JSON);
	assert_int_equal(api_request_content("Application/JSON; charset=utf-8"), API_CONTENT_JSON);
	assert_int_equal(api_request_content(" application/yaml"), API_CONTENT_YAML);
	assert_int_equal(api_request_content("application/x-yaml"), API_CONTENT_YAML);
	assert_int_equal(api_request_content("text/yaml;x=y"), API_CONTENT_YAML);
	assert_int_equal(api_request_content("application/jsonx"), API_CONTENT_OTHER);
	assert_int_equal(api_request_content("application/x-www-form-urlencoded"), API_CONTENT_OTHER);
	assert_int_equal(api_request_content(""), API_CONTENT_OTHER);
}

static void test_body(void **state)
{
	struct api_body b;
	char chunk[1000];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	/* Refused on its Content-Length: nothing allocated. */
	assert_int_equal(api_request_body_init(&b, 100, 101), -EFBIG);
	assert_null(b.buf);
	/* Known length: one allocation of exactly that much + NUL. */
	assert_int_equal(api_request_body_init(&b, 4096, 10), 0);
	assert_int_equal(api_request_body_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.cap, 11);
	assert_string_equal(b.buf, "0123456789");
	api_request_body_free(&b);
	/* Chunked: grows, never past limit + 1, refuses the chunk that would cross it. */
	assert_int_equal(api_request_body_init(&b, 2500, -1), 0);
	assert_int_equal(api_request_body_append(&b, chunk, 1000), 0);
	assert_int_equal(api_request_body_append(&b, chunk, 1000), 0);
	assert_int_equal(api_request_body_append(&b, chunk, 1000), -EFBIG);
	assert_int_equal(b.len, 2000);
	assert_int_equal(api_request_body_append(&b, chunk, 500), 0);
	assert_int_equal(b.len, 2500);
	assert_true(b.cap <= 2501);
	assert_int_equal(b.buf[2500], '\0');
	assert_int_equal(api_request_body_append(&b, chunk, 1), -EFBIG);
	api_request_body_free(&b);
	/* No body at all. */
	assert_int_equal(api_request_body_init(&b, 0, 0), 0);
	assert_int_equal(api_request_body_append(&b, chunk, 1), -EFBIG);
	assert_int_equal(api_request_body_append(&b, chunk, 0), 0);
	api_request_body_free(&b);
}

static void test_json(void **state)
{
	char why[256];
	json_t *j = NULL;

	(void)state;
	assert_int_equal(api_request_json("{\"a\": 1}", 8, &j, why, sizeof(why)), 0);
	json_decref(j);
	assert_int_equal(api_request_json("{\"a\": 1, \"a\": 2}", 16, &j, why, sizeof(why)), -EINVAL);
	assert_int_equal(api_request_json("[1]", 3, &j, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "the body must be a JSON object");
	assert_int_equal(api_request_json("{\n\"a\": ", 7, &j, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "malformed JSON: 2:"));
	assert_int_equal(api_request_json(NULL, 0, &j, why, sizeof(why)), -EINVAL);
}

static int backend(const char *text, bool want_addr, bool weight_required, char *addr,
		   uint32_t *weight, bool *has_weight)
{
	struct keel_api_backend_body b;
	char why[256];
	json_t *o;
	int rc;

	assert_int_equal(api_request_json(text, strlen(text), &o, why, sizeof(why)), 0);
	/* The contract ties them: an add wants the address, a weight edit the weight. */
	assert_true(weight_required == !want_addr);
	rc = keel_api_backend_body_decode(o, want_addr, &b, why, sizeof(why));
	json_decref(o);
	if (b.has_addr)
		strcpy(addr, b.addr.text);
	if (b.has_weight)
		*weight = b.weight;
	*has_weight = b.has_weight;
	return rc;
}

static void test_backend_body(void **state)
{
	char addr[INET6_ADDRSTRLEN] = "";
	uint32_t w = 1;
	bool has;

	(void)state;
	assert_int_equal(backend("{\"address\": \"2001:DB8::0:1\", \"weight\": 7}", true, false, addr, &w, &has), 0);
	assert_string_equal(addr, "2001:db8::1");
	assert_int_equal(w, 7);
	assert_true(has);
	w = 1;
	assert_int_equal(backend("{\"address\": \"10.0.0.1\"}", true, false, addr, &w, &has), 0);
	assert_false(has);
	assert_int_equal(w, 1);
	assert_int_equal(backend("{\"weight\": 0}", false, true, addr, &w, &has), 0);
	assert_int_equal(w, 0);
	assert_int_equal(backend("{\"weight\": 65536}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"weight\": -1}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"weight\": 1.5}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"weight\": \"1\"}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{}", false, true, addr, &w, &has), -EINVAL);
	/* QUIC VIPs: an add may name the backend's server id (docs/quic.md), 1..65535, nothing else may. */
	assert_int_equal(backend("{\"address\": \"10.0.0.1\", \"server_id\": 65535}", true, false, addr, &w, &has), 0);
	assert_int_equal(backend("{\"address\": \"10.0.0.1\", \"server_id\": 0}", true, false, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"address\": \"10.0.0.1\", \"server_id\": \"7\"}", true, false, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"weight\": 1, \"server_id\": 7}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"weight\": 1}", true, false, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"address\": \"10.0.0.1\", \"weight\": 1}", false, true, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"address\": 10}", true, false, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"address\": \"host.example\"}", true, false, addr, &w, &has), -EINVAL);
	assert_int_equal(backend("{\"address\": \"10.0.0.1\", \"state\": \"x\"}", true, false, addr, &w, &has), -EINVAL);
}

/* If-Match of a change (issue 21 item 6): one strong tag, a bare number, or any. */
static void test_if_match(void **state)
{
	static const char *const bad[] = { "", "\"\"", "W/\"3\"", "\"3\", \"4\"", "3x", "-1",
					   "\"9223372036854775808\"", "99999999999999999999", "\"3" };
	char why[256];
	uint64_t g = 7;

	(void)state;
	assert_int_equal(api_request_if_match("\"42\"", &g, why, sizeof(why)), 0);
	assert_int_equal(g, 42);
	assert_int_equal(api_request_if_match(" 0 ", &g, why, sizeof(why)), 0);
	assert_int_equal(g, 0);
	assert_int_equal(api_request_if_match("*", &g, why, sizeof(why)), 0);
	assert_true(g == API_IF_ANY);
	assert_int_equal(api_request_if_match("\"9223372036854775807\"", &g, why, sizeof(why)), 0);
	assert_true(g == (uint64_t)INT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		g = 7;
		if (api_request_if_match(bad[i], &g, why, sizeof(why)) != -EINVAL)
			fail_msg("If-Match %s was taken", bad[i]);
		assert_true(g == 7);
		assert_non_null(strstr(why, "If-Match"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_refusals),
		cmocka_unit_test(test_route_properties),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_log_path),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_backend_body),
		cmocka_unit_test(test_if_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
