/* BPF_PROG_TEST_RUN fixtures for decap.bpf.c: input frame, expected verdict, counter and output bytes; it round trips every encapsulation the packet core makes (and every row of the unit tests' encap case table). On cmocka: one test per group, failing when any of its cases does. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>

#include <cmocka.h>

#include "decap.skel.h"
#include "encap.h"
#include "encap_cases.h"
#include "keel_bpf.h"
#include "pktgen.h"
#include "wire.h"
#include "xdpfix.h"

/* Every kind the core makes (4in4, 6in4, 4in6, 6in6, GUE over both) decapsulates to exactly the original. */
static void test_decap_round_trip(struct xdpfix_decap *e)
{
	static const char *const fam[] = { [4] = "4", [6] = "6" };
	int inner, outer, kind, vlan;
	struct xdpfix_pkt in, want;
	char name[128];

	for (inner = 4; inner <= 6; inner += 2)
		for (outer = 4; outer <= 6; outer += 2)
			for (kind = 0; kind < 2; kind++)
				for (vlan = 0; vlan < 2; vlan++) {
					struct pktgen g = xdpfix_client(inner, kind ? 17 : 6, 443);

					g.vlan = vlan ? 42 : 0;
					xdpfix_encap(&in, &want, &g, outer, kind ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP,
					      KEEL_BPF_GUE_DEFAULT_PORT, 0x9e3779b9u * (uint32_t)(inner + outer + kind));
					snprintf(name, sizeof(name), "decap %sin%s %s%s", fam[inner], fam[outer],
						 kind ? "GUE" : "IP", vlan ? " vlan" : "");
					xdpfix_decap_run(e, name, &in, XDP_PASS,
						  kind ? KEEL_DECAP_DECAP_GUE : KEEL_DECAP_DECAP_IPIP, &want);
				}
}

/* RFC 6040: CE on the outer header reaches the inner one; CE over Not-ECT is dropped. */
static void test_decap_ecn(struct xdpfix_decap *e)
{
	struct pktgen g = xdpfix_client(4, 6, 80);
	struct xdpfix_pkt in, want;
	uint8_t *ip;

	g.tos = 0x2a; /* DSCP 10, ECT(0) */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 7);
	ip = in.b + 14;
	ip[1] |= 0x03;
	xdpfix_ip4_csum(ip);
	want.b[14 + 1] |= 0x03;
	xdpfix_ip4_csum(want.b + 14);
	xdpfix_decap_run(e, "decap ecn: outer CE sets inner CE, inner checksum updated", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_IPIP, &want);

	g = xdpfix_client(6, 17, 53);
	g.tos = 0x29; /* ECT(1) */
	xdpfix_encap(&in, &want, &g, 6, KEEL_ENCAP_IPIP, 0, 7);
	in.b[14 + 1] |= 0x30; /* outer traffic class ECN = CE */
	want.b[14 + 1] |= 0x30;
	xdpfix_decap_run(e, "decap ecn: outer CE over IPv6 inner", &in, XDP_PASS, KEEL_DECAP_DECAP_IPIP, &want);

	g = xdpfix_client(4, 6, 80);
	g.tos = 0x28; /* Not-ECT */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 7);
	in.b[14 + 1] |= 0x03;
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(e, "decap ecn: outer CE over not-ECT dropped", &in, XDP_DROP, KEEL_DECAP_DROP_ECN, NULL);
}

/* Insert an 8-byte IPv6 extension header of type ext (PadN filled) after the outer IPv6 header. */
static void add_ip6_ext(struct xdpfix_pkt *f, uint8_t ext)
{
	uint8_t *ip6 = f->b + 14;
	uint8_t hdr[8] = { ip6[6], 0, 1, 4, 0, 0, 0, 0 }; /* next header, len 0, PadN(4) */

	memmove(ip6 + 48, ip6 + 40, f->len - 14 - 40);
	memcpy(ip6 + 40, hdr, 8);
	ip6[6] = ext;
	xdpfix_wr16(ip6 + 4, (uint16_t)(xdpfix_rd16(ip6 + 4) + 8));
	f->len += 8;
}

