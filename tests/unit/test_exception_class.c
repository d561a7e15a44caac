/* Unit tests for the exception path's priority: which frames are the host's control protocols, and the budget for the rest. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exception_class.h"

struct f {
	uint8_t b[128];
	uint32_t len;
};

static void eth(struct f *f, uint16_t type, int vlan)
{
	memset(f, 0, sizeof(*f));
	memset(f->b, 0x02, 12);
	f->len = 12;
	if (vlan) {
		f->b[f->len++] = 0x81;
		f->b[f->len++] = 0x00;
		f->b[f->len++] = 0x00;
		f->b[f->len++] = 0x0a;
	}
	f->b[f->len++] = (uint8_t)(type >> 8);
	f->b[f->len++] = (uint8_t)type;
}

/* IPv4 + 8 bytes of transport (ports first), TTL ttl, fragment offset frag. */
static void ip4(struct f *f, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t ttl, uint16_t frag)
{
	uint8_t *ip;

	eth(f, 0x0800, 0);
	ip = f->b + f->len;
	ip[0] = 0x45;
	ip[3] = 28;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = ttl;
	ip[9] = proto;
	ip[20] = (uint8_t)(sport >> 8);
	ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8);
	ip[23] = (uint8_t)dport;
	f->len += 28;
}

static void ip6(struct f *f, uint8_t nh, const uint8_t l4[4], uint8_t hop)
{
	uint8_t *ip;

	eth(f, 0x86dd, 0);
	ip = f->b + f->len;
	ip[0] = 0x60;
	ip[5] = 8;
	ip[6] = nh;
	ip[7] = hop;
	memcpy(ip + 40, l4, 4);
	f->len += 48;
}

static enum keel_exc_class cls(const struct f *f)
{
	/* An exact-size copy: a read past len shows under ASan. */
	uint8_t *p = malloc(f->len ? f->len : 1);
	enum keel_exc_class c;

	memcpy(p, f->b, f->len);
	c = keel_exc_classify(p, f->len);
	free(p);
	return c;
}

static void test_arp_and_vlan(void **state)
{
	struct f f;

	(void)state;
	eth(&f, 0x0806, 0);
	f.len += 28;
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	eth(&f, 0x0806, 1);
	f.len += 28;
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	eth(&f, 0x88cc, 0); /* LLDP: not ours to prioritise */
	f.len += 28;
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
}

static void test_ipv4(void **state)
{
	struct f f;

	(void)state;
	ip4(&f, 6, 40000, 179, 64, 0);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL); /* BGP to the host */
	ip4(&f, 6, 179, 40000, 1, 0x4000);            /* BGP from the peer's port, DF set */
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	ip4(&f, 6, 40000, 22, 64, 0);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER); /* SSH */
	ip4(&f, 17, 49152, 3784, 255, 0);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL); /* BFD control, GTSM */
	ip4(&f, 17, 49152, 3785, 255, 0);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL); /* BFD echo */
	ip4(&f, 17, 49152, 3784, 64, 0);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER); /* not from the link: a flood posing as BFD */
	ip4(&f, 17, 49152, 4784, 10, 0);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL); /* multihop BFD */
	ip4(&f, 17, 3784, 53, 255, 0);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER); /* BFD's port as the source only */
	ip4(&f, 89, 0, 0, 1, 0);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL); /* OSPF */
	ip4(&f, 1, 0x0800, 0, 64, 0);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER); /* ping */
	ip4(&f, 6, 40000, 179, 64, 0x0010);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER); /* a later fragment: no ports */
	ip4(&f, 6, 40000, 179, 64, 0);
	f.b[14] = 0x46; /* IHL 24 and only 28 bytes: the ports are not where IHL says */
	f.len = 14 + 24 + 3;
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
	ip4(&f, 6, 40000, 179, 64, 0);
	f.b[14] = 0x44; /* IHL below 20 */
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
}

static void test_ipv6(void **state)
{
	static const uint8_t ns[4] = { 135, 0, 0, 0 }, ra[4] = { 134, 0, 0, 0 },
			     echo[4] = { 128, 0, 0, 0 }, bgp[4] = { 0x9c, 0x40, 0x00, 179 },
			     bfd[4] = { 0xc0, 0x00, 0x0e, 0xc8 };
	struct f f;

	(void)state;
	ip6(&f, 58, ns, 255);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	ip6(&f, 58, ra, 255);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	ip6(&f, 58, ns, 64); /* RFC 4861 7.1.1: not from the link, the kernel drops it anyway */
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
	ip6(&f, 58, echo, 255);
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
	ip6(&f, 6, bgp, 64);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	ip6(&f, 17, bfd, 255);
	assert_int_equal(cls(&f), KEEL_EXC_CONTROL);
	ip6(&f, 0, ns, 255); /* behind a hop-by-hop header: not looked into */
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
	ip6(&f, 58, ns, 255);
	f.b[14] = 0x40; /* version 4 in an IPv6 frame */
	assert_int_equal(cls(&f), KEEL_EXC_OTHER);
}

/* Every prefix of a control frame is classified without reading past it; an IP one too short for its ports is OTHER. */
static void test_truncated(void **state)
{
	static const uint8_t ns[4] = { 135, 0, 0, 0 };
	struct f full[3], f;
	uint32_t k, len;

	(void)state;
	ip4(&full[0], 6, 40000, 179, 64, 0);
	ip4(&full[1], 17, 1, 3784, 255, 0);
	ip6(&full[2], 58, ns, 255);
	for (k = 0; k < 3; k++) {
		for (len = 0; len < full[k].len; len++) {
			f = full[k];
			f.len = len;
			enum keel_exc_class c = cls(&f);
			/* IPv4 needs 4 bytes of ports, ICMPv6 one byte of type */
			uint32_t need = k == 2 ? 14 + 40 + 1 : 14 + 20 + 4;

			assert_int_equal(c, len >= need ? KEEL_EXC_CONTROL : KEEL_EXC_OTHER);
		}
	}
}

static void test_budget(void **state)
{
	struct keel_exc_budget b = { .rate = 10 };
	int i, n = 0;

	(void)state;
	for (i = 0; i < 100; i++)
		n += keel_exc_allowed(&b, 5000);
	assert_int_equal(n, 10); /* one second's worth at once, then nothing */
	assert_false(keel_exc_allowed(&b, 5050)); /* half a frame paid back */
	assert_true(keel_exc_allowed(&b, 5100));  /* a whole one */
	assert_false(keel_exc_allowed(&b, 5100));
	/* Steady: over ten seconds, ten per second, however often it is asked. */
	n = 0;
	for (i = 0; i < 10000; i++)
		n += keel_exc_allowed(&b, 5100 + (uint64_t)i + 1);
	assert_int_equal(n, 100);
	b = (struct keel_exc_budget){ .rate = 0 };
	for (i = 0; i < 1000; i++)
		assert_true(keel_exc_allowed(&b, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_and_vlan),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
