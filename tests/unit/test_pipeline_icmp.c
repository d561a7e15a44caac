/* The burst pipeline's ICMP over crafted frames: echo replies, errors routed to their connection, "too big" answers and their rate. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "burst_env.h"
#include "flow_table.h"
#include "hash.h"
#include "maglev.h"
#include "pipeline.h"
#include "pipeline_vips.h"
#include "pktgen.h"
#include "snapfix.h"

static void test_icmp_echo(void **state)
{
	struct burst_env *e = *state;
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1,
			    .icmp_type = 8, .payload_len = 32 };
	struct pktgen g6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1",
			     .proto = 58, .icmp_type = 128, .payload_len = 32 };
	struct pktgen other = g;

	other.dst = "192.0.2.77";
	burst_env_load(e, 0, &g);
	burst_env_load(e, 1, &g6);
	burst_env_load(e, 2, &other);
	assert_int_equal(burst_env_run(e, 3), 2);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[0].data[14 + 20], 0); /* echo reply */
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[1].data[14 + 40], 129);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.icmp_echo, 2);
	burst_env_assert_accounted(e);
}

/* A "fragmentation needed" about a VIP connection reaches that connection's backend. */
static void test_icmp_error_follows_flow(void **state)
{
	struct burst_env *e = *state;
	struct pktgen reply = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = 6,
				.sport = 80, .dport = 40000, .payload_len = 20 };
	uint8_t quote[128], icmp[8 + 128];
	struct pktgen err = { .family = 4, .src = "203.0.113.254", .dst = "192.0.2.1", .proto = 1,
			      .icmp_type = 3, .icmp_code = 4 };
	size_t qlen;
	int b;

	/* The flow first, so it is tracked. */
	burst_env_load(e, 0, &pipeline_vips_tcp4);
	burst_env_run(e, 1);
	b = pipeline_vips_outer_backend(e, 0);

	qlen = pktgen_build_ip(quote, sizeof(quote), &reply);
	assert_true(qlen >= 28);
	memset(icmp, 0, 8);
	icmp[0] = 3;
	icmp[1] = 4;
	icmp[6] = 0x05;
	icmp[7] = 0x00; /* next-hop MTU 1280 */
	memcpy(icmp + 8, quote, 28); /* IP header + 8 bytes, the RFC 792 minimum */
	{
		uint16_t c = pktgen_csum(icmp, 36);

		icmp[2] = (uint8_t)(c >> 8);
		icmp[3] = (uint8_t)c;
	}
	err.l4_override = icmp;
	err.l4_override_len = 36;
	burst_env_load(e, 0, &err);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(pipeline_vips_outer_backend(e, 0), b);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);
}

/* An ICMPv4 frag-needed from a router to dst quoting 28 bytes of the reply q, loaded as frame i. */
static void load_frag_needed(struct burst_env *e, int i, const char *dst, const struct pktgen *q)
{
	uint8_t quote[128], icmp[8 + 28];
	struct pktgen err = { .family = 4, .src = "203.0.113.254", .dst = dst, .proto = 1,
			      .icmp_type = 3, .icmp_code = 4 };
	uint16_t c;

	assert_true(pktgen_build_ip(quote, sizeof(quote), q) >= 28);
	memset(icmp, 0, 8);
	icmp[0] = 3;
	icmp[1] = 4;
	icmp[6] = 0x05; /* next-hop MTU 1280 */
	memcpy(icmp + 8, quote, 28);
	c = pktgen_csum(icmp, sizeof(icmp));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	err.l4_override = icmp;
	err.l4_override_len = sizeof(icmp);
	burst_env_load(e, i, &err);
}

/*
 * Issue 20 item 14: an error is routed by its quote only when it is
 * addressed to the quoted source (the VIP). To another address it is that
 * address's (the kernel's, or not_vip); to another VIP, icmp_error_mismatch.
 */