static void test_decap_malformed(struct xdpfix_decap *e)
{
	struct pktgen g4 = xdpfix_client(4, 6, 80), g6 = xdpfix_client(6, 6, 80);
	struct xdpfix_pkt in, want;
	uint8_t *ip;

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	xdpfix_decap_run(e, "decap drop: outer IPv4 truncated (total length > frame)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_TRUNCATED, NULL);

	xdpfix_encap(&in, &want, &g4, 6, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	xdpfix_decap_run(e, "decap drop: outer IPv6 truncated (payload length > frame)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_TRUNCATED, NULL);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.len = 14 + 20 + 8 + 2;
	xdpfix_wr16(in.b + 14 + 2, 20 + 8 + 2);
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(e, "decap drop: GUE header truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 10] ^= 0x5a;
	xdpfix_decap_run(e, "decap drop: outer IPv4 checksum wrong", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_CHECKSUM, NULL);

	/* Inner claims more than the outer carries: outer shortened consistently, inner not. */
	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	ip = in.b + 14;
	xdpfix_wr16(ip + 2, (uint16_t)(xdpfix_rd16(ip + 2) - 10));
	xdpfix_ip4_csum(ip);
	xdpfix_decap_run(e, "decap drop: inner IPv4 truncated", &in, XDP_DROP, KEEL_DECAP_DROP_INNER_TRUNCATED,
		  NULL);

	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.len = 14 + 40 + 8 + 4 + 30; /* 30 bytes of a 40-byte inner header */
	xdpfix_wr16(in.b + 14 + 4, 8 + 4 + 30);
	xdpfix_wr16(in.b + 14 + 40 + 4, 8 + 4 + 30);
	xdpfix_decap_run(e, "decap drop: inner IPv6 header truncated (GUE)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_TRUNCATED, NULL);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] = 0x40; /* version 1 */
	xdpfix_decap_run(e, "decap drop: GUE version 1", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_VERSION, NULL);

	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 40 + 8] = 0xc0; /* version 3 */
	xdpfix_decap_run(e, "decap drop: GUE version 3 over IPv6", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_VERSION,
		  NULL);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] = 0x20; /* control message */
	xdpfix_decap_run(e, "decap drop: GUE control bit", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8 + 1] = 17; /* inner protocol UDP */
	xdpfix_decap_run(e, "decap drop: GUE inner protocol not IP", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER,
		  NULL);

	g4.dst = OTHER_VIP4;
	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	xdpfix_decap_run(e, "decap drop: inner IPv4 destination not a VIP here", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_NOT_VIP, NULL);
	g4.dst = VIP4;

	g6.dst = OTHER_VIP6;
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	xdpfix_decap_run(e, "decap drop: inner IPv6 destination not a VIP here", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_NOT_VIP, NULL);
	g6.dst = VIP6;

	xdpfix_encap(&in, &want, &g6, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 9] = 4; /* says IPv4 inside, carries IPv6 */
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(e, "decap drop: inner version does not match the outer protocol", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_MALFORMED, NULL);

	xdpfix_encap(&in, &want, &g4, 6, KEEL_ENCAP_IPIP, 0, 1);
	add_ip6_ext(&in, 0);
	xdpfix_decap_run(e, "decap drop: hop-by-hop header before 4in6", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_EXTHDR, NULL);

	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	add_ip6_ext(&in, 60);
	xdpfix_decap_run(e, "decap drop: destination options before GUE", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_EXTHDR, NULL);
}

/* Frames that are not Keel's tunnels for this host leave exactly as they came. */
static void test_decap_pass(struct xdpfix_decap *e)
{
	struct pktgen g = xdpfix_client(4, 6, 80);
	struct xdpfix_pkt in, want;

	memset(&in, 0, sizeof(in));
	memcpy(in.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	in.len = 60; /* ARP, padded */
	xdpfix_decap_run(e, "decap pass: ARP", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_IP, NULL);

	g.dst = LOCAL4;
	xdpfix_build(&in, &g);
	xdpfix_decap_run(e, "decap pass: plain TCP to this host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_ENCAP,
		  NULL);

	g = xdpfix_client(6, 17, KEEL_BPF_GUE_DEFAULT_PORT + 1);
	g.dst = LOCAL6;
	xdpfix_build(&in, &g);
	xdpfix_decap_run(e, "decap pass: UDP to this host, not the GUE port", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	g = xdpfix_client(6, 17, 53);
	g.dst = LOCAL6;
	g.ip6_frag_hdr = true;
	g.more_frags = true;
	xdpfix_build(&in, &g);
	xdpfix_decap_run(e, "decap pass: IPv6 UDP fragment to this host", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	g = xdpfix_client(4, 6, 80);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 1);
	pktgen_addr(4, REMOTE4, in.b + 14 + 16);
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(e, "decap pass: IPIP to another host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_LOCAL, NULL);

	g = xdpfix_client(6, 6, 80);
	xdpfix_encap(&in, &want, &g, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	pktgen_addr(6, REMOTE6, in.b + 14 + 24);
	xdpfix_decap_run(e, "decap pass: GUE to another host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_LOCAL, NULL);

	g = xdpfix_client(4, 6, 80);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, GUE_PORT_ALT, 1);
	xdpfix_decap_run(e, "decap pass: GUE to a port not configured", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 6] = 0x20; /* MF, offset 0 */
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(e, "decap pass: fragmented IPIP left to the kernel", &in, XDP_PASS,
		  KEEL_DECAP_PASS_OUTER_FRAGMENT, NULL);
}

/* The GUE port is a load-time knob (rodata). */
static void test_decap_gue_port(void)
{
	struct xdpfix_decap e;
	struct pktgen g = xdpfix_client(6, 17, 53);
	struct xdpfix_pkt in, want;

	if (xdpfix_decap_open(&e, GUE_PORT_ALT)) {
		xdpfix_report(false, "decap with GUE port %d: load", GUE_PORT_ALT);
		return;
	}
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, GUE_PORT_ALT, 3);
	xdpfix_decap_run(&e, "decap GUE on a configured port", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 3);
	xdpfix_decap_run(&e, "decap pass: GUE to the default port when another is set", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);
	decap_bpf__destroy(e.skel);
}

/*
 * The unit tests' encap case table (tests/unit/lib/encap_cases.c) through
 * keel-decap: every row the packet core encapsulates decapsulates to the
 * outer Ethernet header (inner EtherType) and the client's IP packet as sent.
 * The rows' backends are made local addresses for the time of the test.
 */
static void decap_encap_cases(struct xdpfix_decap *e)
{
	int local = bpf_map__fd(e->skel->maps.keel_decap_local);
	static uint8_t mem[2048], input[2048];
	struct xdpfix_pkt in, want;
	size_t i, n = 0;

	if (xdpfix_addr_put(local, 4, "10.2.0.5") || xdpfix_addr_put(local, 6, "fd00:2::5")) {
		xdpfix_report(false, "decap encap cases: the rows' backends as local addresses");
		return;
	}
	for (i = 0; i < encap_cases_n; i++) {
		const struct pkt_case *c = &encap_cases[i];
		const struct encap_row *r = c->arg;
		struct keel_buf b;
		struct keel_pkt p;
		uint16_t eth_len;
		size_t len;
		char name[160];

		if (c->want != KEEL_DROP_NONE)
			continue; /* a refusal encapsulates nothing */
		memset(mem, 0, sizeof(mem));
		len = pkt_case_build(c, mem + 128, sizeof(mem) - 128);
		memcpy(input, mem + 128, len);
		b = (struct keel_buf){ .data = mem + 128, .len = (uint16_t)len, .headroom = 128,
				       .tailroom = (uint16_t)(sizeof(mem) - 128 - len) };
		memset(&p, 0, sizeof(p));
		assert_int_equal(encap_stage(c, &b, &p, NULL), KEEL_DROP_NONE);
		memcpy(in.b, b.data, b.len);
		in.len = b.len;
		eth_len = (p.flags & KEEL_PKT_VLAN) ? 18 : 14;
		memcpy(want.b, b.data, eth_len);
		want.b[eth_len - 2] = p.key.family == KEEL_AF_INET6 ? 0x86 : 0x08;
		want.b[eth_len - 1] = p.key.family == KEEL_AF_INET6 ? 0xdd : 0x00;
		memcpy(want.b + eth_len, input + p.l3_off, p.l3_len);
		want.len = (uint32_t)eth_len + p.l3_len;
		snprintf(name, sizeof(name), "decap encap case '%s'", c->what);
		xdpfix_decap_run(e, name, &in, XDP_PASS,
			  r->encap == KEEL_ENCAP_GUE ? KEEL_DECAP_DECAP_GUE : KEEL_DECAP_DECAP_IPIP, &want);
		n++;
	}
	xdpfix_report(n >= 10, "decap encap cases: %zu rows decapsulated", n);
	xdpfix_addr_del(local, 4, "10.2.0.5");
	xdpfix_addr_del(local, 6, "fd00:2::5");
}

XDPFIX_GROUP(t_decap_round_trip, test_decap_round_trip(&xdpfix_denv))
XDPFIX_GROUP(t_decap_encap_cases, decap_encap_cases(&xdpfix_denv))
XDPFIX_GROUP(t_decap_ecn, test_decap_ecn(&xdpfix_denv))
XDPFIX_GROUP(t_decap_malformed, test_decap_malformed(&xdpfix_denv))
XDPFIX_GROUP(t_decap_pass, test_decap_pass(&xdpfix_denv))
XDPFIX_GROUP(t_decap_gue_port, test_decap_gue_port())

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_decap_round_trip),
		cmocka_unit_test(t_decap_encap_cases),
		cmocka_unit_test(t_decap_ecn),
		cmocka_unit_test(t_decap_malformed),
		cmocka_unit_test(t_decap_pass),
		cmocka_unit_test(t_decap_gue_port),
	};

	return xdpfix_main(tests, sizeof(tests) / sizeof(tests[0]));
}
