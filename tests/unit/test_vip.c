/* VIP lookup: exact ports, all-ports VIPs, address-only lookup, families and protocols kept apart. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkt.h"
#include "pktgen.h"
#include "snapfix.h"
#include "vip.h"

static struct keel_snapshot *snap;

static int setup(void **state)
{
	static struct keel_backend_spec be[1];
	static struct keel_vip_spec v[6];
	struct keel_snapshot_spec spec = { 0 };

	(void)state;
	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	v[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, 0, 10, 251, be, 0);
	v[1] = snapfix_vip("192.0.2.1", 443, KEEL_PROTO_TCP, 0, 0, 11, 251, NULL, 0);
	v[2] = snapfix_vip("192.0.2.1", 0, KEEL_PROTO_UDP, KEEL_VIP_ALL_PORTS, 0, 12, 251, NULL, 0);
	v[3] = snapfix_vip("192.0.2.2", 53, KEEL_PROTO_UDP, 0, 0, 13, 251, NULL, 0);
	v[4] = snapfix_vip("2001:db8::1", 80, KEEL_PROTO_TCP, 0, 0, 14, 251, NULL, 0);
	v[5] = snapfix_vip("2001:db8::2", 0, KEEL_PROTO_TCP, KEEL_VIP_ALL_PORTS, 0, 15, 251, NULL,
			   0);
	spec.n_vips = 6;
	spec.vips = v;
	snapfix_spec_defaults(&spec);
	snap = snapfix_build(&spec);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(snap);
	return 0;
}

static uint16_t lookup(const char *a, uint16_t port, uint8_t proto)
{
	uint8_t addr[16];
	int fam = strchr(a, ':') ? 6 : 4;

	pktgen_addr(fam, a, addr);
	return vip_lookup(snap, (uint8_t)fam, addr, htons(port), proto);
}

static void test_exact(void **state)
{
	(void)state;
	assert_int_equal(lookup("192.0.2.1", 80, KEEL_PROTO_TCP), 0);
	assert_int_equal(lookup("192.0.2.1", 443, KEEL_PROTO_TCP), 1);
	assert_int_equal(lookup("192.0.2.2", 53, KEEL_PROTO_UDP), 3);
	assert_int_equal(lookup("2001:db8::1", 80, KEEL_PROTO_TCP), 4);
}

static void test_misses(void **state)
{
	(void)state;
	assert_int_equal(lookup("192.0.2.1", 81, KEEL_PROTO_TCP), KEEL_VIP_NONE);
	assert_int_equal(lookup("192.0.2.2", 53, KEEL_PROTO_TCP), KEEL_VIP_NONE);
	assert_int_equal(lookup("192.0.2.3", 80, KEEL_PROTO_TCP), KEEL_VIP_NONE);
	assert_int_equal(lookup("2001:db8::1", 443, KEEL_PROTO_TCP), KEEL_VIP_NONE);
	/* Same 4 bytes as an IPv4 VIP but IPv6 family: distinct. */
	assert_int_equal(lookup("c000:201::", 80, KEEL_PROTO_TCP), KEEL_VIP_NONE);
}

static void test_all_ports(void **state)
{
	(void)state;
	assert_int_equal(lookup("192.0.2.1", 1, KEEL_PROTO_UDP), 2);
	assert_int_equal(lookup("192.0.2.1", 65535, KEEL_PROTO_UDP), 2);
	assert_int_equal(lookup("192.0.2.1", 80, KEEL_PROTO_UDP), 2);
	assert_int_equal(lookup("2001:db8::2", 22, KEEL_PROTO_TCP), 5);
	assert_int_equal(lookup("2001:db8::2", 22, KEEL_PROTO_UDP), KEEL_VIP_NONE);
	/* Exact wins over all-ports; the TCP VIP on port 80 is not an all-ports UDP VIP. */
	assert_int_equal(lookup("192.0.2.1", 80, KEEL_PROTO_TCP), 0);
}

static void test_addr_only(void **state)
{
	uint8_t a[16];
	uint16_t v;

	(void)state;
	pktgen_addr(4, "192.0.2.1", a);
	v = vip_lookup_addr(snap, 4, a);
	assert_true(v <= 2);
	pktgen_addr(6, "2001:db8::2", a);
	assert_int_equal(vip_lookup_addr(snap, 6, a), 5);
	pktgen_addr(4, "192.0.2.9", a);
	assert_int_equal(vip_lookup_addr(snap, 4, a), KEEL_VIP_NONE);
}

static void test_duplicate_refused(void **state)
{
	struct keel_vip_spec v[2];
	struct keel_snapshot_spec spec = { 0 };
	const char *why = NULL;
	uint8_t buf[1 << 16] __attribute__((aligned(64)));

	(void)state;
	v[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, 0, 1, 251, NULL, 0);
	v[1] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, 0, 2, 251, NULL, 0);
	spec.n_vips = 2;
	spec.vips = v;
	snapfix_spec_defaults(&spec);
	assert_true(keel_snapshot_size(&spec) <= sizeof(buf));
	assert_int_equal(keel_snapshot_build(buf, sizeof(buf), &spec, &why), -22);
	assert_string_equal(why, "duplicate VIP");
}

/* Many VIPs: every one found, none confused, with long probe chains exercised. */
static void test_many(void **state)
{
	struct keel_vip_spec *v = calloc(KEEL_MAX_VIPS, sizeof(*v));
	struct keel_snapshot_spec spec = { 0 };
	struct keel_snapshot *s;
	uint32_t i;

	(void)state;
	for (i = 0; i < KEEL_MAX_VIPS; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.18.%u.%u", i / 8, i % 8);
		v[i] = snapfix_vip(a, (uint16_t)(1000 + i % 5), i % 2 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP,
				   0, 0, (uint16_t)i, 251, NULL, 0);
	}
	spec.n_vips = KEEL_MAX_VIPS;
	spec.vips = v;
	snapfix_spec_defaults(&spec);
	s = snapfix_build(&spec);
	for (i = 0; i < KEEL_MAX_VIPS; i++) {
		uint8_t a[16] = { 198, 18, (uint8_t)(i / 8), (uint8_t)(i % 8) };

		assert_int_equal(vip_lookup(s, 4, a, htons((uint16_t)(1000 + i % 5)),
					    i % 2 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP), i);
		assert_int_equal(vip_lookup(s, 4, a, htons((uint16_t)(1000 + (i + 1) % 5)),
					    i % 2 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP), KEEL_VIP_NONE);
	}
	free(s);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_all_ports),
		cmocka_unit_test(test_addr_only),
		cmocka_unit_test(test_duplicate_refused),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