static void test_icmp_error_outer_destination(void **state)
{
	struct burst_env *e = *state;
	struct pktgen reply = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = 6,
				.sport = 80, .dport = 40000, .payload_len = 20 };
	struct pktgen reply6 = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:c::7", .proto = 6,
				 .sport = 443, .dport = 50000, .payload_len = 20 };
	struct pktgen flow6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
				.sport = 50000, .dport = 443, .payload_len = 20 };
	uint8_t q6[128], icmp6[8 + 48];
	struct pktgen err6 = { .family = 6, .src = "2001:db8:ffff::1", .dst = "2001:db8::99",
			       .proto = 58, .icmp_type = 2 };
	size_t n;

	/* The connections first, so they are tracked. */
	burst_env_load(e, 0, &pipeline_vips_tcp4);
	burst_env_load(e, 1, &flow6);
	assert_int_equal(burst_env_run(e, 2), 2);

	load_frag_needed(e, 0, "192.0.2.1", &reply);      /* to the VIP: its backend */
	load_frag_needed(e, 1, "203.0.113.10", &reply);   /* to the host: the kernel's */
	load_frag_needed(e, 2, "192.0.2.2", &reply);      /* to another VIP: refused */
	n = pktgen_build_ip(q6, sizeof(q6), &reply6);
	assert_true(n >= 48);
	memset(icmp6, 0, 8);
	icmp6[0] = 2;
	icmp6[6] = 0x05;
	memcpy(icmp6 + 8, q6, 48);
	err6.l4_override = icmp6;
	err6.l4_override_len = sizeof(icmp6);
	burst_env_load(e, 3, &err6);                                 /* IPv6, to a non-VIP address */
	assert_int_equal(burst_env_run(e, 4), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_ERROR_MISMATCH], 1);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);

	/* Without an exception path, one to the host is dropped as any packet for no VIP. */
	e->w.non_vip_to_kernel = false;
	load_frag_needed(e, 0, "203.0.113.10", &reply);
	assert_int_equal(burst_env_run(e, 1), 0);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_NOT_VIP], 1);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);
}

static void test_too_big(void **state)
{
	struct burst_env *e = *state;
	struct pktgen df = pipeline_vips_tcp4, nodf = pipeline_vips_tcp4;
	uint32_t i;

	df.payload_len = 1460; /* 1500-byte packet: 1520 with IPIP */
	df.df = true;
	nodf.payload_len = 1460;
	burst_env_load(e, 0, &df);
	burst_env_load(e, 1, &nodf);
	assert_int_equal(burst_env_run(e, 2), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[0].data[14 + 20], 3);
	assert_int_equal(e->bufs[0].data[14 + 21], 4);
	assert_int_equal(e->bufs[0].data[14 + 26] << 8 | e->bufs[0].data[14 + 27], 1480);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_TOO_BIG], 1);
	assert_int_equal(e->ctr.icmp_too_big, 1);

	/* At most icmp_rate answers per second. */
	e->w.now_ms += 5000;
	for (i = 0; i < 150; i++) {
		burst_env_load(e, 0, &df);
		burst_env_run(e, 1);
	}
	assert_int_equal(e->ctr.icmp_too_big, 1 + e->snap->icmp_rate);
	assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_RATE_LIMIT], 150 - e->snap->icmp_rate);
	burst_env_assert_accounted(e);
}

/* ---- Hardening (issue 14): every test below failed before its fix. ---- */

/*
 * Item 1: the ICMP answer bucket on a simulated clock, for rates R of 1 to
 * 10000 per second and "too big" events at E = 0.5 R to 3 R, for T = 10 s,
 * from a fresh worker whose clock starts at 1 ms (as keel-replay's does).
 * Checked against a naive floating-point token bucket (depth R, refilled
 * continuously) to within one answer, and against the closed form: all of
 * them when E < R, else R (the first burst) + R * T within 1 + 0.5 % (when
 * the bucket is deep enough, R >= 10, not to fill up between two events).
 * The old refill rounded elapsed * R / 1000 down to zero and still moved its
 * clock, so with more than one event per 1000/R ms it never refilled.
 */
