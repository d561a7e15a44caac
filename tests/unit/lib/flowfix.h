/* What the flow table's tests (test_flow_table*.c) share: mmap'd tables, keys, values, lookups. */
#ifndef KEEL_TEST_FLOWFIX_H
#define KEEL_TEST_FLOWFIX_H

#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "pkt.h"

#define NEVER_MS 0x7fffffffu /* a timeout no test reaches */

struct test_table {
	void *mem;
	size_t size;
	struct flow_table *ft;
};

/* A table of p's capacity in its own mapping (flowfix.c says why mmap), or the test fails. */
void flowfix_table_open(struct test_table *t, const struct flow_table_params *p);
void flowfix_table_close(struct test_table *t);
/* Parameters of capacity and the three timeouts, with a fixed secret. */
struct flow_table_params flowfix_params(uint32_t capacity, uint32_t tcp_ms, uint32_t closing_ms,
					 uint32_t udp_ms);
/* Distinct IPv4 keys for distinct i; odd i are UDP when mixed. */
struct keel_flow_key flowfix_make_key(uint32_t i, uint8_t proto);
/* A value distinct for every 32-bit i. */
struct flow_value flowfix_make_value(uint32_t i);
int flowfix_value_eq(const struct flow_value *a, const struct flow_value *b);
/* A burst lookup of one key; its hash into *hash unless NULL. */
struct flow_value *flowfix_lookup1(struct flow_table *ft, const struct keel_flow_key *k,
				    uint8_t flags, uint64_t now, uint64_t *hash);
/* An insert of one key, hashed with the secret of flowfix_params(). */
struct flow_value *flowfix_insert1(struct flow_table *ft, const struct keel_flow_key *k,
				    const struct flow_value *v, uint8_t flags, uint64_t now);
/* A burst lookup with insert hints, as the pipeline does it. */
void flowfix_lookup_hinted(struct flow_table *ft, const struct keel_flow_key *const keys[],
			   const uint8_t flags[], uint32_t n, uint64_t now, struct flow_value *vals[],
			   uint64_t hs[], struct flow_hint hints[]);

#endif
