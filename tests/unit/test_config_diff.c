/* The audit log's configuration diff: VIPs and backends matched by name and address, one line per changed field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "config_diff.h"

static struct keel_config *load(const char *yaml)
{
	struct keel_config *c = NULL;
	struct config_error err = { 0 };

	if (config_load_buffer(yaml, strlen(yaml), "test", &c, &err))
		fail_msg("config refused: %s", err.msg);
	return c;
}

#define HEAD "instance: t\nnext_hop: { mac: \"02:00:5e:10:00:01\" }\nencap_source: { ipv4: 172.16.0.0/16 }\nvips:\n"
#define WEB(port, b) "  - name: web\n    address: 192.0.2.1\n    port: " port "\n    protocol: tcp\n    backends:\n" b

/* The diff's lines joined by '|', for one comparison per case. */
static void expect(const char *a, const char *b, size_t max, const char *want)
{
	struct keel_config *x = load(a), *y = load(b);
	json_t *d = config_diff(x, y, max), *s;
	char got[2048] = "";
	size_t i;

	assert_non_null(d);
	json_array_foreach(d, i, s) {
		if (i)
			strcat(got, "|");
		strcat(got, json_string_value(s));
	}
	if (strcmp(got, want))
		fail_msg("diff\n  got  %s\n  want %s", got, want);
	json_decref(d);
	config_free(x);
	config_free(y);
}

static void test_same(void **state)
{
	const char *a = HEAD WEB("80", "      - { address: 10.0.0.1 }\n");

	(void)state;
	expect(a, a, 10, "");
}

static void test_backend_fields(void **state)
{
	(void)state;
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n      - { address: 10.0.0.2 }\n"),
	       HEAD WEB("80", "      - { address: 10.0.0.2, state: draining }\n      - { address: 10.0.0.1, weight: 20 }\n"
			      "      - { address: 10.0.0.5, weight: 2 }\n"),
	       10,
	       "web/10.0.0.1/weight: 1 -> 20|web/10.0.0.2/state: active -> draining|web/10.0.0.5: added (weight 2)");
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n      - { address: 10.0.0.2 }\n"),
	       HEAD WEB("80", "      - { address: 10.0.0.2 }\n"), 10, "web/10.0.0.1: removed (weight 1)");
}

static void test_vips(void **state)
{
	(void)state;
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n"),
	       HEAD WEB("8080", "      - { address: 10.0.0.1 }\n")
		       "  - name: dns\n    address: 192.0.2.53\n    port: 53\n    protocol: udp\n    backends:\n"
		       "      - { address: 10.0.1.1 }\n",
	       10, "web/port: 80 -> 8080|dns: added (192.0.2.53:53/udp, 1 backends)");
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n")
		       "  - name: dns\n    address: 192.0.2.53\n    port: 53\n    protocol: udp\n    backends: []\n",
	       HEAD WEB("80", "      - { address: 10.0.0.1 }\n"), 10, "dns: removed");
}

/* Slow start's window, on and off. */
static void test_slow_start(void **state)
{
	(void)state;
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n"),
	       HEAD WEB("80", "      - { address: 10.0.0.1 }\n") "    slow_start: 30s\n", 10,
	       "web/slow_start: off -> 30s");
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n") "    slow_start: 1m\n",
	       HEAD WEB("80", "      - { address: 10.0.0.1 }\n"), 10, "web/slow_start: 1m -> off");
}

/* Bounded: past max lines, a count. */
static void test_bounded(void **state)
{
	(void)state;
	expect(HEAD WEB("80", "      - { address: 10.0.0.1 }\n"),
	       HEAD WEB("80", "      - { address: 10.0.0.1, weight: 2 }\n      - { address: 10.0.0.2 }\n"
			      "      - { address: 10.0.0.3 }\n      - { address: 10.0.0.4 }\n"),
	       2, "web/10.0.0.1/weight: 1 -> 2|web/10.0.0.2: added (weight 1)|... and 2 more");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_backend_fields),
		cmocka_unit_test(test_vips),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_slow_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