static void test_icmp_rate_simulated_clock(void **state)
{
	static const uint32_t rates[] = { 1, 10, 100, 1000, 10000 };
	static const double factors[] = { 0.5, 0.9, 1.11, 3.0 };
	struct burst_env *e = *state;
	struct keel_snapshot_spec spec;
	struct pktgen df = pipeline_vips_tcp4;
	const uint64_t T_ms = 10000;
	unsigned int ri, fi;

	df.payload_len = 1460;
	df.df = true;
	for (ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
		struct keel_snapshot *snap;

		pipeline_vips_spec(&spec, KEEL_BACKEND_ACTIVE, 1);
		spec.icmp_rate = rates[ri];
		snap = snapfix_build(&spec);
		for (fi = 0; fi < sizeof(factors) / sizeof(factors[0]); fi++) {
			double ev_rate = rates[ri] * factors[fi], tokens = rates[ri];
			uint64_t n_events = (uint64_t)(ev_rate * (double)T_ms / 1000.0);
			uint64_t before = e->ctr.icmp_too_big, k, got, oracle = 0, last = 1;
			struct keel_worker w = { .snap = snap, .ft = e->w.ft, .ctr = &e->ctr,
						 .non_vip_to_kernel = true };

			for (k = 0; k < n_events; k++) {
				w.now_ms = 1 + (uint64_t)((double)k * 1000.0 / ev_rate);
				burst_env_load(e, 0, &df);
				keel_pipeline_burst(&w, &burst_env_port, e->bufs, e->verdicts, 1);
				/* The oracle. */
				tokens += (double)(w.now_ms - last) * rates[ri] / 1000.0;
				if (tokens > rates[ri])
					tokens = rates[ri];
				last = w.now_ms;
				if (tokens >= 1.0) {
					tokens -= 1.0;
					oracle++;
				}
			}
			got = e->ctr.icmp_too_big - before;
			if (got + 1 < oracle || got > oracle + 1)
				fail_msg("rate %u/s, %.1f events/s: %llu answered, the naive bucket %llu",
					 rates[ri], ev_rate, (unsigned long long)got,
					 (unsigned long long)oracle);
			if (factors[fi] < 1.0) {
				assert_int_equal(got, n_events);
			} else if (rates[ri] >= 10) {
				uint64_t expect = rates[ri] + rates[ri] * T_ms / 1000, tol = 1 + expect / 200;

				if (got + tol < expect || got > expect + tol)
					fail_msg("rate %u/s, %.1f events/s: %llu answered, expected %llu +- %llu",
						 rates[ri], ev_rate, (unsigned long long)got,
						 (unsigned long long)expect, (unsigned long long)tol);
			}
		}
		free(snap);
	}
	burst_env_assert_accounted(e);
}

/* Item 1, the reported case: a continuous stream of oversized DF packets keeps being answered at the rate. */
static void test_icmp_rate_continuous_stream(void **state)
{
	struct burst_env *e = *state;
	struct pktgen df = pipeline_vips_tcp4;
	uint64_t ms;

	df.payload_len = 1460;
	df.df = true;
	/* Four too-big packets every millisecond for 10 s against the default 100/s. */
	for (ms = 0; ms < 10000; ms++) {
		int i;

		e->w.now_ms = 1000 + ms;
		for (i = 0; i < 4; i++)
			burst_env_load(e, i, &df);
		burst_env_run(e, 4);
	}
	/* The first burst of 100, then 100 per second: 1100, within one per second of slack. */
	assert_in_range(e->ctr.icmp_too_big, 1090, 1101);
	burst_env_assert_accounted(e);
}

