/* What the parse tests (test_parse*.c) share: the parse stage run with its invariants checked, and their frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "parsefix.h"

#define VIP_CANARY 0xa5a5

static const uint8_t zero16[16];

void parsefix_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

uint16_t parsefix_get16(const uint16_t *netorder)
{
	const uint8_t *b = (const uint8_t *)netorder;

	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Invariants every accepted IP packet must satisfy, whatever the input. */
static void check_accepted(const uint8_t *frame, size_t len, const struct keel_pkt *p)
{
	(void)frame;
	assert_int_equal(p->key.pad, 0);
	if (p->flags & KEEL_PKT_NOT_IP) {
		assert_memory_equal(p->key.src, zero16, 16);
		assert_memory_equal(p->key.dst, zero16, 16);
		assert_int_equal(p->key.family, 0);
		return;
	}
	assert_true(p->key.family == KEEL_AF_INET4 || p->key.family == KEEL_AF_INET6);
	if (p->key.family == KEEL_AF_INET4) {
		assert_memory_equal(p->key.src + 4, zero16, 12);
		assert_memory_equal(p->key.dst + 4, zero16, 12);
	}
	assert_true(p->l3_off == 14 || p->l3_off == 18);
	assert_true(p->l4_off >= p->l3_off + 20);
	assert_true(p->l4_off <= p->l3_off + p->l3_len);
	assert_true((size_t)p->l3_off + p->l3_len <= len);
	if (p->flags & KEEL_PKT_FRAG_LATER) {
		assert_true(p->flags & KEEL_PKT_FRAG);
		assert_int_equal(p->key.sport, 0);
		assert_int_equal(p->key.dport, 0);
	}
}

/*
 * Parse from an exactly-sized heap copy, so ASan flags any read past the
 * frame, into a keel_pkt pre-filled with garbage, so fields the parser forgets
 * to clear show up; p->vip must come back untouched.
 */
enum keel_drop parsefix_parse(const uint8_t *frame, size_t len, struct keel_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum keel_drop r;

	assert_non_null(copy);
	memcpy(copy, frame, len);
	memset(p, 0xa5, sizeof(*p));
	r = keel_parse(copy, (uint32_t)len, p);
	free(copy);
	assert_int_equal(p->vip, VIP_CANARY);
	assert_true(r < KEEL_DROP_MAX);
	if (r == KEEL_DROP_NONE)
		check_accepted(frame, len, p);
	return r;
}

size_t parsefix_build(uint8_t *buf, const struct pktgen *g)
{
	size_t len = pktgen_build(buf, PARSEFIX_BUF_CAP, g);

	assert_true(len > 0);
	return len;
}

struct pktgen parsefix_tcp4(void)
{
	struct pktgen g = {
		.family = 4, .src = "198.51.100.7", .dst = "203.0.113.10", .proto = KEEL_PROTO_TCP,
		.sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_SYN, .payload_len = 0,
		.ttl = 57, .tos = 0xb8,
	};
	return g;
}

struct pktgen parsefix_tcp6(void)
{
	struct pktgen g = {
		.family = 6, .src = "2001:db8::7", .dst = "2001:db8:1::10", .proto = KEEL_PROTO_TCP,
		.sport = 40000, .dport = 443, .tcp_flags = KEEL_TCP_ACK, .payload_len = 10,
		.ttl = 33, .tos = 0x2e,
	};
	return g;
}

void parsefix_assert_addr(const uint8_t got[16], int family, const char *text)
{
	uint8_t want[16];

	pktgen_addr(family, text, want);
	assert_memory_equal(got, want, 16);
}
