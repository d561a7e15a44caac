/* The flow table tests' fixture: tables in mmap'd memory, keys and values, one-key lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "flow_table.h"
#include "flowfix.h"
#include "hash.h"
#include "pkt.h"

/* mmap rather than malloc: the 16M table is 256 MB and wants transparent hugepages. */
void flowfix_table_open(struct test_table *t, const struct flow_table_params *p)
{
	t->size = flow_table_mem_size(p->capacity);
	assert_true(t->size > 0);
	t->mem = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	assert_true(t->mem != MAP_FAILED);
	(void)madvise(t->mem, t->size, MADV_HUGEPAGE); /* advisory: fine if THP is off */
	t->ft = flow_table_init(t->mem, t->size, p);
	assert_non_null(t->ft);
}

void flowfix_table_close(struct test_table *t)
{
	munmap(t->mem, t->size);
}

struct flow_table_params flowfix_params(uint32_t capacity, uint32_t tcp_ms, uint32_t closing_ms,
					uint32_t udp_ms)
{
	struct flow_table_params p = {
		.capacity = capacity,
		.secret = 0x0123456789abcdefULL,
		.timeout_ms = { [FLOW_TIMEOUT_TCP] = tcp_ms,
				[FLOW_TIMEOUT_TCP_CLOSING] = closing_ms,
				[FLOW_TIMEOUT_UDP] = udp_ms },
	};
	return p;
}

/* Distinct IPv4 keys for distinct i; odd i are UDP when mixed. */
struct keel_flow_key flowfix_make_key(uint32_t i, uint8_t proto)
{
	struct keel_flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[0] = (uint8_t)(i >> 24);
	k.src[1] = (uint8_t)(i >> 16);
	k.src[2] = (uint8_t)(i >> 8);
	k.src[3] = (uint8_t)i;
	k.dst[0] = 192;
	k.dst[1] = 0;
	k.dst[2] = 2;
	k.dst[3] = 1;
	k.sport = (uint16_t)(1024 + (i % 50000));
	k.dport = 443;
	k.proto = proto;
	k.family = KEEL_AF_INET4;
	return k;
}

struct flow_value flowfix_make_value(uint32_t i)
{
	/* Distinct for every 32-bit i: backend is i * 7 mod 2^16 (7 is odd), vip the high half. */
	struct flow_value v = { .backend = (uint16_t)(i * 7), .vip = (uint16_t)(i >> 16) };
	return v;
}

int flowfix_value_eq(const struct flow_value *a, const struct flow_value *b)
{
	return a->backend == b->backend && a->vip == b->vip;
}

struct flow_value *flowfix_lookup1(struct flow_table *ft, const struct keel_flow_key *k,
				   uint8_t flags, uint64_t now, uint64_t *hash)
{
	const struct keel_flow_key *keys[1] = { k };
	struct flow_value *vals[1];
	uint64_t h[1];

	flow_table_lookup_burst(ft, keys, &flags, 1, now, vals, h);
	if (hash)
		*hash = h[0];
	return vals[0];
}

struct flow_value *flowfix_insert1(struct flow_table *ft, const struct keel_flow_key *k,
				   const struct flow_value *v, uint8_t flags, uint64_t now)
{
	return flow_table_insert(ft, k, keel_hash_key(k, 0x0123456789abcdefULL), v, flags, now, NULL);
}

/* A burst lookup with insert hints, as the pipeline does it. */
void flowfix_lookup_hinted(struct flow_table *ft, const struct keel_flow_key *const keys[],
			   const uint8_t flags[], uint32_t n, uint64_t now, struct flow_value *vals[],
			   uint64_t hs[], struct flow_hint hints[])
{
	flow_table_lookup_burst_hinted(ft, keys, flags, n, now, vals, hs, hints);
}