/* Item 4: an echo request with a bad ICMP checksum is not answered; nor one whose reply exceeds the port MTU. */
static void test_echo_checksum_and_mtu(void **state)
{
	struct burst_env *e = *state;
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1,
			    .icmp_type = 8, .payload_len = 32 };
	struct pktgen g6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1",
			     .proto = 58, .icmp_type = 128, .payload_len = 32 };
	struct pktgen big = g;

	burst_env_load(e, 0, &g);
	e->bufs[0].data[14 + 20 + 2] ^= 0x01;
	burst_env_load(e, 1, &g6);
	e->bufs[1].data[14 + 40 + 8] ^= 0x80; /* payload byte: the checksum no longer matches */
	big.payload_len = 1500 - 28 + 1;      /* reply one byte over the 1500-byte port MTU */
	burst_env_load(e, 2, &big);
	big.payload_len = 1500 - 28;          /* exactly the MTU: answered */
	burst_env_load(e, 3, &big);
	assert_int_equal(burst_env_run(e, 4), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_REPLY);
	assert_int_equal(burst_env_drops_named(e, "icmp_checksum"), 2);
	assert_int_equal(burst_env_drops_named(e, "echo_too_big"), 1);
	assert_int_equal(e->ctr.icmp_echo, 1);
	burst_env_assert_accounted(e);
}

/* An ICMPv6 packet too big from a router, quoting q (the VIP's packet to the client). */
static void load_ptb6(struct burst_env *e, int i, const struct pktgen *q)
{
	uint8_t quote[256], icmp[8 + 256];
	struct pktgen err = { .family = 6, .src = "2001:db8:ffff::1", .dst = "2001:db8::1",
			      .proto = 58, .icmp_type = 2 };
	size_t qlen = pktgen_build_ip(quote, sizeof(quote), q);

	assert_true(qlen > 0);
	memset(icmp, 0, 8);
	icmp[0] = 2;
	icmp[6] = 0x05; /* MTU 1280 */
	memcpy(icmp + 8, quote, qlen);
	err.l4_override = icmp;
	err.l4_override_len = (uint16_t)(8 + qlen);
	burst_env_load(e, i, &err);
}

/* Item 5: a packet too big quoting extension headers (Fragment, Hop-by-Hop) reaches the connection's backend. */
static void test_ptb_quoting_exthdrs(void **state)
{
	struct burst_env *e = *state;
	struct pktgen flow = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
			       .sport = 50000, .dport = 443, .payload_len = 20 };
	struct pktgen q = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:c::7", .proto = 6,
			    .sport = 443, .dport = 50000, .payload_len = 40 };
	struct pktgen qfrag = q, qhbh = q, qlater = q;
	const uint8_t *dst0, *f;

	burst_env_load(e, 0, &flow);
	assert_int_equal(burst_env_run(e, 1), 1);
	f = e->bufs[0].data;
	dst0 = f + 14 + 24;
	{
		uint8_t backend[16];

		memcpy(backend, dst0, 16);
		qfrag.ip6_frag_hdr = true;     /* first fragment: offset 0, M set */
		qfrag.more_frags = true;
		qhbh.ip6_hbh_len = 1;          /* 8-byte Hop-by-Hop */
		qhbh.ip6_frag_hdr = true;      /* then an atomic fragment (RFC 6946) */
		qlater.ip6_frag_hdr = true;    /* a later fragment quotes no ports */
		qlater.frag_offset = 100;
		load_ptb6(e, 0, &qfrag);
		load_ptb6(e, 1, &qhbh);
		load_ptb6(e, 2, &qlater);
		assert_int_equal(burst_env_run(e, 3), 2);
		assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
		assert_int_equal(e->verdicts[1], KEEL_VERDICT_FORWARD);
		assert_memory_equal(e->bufs[0].data + 14 + 24, backend, 16);
		assert_memory_equal(e->bufs[1].data + 14 + 24, backend, 16);
		assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
		assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_ERROR_INNER], 1);
		assert_int_equal(e->ctr.icmp_errors_fwd, 2);
	}
	burst_env_assert_accounted(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PIPELINE_VIPS_TEST(test_icmp_echo),
		PIPELINE_VIPS_TEST(test_icmp_error_follows_flow),
		PIPELINE_VIPS_TEST(test_icmp_error_outer_destination),
		PIPELINE_VIPS_TEST(test_too_big),
		PIPELINE_VIPS_TEST(test_icmp_rate_simulated_clock),
		PIPELINE_VIPS_TEST(test_icmp_rate_continuous_stream),
		PIPELINE_VIPS_TEST(test_echo_checksum_and_mtu),
		PIPELINE_VIPS_TEST(test_ptb_quoting_exthdrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
