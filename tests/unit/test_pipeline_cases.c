/* The burst pipeline one frame per row (lib/pkt_case.h): to the kernel or dropped, the counter it moves and the drop reason named. */
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
#include "pkt_case.h"
#include "pipeline.h"
#include "pipeline_vips.h"
#include "pktgen.h"
#include "snapfix.h"

/* A row's worker: with or without an exception path (non_vip_to_kernel), with or without a snapshot; the drop reason named. */
struct pipe_row {
	bool to_kernel;
	bool no_snapshot;
	const char *drop;
};

static const struct pipe_row host = { .to_kernel = true };

static uint64_t verdict_count(const struct burst_env *e, uint8_t v)
{
	switch (v) {
	case KEEL_VERDICT_FORWARD:
		return e->ctr.fwd_pkts;
	case KEEL_VERDICT_REPLY:
		return e->ctr.reply_pkts;
	case KEEL_VERDICT_KERNEL:
		return e->ctr.kernel_pkts;
	default:
		return burst_env_drops(&e->ctr);
	}
}

/* The stage: a burst of one; the counter of the verdict and the named drop reason move by one. */
static int pipeline_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	struct burst_env *e = ctx;
	const struct pipe_row *r = c->arg;
	uint64_t named = r->drop ? burst_env_drops_named(e, r->drop) : 0, counted = verdict_count(e, (uint8_t)c->want);
	uint8_t verdict = 0xff;

	(void)p;
	e->w.non_vip_to_kernel = r->to_kernel;
	e->w.snap = r->no_snapshot ? NULL : e->snap;
	keel_pipeline_burst(&e->w, &burst_env_port, b, &verdict, 1);
	e->w.snap = e->snap;
	if (verdict == c->want)
		assert_int_equal(verdict_count(e, verdict), counted + 1);
	if (r->drop)
		assert_int_equal(burst_env_drops_named(e, r->drop), named + 1);
	burst_env_assert_accounted(e);
	return verdict;
}

#define P_TCP4(...) { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6, .sport = 40000, \
		      .dport = 80, .tcp_flags = 0x02, .payload_len = 10, __VA_ARGS__ }
#define P_ECHO4(...) { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1, .icmp_type = 8, \
		       .payload_len = 8, __VA_ARGS__ }
#define P_TCP6(...) { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6, .sport = 50000, \
		      .dport = 443, __VA_ARGS__ }
/* Destination MACs other than the port's own (pktgen's 02:00:00:00:00:02). */
#define TO_BCAST { FILL(0, 0xff, 6) }
#define TO_MCAST4 { SET8(0, 0x01), SET8(2, 0x5e), SET8(5, 0x01) }            /* 01:00:5e:00:00:01 */
#define TO_MCAST6 { SET8(0, 0x33), SET8(1, 0x33), SET8(2, 0xff), SET8(5, 0x01) } /* 33:33:ff:00:00:01 */
#define TO_OTHER { SET8(5, 0x99) }                                         /* 02:00:00:00:00:99 */

/*
 * Item 3: sources that are only valid on the link (::, fe80::/10, 169.254/16)
 * or that no IPv6 wire carries (IPv4-mapped) are never balanced or answered;
 * to the host itself (not a VIP) they still reach the kernel: DAD probes
 * (from ::) and neighbour discovery (from link-local) must.
 */
#define SRC6(a, why)                                                                                   \
	{ .what = "from " a " to a vip", .in = P_TCP6(.src = a, .sport = 1234), .arg = &(const struct pipe_row){ \
	  .to_kernel = true, .drop = why }, .want = KEEL_VERDICT_DROP },                                   \
	{ .what = "echo from " a, .in = { .family = 6, .src = a, .dst = "2001:db8::1", .proto = 58,         \
	  .icmp_type = 128, .payload_len = 8 }, .arg = &(const struct pipe_row){ .to_kernel = true, .drop = why }, \
	  .want = KEEL_VERDICT_DROP },                                                                     \
	{ .what = "from " a " to the host", .in = P_TCP6(.src = a, .sport = 1234, .dst = "2001:db8::99"),  \
	  .arg = &host, .want = KEEL_VERDICT_KERNEL }
#define SRC4(a, why)                                                                                   \
	{ .what = "from " a " to a vip", .in = P_TCP4(.src = a, .sport = 1234, .tcp_flags = 0, .payload_len = 0), \
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = why }, .want = KEEL_VERDICT_DROP },  \
	{ .what = "echo from " a, .in = P_ECHO4(.src = a), .arg = &(const struct pipe_row){ .to_kernel = true, \
	  .drop = why }, .want = KEEL_VERDICT_DROP },                                                      \
	{ .what = "from " a " to the host", .in = P_TCP4(.src = a, .sport = 1234, .tcp_flags = 0, .payload_len = 0, \
	  .dst = "192.0.2.99"), .arg = &host, .want = KEEL_VERDICT_KERNEL }

