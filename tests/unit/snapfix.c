/* Test helpers to build snapshots from readable specs. */
#include "snapfix.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkt.h"

static uint8_t family_of(const char *addr)
{
	return strchr(addr, ':') ? KEEL_AF_INET6 : KEEL_AF_INET4;
}

static void to_addr(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family_of(text) == 6 ? AF_INET6 : AF_INET, text, out), 1);
}

struct keel_backend_spec snapfix_backend(const char *addr, uint16_t id, uint32_t weight,
					 uint8_t state)
{
	struct keel_backend_spec b = { .id = id, .weight = weight, .state = state };

	b.family = family_of(addr);
	to_addr(addr, b.addr);
	return b;
}

struct keel_vip_spec snapfix_vip(const char *addr, uint16_t port, uint8_t proto, uint8_t flags,
				 uint8_t encap, uint16_t id, uint32_t table_size,
				 const struct keel_backend_spec *be, uint32_t n)
{
	struct keel_vip_spec v = { .port = port, .proto = proto, .flags = flags, .encap = encap,
				   .id = id, .table_size = table_size, .backends = be,
				   .n_backends = n };

	v.family = family_of(addr);
	to_addr(addr, v.addr);
	return v;
}

void snapfix_spec_defaults(struct keel_snapshot_spec *spec)
{
	uint8_t a4[16];

	spec->generation = spec->generation ? spec->generation : 1;
	spec->fleet_seed = spec->fleet_seed ? spec->fleet_seed : 0x5eed;
	memcpy(spec->src_mac, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(spec->gw_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	to_addr("172.16.0.0", a4);
	memcpy(spec->src4, a4, 4);
	spec->src4_plen = 16;
	to_addr("fd00:1::", spec->src6);
	spec->src6_plen = 64;
	spec->mtu = spec->mtu ? spec->mtu : 1500;
}

struct keel_snapshot *snapfix_build(const struct keel_snapshot_spec *spec)
{
	size_t sz = keel_snapshot_size(spec);
	void *s = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	const char *why = NULL;

	assert_non_null(s);
	if (keel_snapshot_build(s, sz, spec, &why))
		fail_msg("snapshot build failed: %s", why);
	assert_int_equal(keel_snapshot_validate(s, sz, &why), 0);
	return s;
}

int snapfix_build_err(const struct keel_snapshot_spec *spec, const char **why)
{
	size_t sz = keel_snapshot_size(spec);
	void *buf = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	int ret;

	assert_non_null(buf);
	ret = keel_snapshot_build(buf, sz, spec, why);
	free(buf);
	return ret;
}