static const uint8_t arp_frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };

static const struct pkt_case pipeline_cases[] = {
	/* Not a VIP: the kernel's with an exception path, dropped without. */
	{ .what = "tcp to no vip", .in = P_TCP4(.dst = "192.0.2.99"), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "tcp to a vip's other port", .in = P_TCP4(.dport = 81), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "arp", .raw = arp_frame, .raw_len = sizeof(arp_frame), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "tcp to a vip's other port, no exception path", .in = P_TCP4(.dport = 81),
	  .arg = &(const struct pipe_row){ .drop = "not_vip" }, .want = KEEL_VERDICT_DROP },
	/* Malformed, no backend, no snapshot (dropped, or with an exception path all the kernel's). */
	{ .what = "ipv4 header checksum", .in = P_TCP4(), .edit = { XOR8(14 + 10, 0xff) },
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "ip4_checksum" }, .want = KEEL_VERDICT_DROP },
	{ .what = "vip without a backend", .in = P_TCP4(.dst = "192.0.2.2"),
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "no_backend" }, .want = KEEL_VERDICT_DROP },
	{ .what = "no snapshot", .in = P_TCP4(), .arg = &(const struct pipe_row){ .no_snapshot = true, .drop = "no_snapshot" },
	  .want = KEEL_VERDICT_DROP },
	{ .what = "no snapshot, with an exception path", .in = P_TCP4(),
	  .arg = &(const struct pipe_row){ .to_kernel = true, .no_snapshot = true }, .want = KEEL_VERDICT_KERNEL },
	/* Item 2: only frames to the port's own MAC are balanced or answered; group frames go to the kernel at most. */
	{ .what = "tcp to broadcast", .in = P_TCP4(), .edit = TO_BCAST,
	  .arg = &(const struct pipe_row){ .drop = "l2_broadcast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to multicast", .in = P_TCP4(), .edit = TO_MCAST4,
	  .arg = &(const struct pipe_row){ .drop = "l2_multicast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "ipv6 to multicast", .in = P_TCP6(), .edit = TO_MCAST6,
	  .arg = &(const struct pipe_row){ .drop = "l2_multicast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to another host", .in = P_TCP4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	{ .what = "echo to broadcast", .in = P_ECHO4(), .edit = TO_BCAST,
	  .arg = &(const struct pipe_row){ .drop = "l2_broadcast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "echo to another host", .in = P_ECHO4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	/* With an exception path the kernel gets the group frames (ARP, ND, DAD); another host's frames still not. */
	{ .what = "tcp to broadcast, with an exception path", .in = P_TCP4(), .edit = TO_BCAST, .arg = &host,
	  .want = KEEL_VERDICT_KERNEL },
	{ .what = "ipv6 to multicast, with an exception path", .in = P_TCP6(), .edit = TO_MCAST6, .arg = &host,
	  .want = KEEL_VERDICT_KERNEL },
	{ .what = "echo to another host, with an exception path", .in = P_ECHO4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to the port, with an exception path", .in = P_TCP4(), .arg = &host, .want = KEEL_VERDICT_FORWARD },
	/* Item 2: 802.1Q VID 4095 is reserved (IEEE 802.1Q 9.6): never forwarded. VID 0 (priority tag) is. */
	{ .what = "vid 4095", .in = P_TCP4(.vlan = 0xfff), .arg = &(const struct pipe_row){ .to_kernel = true,
	  .drop = "vlan_reserved" }, .want = KEEL_VERDICT_DROP },
	{ .what = "priority 1, vid 4095", .in = P_TCP4(.vlan = 0x2fff), .arg = &(const struct pipe_row){
	  .to_kernel = true, .drop = "vlan_reserved" }, .want = KEEL_VERDICT_DROP },
	{ .what = "vid 1", .in = P_TCP4(.vlan = 0x2001), .arg = &host, .want = KEEL_VERDICT_FORWARD },
	SRC6("::", "ip6_src_unspecified"),
	SRC6("fe80::1", "ip6_src_link_local"),
	SRC6("febf:ffff::1", "ip6_src_link_local"),
	SRC6("::ffff:198.51.100.7", "ip6_src_v4mapped"),
	SRC4("169.254.10.1", "ip4_src_link_local"),
};

static void test_pipeline_cases(void **state)
{
	struct burst_env *e = *state;

	pkt_case_run(PKT_CASES(pipeline_cases), pipeline_stage, e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		PIPELINE_VIPS_TEST(test_pipeline_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
