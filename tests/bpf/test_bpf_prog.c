/* BPF_PROG_TEST_RUN fixtures for steer.bpf.c and decap.bpf.c: input frame, expected verdict, counter and output bytes; decap round trips every encapsulation the packet core makes (and every row of the unit tests' encap case table). On cmocka: one test per group, failing when any of its cases does. */
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
#include "parse.h"
#include "pktgen.h"
#include "second_chance.h"
#include "wire.h"
#include "steer.skel.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define FRAME_MAX 2048
#define HEADROOM 256
#define SKIP 77

static int failures, cases;
static uint32_t run_ifindex; /* nonzero: the test run's ingress interface (second chance) */

/* Addresses: clients in 192.0.2.0/24 and 2001:db8::/48, VIPs in 198.51.100.0/24 and 2001:db8:1::/48, this backend 203.0.113.5 / 2001:db8:b::5. */
#define CLIENT4 "192.0.2.1"
#define CLIENT6 "2001:db8::1"
#define VIP4 "198.51.100.10"
#define VIP6 "2001:db8:1::10"
#define OTHER_VIP4 "198.51.100.99"
#define OTHER_VIP6 "2001:db8:1::99"
#define LOCAL4 "203.0.113.5"
#define LOCAL6 "2001:db8:b::5"
#define REMOTE4 "203.0.113.77"
#define REMOTE6 "2001:db8:b::77"
#define GUE_PORT_ALT 7777

static const uint8_t backend_mac[6] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x05 };

struct pkt {
	uint8_t b[FRAME_MAX];
	uint32_t len;
};

static void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	cases++;
	printf("%s %d - ", ok ? "ok" : "not ok", cases);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

static void hexdump(const char *what, const uint8_t *b, uint32_t len)
{
	uint32_t i;

	printf("#   %s (%u bytes):", what, len);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 32 ? " " : "\n#     ", b[i]);
	printf("\n");
}

/* Sum of one per-CPU counter slot over all CPUs. */
static uint64_t counter_read(int map_fd, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	struct keel_bpf_counter *v;
	uint64_t sum = 0;
	int i;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (v && bpf_map_lookup_elem(map_fd, &idx, v) == 0)
		for (i = 0; i < ncpu; i++)
			sum += v[i].packets;
	free(v);
	return sum;
}

/*
 * Run prog over in; check the XDP action, that counter slot `counter` (and
 * no other of n_counters) went up by one, and the output frame against
 * want (NULL: output must equal the input).
 */
static void run_case(const char *name, int prog_fd, int cnt_fd, uint32_t n_counters,
		     const char *const *counter_names, const struct pkt *in, int want_action,
		     uint32_t counter, const struct pkt *want)
{
	uint8_t out[FRAME_MAX + HEADROOM];
	uint64_t before[32], after;
	const struct pkt *exp = want ? want : in;
	bool ok = true;
	uint32_t i;
	int err;
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = run_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in->b,
		.data_size_in = in->len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.ctx_in = run_ifindex ? &ctx : NULL,
		.ctx_size_in = run_ifindex ? sizeof(ctx) : 0,
		.repeat = 1);

	for (i = 0; i < n_counters && i < 32; i++)
		before[i] = counter_read(cnt_fd, i);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err) {
		report(false, "%s: test run failed: %s", name, strerror(errno));
		return;
	}
	if ((int)opts.retval != want_action) {
		printf("#   action %u, want %d\n", opts.retval, want_action);
		ok = false;
	}
	for (i = 0; i < n_counters && i < 32; i++) {
		after = counter_read(cnt_fd, i);
		if (after - before[i] != (i == counter ? 1u : 0u)) {
			printf("#   counter %s moved by %llu\n", counter_names[i],
			       (unsigned long long)(after - before[i]));
			ok = false;
		}
	}
	if (want_action != XDP_DROP &&
	    (opts.data_size_out != exp->len || memcmp(out, exp->b, exp->len) != 0)) {
		hexdump("got", out, opts.data_size_out);
		hexdump("want", exp->b, exp->len);
		ok = false;
	}
	report(ok, "%s", name);
}

/* --- frames --- */

static void build(struct pkt *f, const struct pktgen *g)
{
	f->len = (uint32_t)pktgen_build(f->b, sizeof(f->b), g);
	if (!f->len) {
		fprintf(stderr, "pktgen_build failed\n");
		exit(1);
	}
}

/*
 * A client frame built from g, encapsulated by the packet core towards this
 * backend (outer family, encap kind, GUE port). *inner gets Ethernet (as the
 * decap program leaves it: outer MACs and VLAN tag, the inner EtherType)
 * followed by the client's IP packet exactly as sent: the expected output.
 */
/* When set, encap() names this previous owner (of the outer family) as the packet core does (second_chance_mark). */
static const char *encap_prev;

static void encap(struct pkt *out, struct pkt *inner, const struct pktgen *g, int outer_family,
		  uint8_t kind, uint16_t gue_port, uint32_t entropy)
{
	static uint8_t mem[HEADROOM + FRAME_MAX];
	struct keel_snapshot s;
	struct keel_backend be;
	struct keel_buf b;
	struct keel_pkt p;
	uint16_t mtu = 0;
	size_t len;
	uint8_t ip[FRAME_MAX];
	uint16_t ip_len, eth_len;

	memset(mem, 0, sizeof(mem));
	len = pktgen_build(mem + HEADROOM, FRAME_MAX, g);
	memset(&p, 0, sizeof(p));
	if (!len || keel_parse(mem + HEADROOM, (uint32_t)len, &p) != KEEL_DROP_NONE) {
		fprintf(stderr, "client frame did not parse\n");
		exit(1);
	}
	ip_len = p.l3_len;
	memcpy(ip, mem + HEADROOM + p.l3_off, ip_len);
	b.data = mem + HEADROOM;
	b.len = (uint16_t)len;
	b.headroom = HEADROOM;
	b.tailroom = (uint16_t)(sizeof(mem) - HEADROOM - len);

	memset(&s, 0, sizeof(s));
	memcpy(s.src_mac, pktgen_lb_mac, 6);
	{
		uint8_t a[16];

		pktgen_addr(4, "198.51.100.128", a);
		memcpy(s.src4, a, 4);
	}
	s.src4_plen = 25;
	pktgen_addr(6, "2001:db8:a::", s.src6);
	s.src6_plen = 64;
	s.ttl = 32;
	s.gue_port = gue_port;
	s.mtu = 1500;
	memset(&be, 0, sizeof(be));
	be.family = (uint8_t)outer_family;
	pktgen_addr(outer_family, outer_family == 6 ? LOCAL6 : LOCAL4, be.addr);
	memcpy(be.mac, backend_mac, 6);
	be.state = KEEL_BACKEND_ACTIVE;
	keel_encap_tmpl_fill(&be.tmpl, &s, &be); /* as keel_snapshot_build does */
	if (encap_packet(&b, &p, &s, &be, kind, entropy, &mtu) != KEEL_DROP_NONE) {
		fprintf(stderr, "encap_packet failed\n");
		exit(1);
	}
	if (encap_prev) {
		struct keel_backend prev;

		memset(&prev, 0, sizeof(prev));
		prev.family = (uint8_t)outer_family;
		pktgen_addr(outer_family, encap_prev, prev.addr);
		if (!second_chance_mark(&b, &prev, s.mtu)) {
			fprintf(stderr, "second_chance_mark refused\n");
			exit(1);
		}
	}
	memcpy(out->b, b.data, b.len);
	out->len = b.len;

	eth_len = (p.flags & KEEL_PKT_VLAN) ? 18 : 14;
	memcpy(inner->b, b.data, eth_len);
	inner->b[eth_len - 2] = g->family == 6 ? 0x86 : 0x08;
	inner->b[eth_len - 1] = g->family == 6 ? 0xdd : 0x00;
	memcpy(inner->b + eth_len, ip, ip_len);
	inner->len = eth_len + ip_len;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recompute an IPv4 header checksum after a test edits the header. */
static void ip4_fix_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	wr16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
}

/* --- decap --- */

struct decap_env {
	struct decap_bpf *skel;
	int prog, cnt;
};

static const char *const decap_names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_DECAP_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};

static const char *const steer_names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_STEER_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};

static int addr_put(int map_fd, int family, const char *text)
{
	struct keel_bpf_addr_key k;
	uint32_t one = 1;

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, text, k.addr);
	return bpf_map_update_elem(map_fd, &k, &one, BPF_ANY);
}

static void addr_del(int map_fd, int family, const char *text)
{
	struct keel_bpf_addr_key k;

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, text, k.addr);
	bpf_map_delete_elem(map_fd, &k);
}

/* Returns 0, SKIP when the kernel refuses BPF to us, or -1. */
static int decap_open(struct decap_env *e, uint16_t gue_port)
{
	int local, vips;

	e->skel = decap_bpf__open();
	if (!e->skel)
		return -1;
	e->skel->rodata->gue_port = gue_port;
	if (decap_bpf__load(e->skel)) {
		int err = errno;

		decap_bpf__destroy(e->skel);
		e->skel = NULL;
		return err == EPERM || err == EACCES ? SKIP : -1;
	}
	e->prog = bpf_program__fd(e->skel->progs.keel_decap);
	e->cnt = bpf_map__fd(e->skel->maps.keel_decap_cnt);
	local = bpf_map__fd(e->skel->maps.keel_decap_local);
	vips = bpf_map__fd(e->skel->maps.keel_decap_vips);
	if (addr_put(local, 4, LOCAL4) || addr_put(local, 6, LOCAL6) || addr_put(vips, 4, VIP4) ||
	    addr_put(vips, 6, VIP6))
		return -1;
	return 0;
}

static void decap_run(struct decap_env *e, const char *name, const struct pkt *in, int action,
		      enum keel_decap_verdict v, const struct pkt *want)
{
	run_case(name, e->prog, e->cnt, KEEL_DECAP_MAX, decap_names, in, action, v, want);
}

static struct pktgen client(int family, uint8_t proto, uint16_t dport)
{
	struct pktgen g = {
		.family = family, .src = family == 6 ? CLIENT6 : CLIENT4,
		.dst = family == 6 ? VIP6 : VIP4, .proto = proto, .sport = 40000,
		.dport = dport, .payload_len = 200, .tos = 0x28, .ttl = 57, .df = true,
	};

	return g;
}

/* Every kind the core makes (4in4, 6in4, 4in6, 6in6, GUE over both) decapsulates to exactly the original. */
static void test_decap_round_trip(struct decap_env *e)
{
	static const char *const fam[] = { [4] = "4", [6] = "6" };
	int inner, outer, kind, vlan;
	struct pkt in, want;
	char name[128];

	for (inner = 4; inner <= 6; inner += 2)
		for (outer = 4; outer <= 6; outer += 2)
			for (kind = 0; kind < 2; kind++)
				for (vlan = 0; vlan < 2; vlan++) {
					struct pktgen g = client(inner, kind ? 17 : 6, 443);

					g.vlan = vlan ? 42 : 0;
					encap(&in, &want, &g, outer, kind ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP,
					      KEEL_BPF_GUE_DEFAULT_PORT, 0x9e3779b9u * (uint32_t)(inner + outer + kind));
					snprintf(name, sizeof(name), "decap %sin%s %s%s", fam[inner], fam[outer],
						 kind ? "GUE" : "IP", vlan ? " vlan" : "");
					decap_run(e, name, &in, XDP_PASS,
						  kind ? KEEL_DECAP_DECAP_GUE : KEEL_DECAP_DECAP_IPIP, &want);
				}
}

/* RFC 6040: CE on the outer header reaches the inner one; CE over Not-ECT is dropped. */
static void test_decap_ecn(struct decap_env *e)
{
	struct pktgen g = client(4, 6, 80);
	struct pkt in, want;
	uint8_t *ip;

	g.tos = 0x2a; /* DSCP 10, ECT(0) */
	encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 7);
	ip = in.b + 14;
	ip[1] |= 0x03;
	ip4_fix_csum(ip);
	want.b[14 + 1] |= 0x03;
	ip4_fix_csum(want.b + 14);
	decap_run(e, "decap ecn: outer CE sets inner CE, inner checksum updated", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_IPIP, &want);

	g = client(6, 17, 53);
	g.tos = 0x29; /* ECT(1) */
	encap(&in, &want, &g, 6, KEEL_ENCAP_IPIP, 0, 7);
	in.b[14 + 1] |= 0x30; /* outer traffic class ECN = CE */
	want.b[14 + 1] |= 0x30;
	decap_run(e, "decap ecn: outer CE over IPv6 inner", &in, XDP_PASS, KEEL_DECAP_DECAP_IPIP, &want);

	g = client(4, 6, 80);
	g.tos = 0x28; /* Not-ECT */
	encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 7);
	in.b[14 + 1] |= 0x03;
	ip4_fix_csum(in.b + 14);
	decap_run(e, "decap ecn: outer CE over not-ECT dropped", &in, XDP_DROP, KEEL_DECAP_DROP_ECN, NULL);
}

/* Insert an 8-byte IPv6 extension header of type ext (PadN filled) after the outer IPv6 header. */
static void add_ip6_ext(struct pkt *f, uint8_t ext)
{
	uint8_t *ip6 = f->b + 14;
	uint8_t hdr[8] = { ip6[6], 0, 1, 4, 0, 0, 0, 0 }; /* next header, len 0, PadN(4) */

	memmove(ip6 + 48, ip6 + 40, f->len - 14 - 40);
	memcpy(ip6 + 40, hdr, 8);
	ip6[6] = ext;
	wr16(ip6 + 4, (uint16_t)(rd16(ip6 + 4) + 8));
	f->len += 8;
}

static void test_decap_malformed(struct decap_env *e)
{
	struct pktgen g4 = client(4, 6, 80), g6 = client(6, 6, 80);
	struct pkt in, want;
	uint8_t *ip;

	encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	decap_run(e, "decap drop: outer IPv4 truncated (total length > frame)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_TRUNCATED, NULL);

	encap(&in, &want, &g4, 6, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	decap_run(e, "decap drop: outer IPv6 truncated (payload length > frame)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_TRUNCATED, NULL);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.len = 14 + 20 + 8 + 2;
	wr16(in.b + 14 + 2, 20 + 8 + 2);
	ip4_fix_csum(in.b + 14);
	decap_run(e, "decap drop: GUE header truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 10] ^= 0x5a;
	decap_run(e, "decap drop: outer IPv4 checksum wrong", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_CHECKSUM, NULL);

	/* Inner claims more than the outer carries: outer shortened consistently, inner not. */
	encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.len -= 10;
	ip = in.b + 14;
	wr16(ip + 2, (uint16_t)(rd16(ip + 2) - 10));
	ip4_fix_csum(ip);
	decap_run(e, "decap drop: inner IPv4 truncated", &in, XDP_DROP, KEEL_DECAP_DROP_INNER_TRUNCATED,
		  NULL);

	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.len = 14 + 40 + 8 + 4 + 30; /* 30 bytes of a 40-byte inner header */
	wr16(in.b + 14 + 4, 8 + 4 + 30);
	wr16(in.b + 14 + 40 + 4, 8 + 4 + 30);
	decap_run(e, "decap drop: inner IPv6 header truncated (GUE)", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_TRUNCATED, NULL);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] = 0x40; /* version 1 */
	decap_run(e, "decap drop: GUE version 1", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_VERSION, NULL);

	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 40 + 8] = 0xc0; /* version 3 */
	decap_run(e, "decap drop: GUE version 3 over IPv6", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_VERSION,
		  NULL);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] = 0x20; /* control message */
	decap_run(e, "decap drop: GUE control bit", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8 + 1] = 17; /* inner protocol UDP */
	decap_run(e, "decap drop: GUE inner protocol not IP", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER,
		  NULL);

	g4.dst = OTHER_VIP4;
	encap(&in, &want, &g4, 4, KEEL_ENCAP_IPIP, 0, 1);
	decap_run(e, "decap drop: inner IPv4 destination not a VIP here", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_NOT_VIP, NULL);
	g4.dst = VIP4;

	g6.dst = OTHER_VIP6;
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	decap_run(e, "decap drop: inner IPv6 destination not a VIP here", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_NOT_VIP, NULL);
	g6.dst = VIP6;

	encap(&in, &want, &g6, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 9] = 4; /* says IPv4 inside, carries IPv6 */
	ip4_fix_csum(in.b + 14);
	decap_run(e, "decap drop: inner version does not match the outer protocol", &in, XDP_DROP,
		  KEEL_DECAP_DROP_INNER_MALFORMED, NULL);

	encap(&in, &want, &g4, 6, KEEL_ENCAP_IPIP, 0, 1);
	add_ip6_ext(&in, 0);
	decap_run(e, "decap drop: hop-by-hop header before 4in6", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_EXTHDR, NULL);

	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	add_ip6_ext(&in, 60);
	decap_run(e, "decap drop: destination options before GUE", &in, XDP_DROP,
		  KEEL_DECAP_DROP_OUTER_EXTHDR, NULL);
}

/* Frames that are not Keel's tunnels for this host leave exactly as they came. */
static void test_decap_pass(struct decap_env *e)
{
	struct pktgen g = client(4, 6, 80);
	struct pkt in, want;

	memset(&in, 0, sizeof(in));
	memcpy(in.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	in.len = 60; /* ARP, padded */
	decap_run(e, "decap pass: ARP", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_IP, NULL);

	g.dst = LOCAL4;
	build(&in, &g);
	decap_run(e, "decap pass: plain TCP to this host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_ENCAP,
		  NULL);

	g = client(6, 17, KEEL_BPF_GUE_DEFAULT_PORT + 1);
	g.dst = LOCAL6;
	build(&in, &g);
	decap_run(e, "decap pass: UDP to this host, not the GUE port", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	g = client(6, 17, 53);
	g.dst = LOCAL6;
	g.ip6_frag_hdr = true;
	g.more_frags = true;
	build(&in, &g);
	decap_run(e, "decap pass: IPv6 UDP fragment to this host", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	g = client(4, 6, 80);
	encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 1);
	pktgen_addr(4, REMOTE4, in.b + 14 + 16);
	ip4_fix_csum(in.b + 14);
	decap_run(e, "decap pass: IPIP to another host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_LOCAL, NULL);

	g = client(6, 6, 80);
	encap(&in, &want, &g, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	pktgen_addr(6, REMOTE6, in.b + 14 + 24);
	decap_run(e, "decap pass: GUE to another host", &in, XDP_PASS, KEEL_DECAP_PASS_NOT_LOCAL, NULL);

	g = client(4, 6, 80);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, GUE_PORT_ALT, 1);
	decap_run(e, "decap pass: GUE to a port not configured", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);

	encap(&in, &want, &g, 4, KEEL_ENCAP_IPIP, 0, 1);
	in.b[14 + 6] = 0x20; /* MF, offset 0 */
	ip4_fix_csum(in.b + 14);
	decap_run(e, "decap pass: fragmented IPIP left to the kernel", &in, XDP_PASS,
		  KEEL_DECAP_PASS_OUTER_FRAGMENT, NULL);
}

/* The GUE port is a load-time knob (rodata). */
static void test_decap_gue_port(void)
{
	struct decap_env e;
	struct pktgen g = client(6, 17, 53);
	struct pkt in, want;

	if (decap_open(&e, GUE_PORT_ALT)) {
		report(false, "decap with GUE port %d: load", GUE_PORT_ALT);
		return;
	}
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, GUE_PORT_ALT, 3);
	decap_run(&e, "decap GUE on a configured port", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 3);
	decap_run(&e, "decap pass: GUE to the default port when another is set", &in, XDP_PASS,
		  KEEL_DECAP_PASS_NOT_ENCAP, NULL);
	decap_bpf__destroy(e.skel);
}

/* --- steer --- */

struct steer_env {
	struct steer_bpf *skel;
	int prog, cnt, xsks;
};

static int steer_vip_put(int fd, int family, const char *addr, uint8_t proto, uint16_t port)
{
	struct keel_bpf_vip_key k;
	struct keel_bpf_vip_val v = { 0 };

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, addr, k.addr);
	k.proto = proto;
	k.port = (uint16_t)htons(port);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

static int steer_addr_put(int fd, int family, const char *addr, uint32_t flags)
{
	struct keel_bpf_addr_key k;
	struct keel_bpf_addr_val v = { .flags = flags };

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, addr, k.addr);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY);
}

static int steer_open(struct steer_env *e)
{
	int vips, addrs;

	e->skel = steer_bpf__open();
	if (!e->skel)
		return -1;
	/* The real maps are pinned by name for keel-control; the test's stay private. */
	bpf_map__set_pin_path(e->skel->maps.keel_steer_vips, NULL);
	bpf_map__set_pin_path(e->skel->maps.keel_steer_addrs, NULL);
	bpf_map__set_pin_path(e->skel->maps.keel_steer_cnt, NULL);
	if (steer_bpf__load(e->skel))
		return -1;
	e->prog = bpf_program__fd(e->skel->progs.keel_steer);
	e->cnt = bpf_map__fd(e->skel->maps.keel_steer_cnt);
	e->xsks = bpf_map__fd(e->skel->maps.xsks_map);
	vips = bpf_map__fd(e->skel->maps.keel_steer_vips);
	addrs = bpf_map__fd(e->skel->maps.keel_steer_addrs);
	if (steer_vip_put(vips, 4, VIP4, 6, 80) || steer_vip_put(vips, 4, VIP4, 17, 0) ||
	    steer_vip_put(vips, 6, VIP6, 6, 443) ||
	    steer_addr_put(addrs, 4, VIP4, KEEL_BPF_ADDR_FRAG_UDP) || steer_addr_put(addrs, 6, VIP6, 0))
		return -1;
	return 0;
}

/*
 * An AF_XDP socket bound (copy mode) to queue 0 of lo, only so xsks_map has
 * an entry and bpf_redirect_map() returns XDP_REDIRECT under test run: no
 * program is attached to lo, so no traffic ever reaches it.
 */
static int xsk_open_lo(void **umem, size_t umem_len)
{
	struct xdp_umem_reg reg;
	struct sockaddr_xdp sx;
	int fd, n = 64;

	*umem = mmap(NULL, umem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*umem == MAP_FAILED)
		return -1;
	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		return -1;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)*umem;
	reg.len = umem_len;
	reg.chunk_size = 4096;
	memset(&sx, 0, sizeof(sx));
	sx.sxdp_family = AF_XDP;
	sx.sxdp_ifindex = if_nametoindex("lo");
	sx.sxdp_queue_id = 0;
	sx.sxdp_flags = XDP_COPY;
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &n, sizeof(n)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &n, sizeof(n)) ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &n, sizeof(n)) ||
	    bind(fd, (struct sockaddr *)&sx, sizeof(sx))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void steer_run(struct steer_env *e, const char *what, const struct pktgen *g, int redirect,
		      enum keel_steer_verdict v, int have_xsk)
{
	struct pkt in;
	char name[160];

	snprintf(name, sizeof(name), "%s (%s)", what, have_xsk ? "socket on queue 0" : "no socket");
	build(&in, g);
	/* Without a socket on the queue a steered packet falls back to XDP_PASS and counts as pass_no_xsk. */
	if (redirect && !have_xsk)
		v = KEEL_STEER_PASS_NO_XSK;
	run_case(name, e->prog, e->cnt, KEEL_STEER_MAX, steer_names, &in,
		 redirect && have_xsk ? XDP_REDIRECT : XDP_PASS, v, NULL);
}

static void steer_cases(struct steer_env *e, int x)
{
	struct pktgen g = client(4, 6, 80);

	steer_run(e, "steer: TCP to VIP:80", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g.vlan = 7;
	steer_run(e, "steer: TCP to VIP:80 in VLAN 7", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g = client(4, 6, 22);
	steer_run(e, "steer pass: TCP to VIP address, port 22 (not a VIP)", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
	g = client(4, 17, 5353);
	steer_run(e, "steer: UDP to an all-ports VIP", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g = client(4, 6, 80);
	g.dst = OTHER_VIP4;
	steer_run(e, "steer pass: TCP to another address", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);
	g = client(6, 6, 443);
	g.ip6_hbh_len = 1;
	steer_run(e, "steer: TCP to VIP6:443 behind a hop-by-hop header", &g, 1,
		  KEEL_STEER_REDIRECT_VIP, x);
	g = client(6, 17, 443);
	steer_run(e, "steer pass: UDP to VIP6:443 (TCP only)", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);

	g = client(4, 1, 0);
	g.icmp_type = 8;
	steer_run(e, "steer: ICMP echo request to a VIP address", &g, 1, KEEL_STEER_REDIRECT_ICMP, x);
	g.icmp_type = 3;
	g.icmp_code = 4;
	steer_run(e, "steer: ICMP fragmentation needed to a VIP address", &g, 1,
		  KEEL_STEER_REDIRECT_ICMP, x);
	g.icmp_type = 0;
	g.icmp_code = 0;
	steer_run(e, "steer pass: ICMP echo reply", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);
	g = client(6, 58, 0);
	g.icmp_type = 128;
	steer_run(e, "steer: ICMPv6 echo request to a VIP address", &g, 1, KEEL_STEER_REDIRECT_ICMP, x);
	g.icmp_type = 2;
	steer_run(e, "steer: ICMPv6 packet too big to a VIP address", &g, 1, KEEL_STEER_REDIRECT_ICMP,
		  x);
	g.icmp_type = 135;
	steer_run(e, "steer pass: ICMPv6 neighbour solicitation", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);
	g.dst = OTHER_VIP6;
	g.icmp_type = 128;
	steer_run(e, "steer pass: ICMPv6 echo to another address", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);

	g = client(4, 17, 5353);
	g.frag_offset = 100;
	steer_run(e, "steer: later UDP fragment to a VIP that takes fragments", &g, 1,
		  KEEL_STEER_REDIRECT_FRAGMENT, x);
	g = client(4, 6, 80);
	g.more_frags = true;
	steer_run(e, "steer pass: TCP fragment to a VIP without fragments", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
	g = client(6, 6, 443);
	g.ip6_frag_hdr = true;
	g.frag_offset = 10;
	steer_run(e, "steer pass: IPv6 TCP fragment to a VIP without fragments", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
}

static void test_steer(void)
{
	struct steer_env e;
	struct pkt in;
	void *umem = NULL;
	size_t umem_len = 64 * 4096;
	uint32_t q0 = 0;
	int xsk;

	if (steer_open(&e)) {
		report(false, "steer: load");
		return;
	}
	memset(&in, 0, sizeof(in));
	memcpy(in.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	in.len = 60;
	run_case("steer pass: ARP", e.prog, e.cnt, KEEL_STEER_MAX, steer_names, &in, XDP_PASS,
		 KEEL_STEER_PASS_NOT_IP, NULL);
	in.b[12] = 0x08;
	in.b[13] = 0x00;
	in.len = 24;
	run_case("steer pass: truncated IPv4 header", e.prog, e.cnt, KEEL_STEER_MAX, steer_names, &in,
		 XDP_PASS, KEEL_STEER_PASS_MALFORMED, NULL);

	/* No AF_XDP socket yet: Keel not running on this queue. */
	steer_cases(&e, 0);

	xsk = xsk_open_lo(&umem, umem_len);
	if (xsk < 0 || bpf_map_update_elem(e.xsks, &q0, &xsk, BPF_ANY)) {
		printf("# SKIP steer with a socket: no AF_XDP socket on lo (%s); verdicts checked through pass_no_xsk\n",
		       strerror(errno));
	} else {
		steer_cases(&e, 1);
	}
	if (xsk >= 0)
		close(xsk);
	if (umem && umem != MAP_FAILED)
		munmap(umem, umem_len);
	steer_bpf__destroy(e.skel);
}

/* --- second chance (docs/second-chance.md) --- */

#define SC_IFACE "kt11sc0"
#define REMOTE4_NO_NEIGH "203.0.113.78"
#define REMOTE6_NO_NEIGH "2001:db8:b::78"
#define SC_OWN_MAC "02:cc:00:00:00:05"
#define SC_PEER_MAC "02:cc:00:00:00:77"

static const uint8_t sc_own_mac[6] = { 0x02, 0xcc, 0, 0, 0, 0x05 };
static const uint8_t sc_peer_mac[6] = { 0x02, 0xcc, 0, 0, 0, 0x77 };

/* Whether frame f (untagged) has an IPv6 outer header. */
static bool outer6(const struct pkt *f)
{
	return rd16(f->b + 12) == 0x86dd;
}

/*
 * The UDP checksum of a GUE-over-IPv6 frame (untagged, no extension
 * headers), summed from scratch over the pseudo-header and the whole
 * datagram: the independent reference for keel-decap's incremental update.
 */
static void udp6_fix_csum(struct pkt *f)
{
	static uint8_t tmp[40 + FRAME_MAX];
	uint8_t *ip = f->b + 14, *udp = ip + 40;
	uint16_t ulen = rd16(udp + 4), c;

	memcpy(tmp, ip + 8, 32);
	tmp[32] = tmp[33] = 0;
	wr16(tmp + 34, ulen);
	tmp[36] = tmp[37] = tmp[38] = 0;
	tmp[39] = 17;
	udp[6] = udp[7] = 0;
	memcpy(tmp + 40, udp, ulen);
	c = pktgen_csum(tmp, 40u + ulen);
	wr16(udp + 6, c ? c : 0xffff);
}

/*
 * Insert Keel's GUE private data (previous owner prev of family, flags
 * pflags) into a GUE frame made by encap(), over IPv4 or IPv6: Hlen, the
 * flag, UDP and IP lengths, the IPv4 header checksum or the UDP checksum
 * (IPv6; IPv4's stays 0).
 */
static void gue_add_prev(struct pkt *f, int family, const char *prev, uint8_t pflags)
{
	const bool o6 = outer6(f);
	const uint32_t l3 = 14, gue = l3 + (o6 ? 40 : 20) + 8;
	uint32_t words = family == 6 ? KEEL_GUE_PRIV_PREV6_WORDS : KEEL_GUE_PRIV_PREV4_WORDS;
	uint32_t add = words * 4;
	struct keel_gue_priv *p; /* the layout, dataplane/core/wire.h */
	uint8_t a[16];

	memmove(f->b + gue + KEEL_GUE_HLEN + add, f->b + gue + KEEL_GUE_HLEN, f->len - gue - KEEL_GUE_HLEN);
	f->len += add;
	f->b[gue] = (uint8_t)((f->b[gue] & 0xe0) | words);
	wr16(f->b + gue + 2, KEEL_GUE_FLAG_PRIV);
	p = (struct keel_gue_priv *)(f->b + gue + KEEL_GUE_HLEN);
	memset(p, 0, add);
	p->type = family == 6 ? KEEL_GUE_PRIV_PREV6 : KEEL_GUE_PRIV_PREV4;
	p->flags = pflags;
	pktgen_addr(family, prev, a);
	memcpy(p->addr, a, family == 6 ? 16 : 4);
	if (o6) {
		wr16(f->b + l3 + 4, (uint16_t)(rd16(f->b + l3 + 4) + add));
		wr16(f->b + l3 + 40 + 4, (uint16_t)(rd16(f->b + l3 + 40 + 4) + add));
		udp6_fix_csum(f);
		return;
	}
	wr16(f->b + l3 + 2, (uint16_t)(rd16(f->b + l3 + 2) + add));
	ip4_fix_csum(f->b + l3);
	wr16(f->b + l3 + 20 + 4, (uint16_t)(rd16(f->b + l3 + 20 + 4) + add));
}

static void put6(uint8_t *p, const char *text)
{
	pktgen_addr(6, text, p);
}

static void put4(uint8_t *p, const char *text)
{
	uint8_t a[16];

	pktgen_addr(4, text, a);
	memcpy(p, a, 4);
}

/* A namespace with a veth towards the peer (neighbour entry, forwarding on: bpf_fib_lookup wants it). */
static int sc_netns(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("ip link set lo up && ip addr add " VIP4 "/32 dev lo && ip addr add " CLIENT4 "/32 dev lo && "
		      "ip link add " SC_IFACE " address " SC_OWN_MAC " type veth peer name kt11sc1 && "
		      "ip link set kt11sc1 up && "
		      "ip link set " SC_IFACE " up && ip addr add " LOCAL4 "/24 dev " SC_IFACE " && "
		      "ip neigh replace " REMOTE4 " lladdr " SC_PEER_MAC " dev " SC_IFACE " nud permanent && "
		      "ip addr add " LOCAL6 "/64 dev " SC_IFACE " nodad && "
		      "ip neigh replace " REMOTE6 " lladdr " SC_PEER_MAC " dev " SC_IFACE " nud permanent && "
		      "sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf." SC_IFACE ".forwarding=1 "
		      "net.ipv6.conf.all.forwarding=1 net.ipv6.conf." SC_IFACE ".forwarding=1") ? -1 : 0;
}

/* An established TCP connection from CLIENT4 to VIP4 (both on lo); *cport and *sport its ports (host order). */
static int sc_connection(uint16_t *cport, uint16_t *sport, int fds[3])
{
	struct sockaddr_in a = { .sin_family = AF_INET }, c = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);

	inet_pton(AF_INET, VIP4, &a.sin_addr);
	inet_pton(AF_INET, CLIENT4, &c.sin_addr);

	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&a, sizeof(a)) || listen(fds[0], 4) ||
	    getsockname(fds[0], (struct sockaddr *)&a, &l))
		return -1;
	*sport = ntohs(a.sin_port);
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[1] < 0 || bind(fds[1], (struct sockaddr *)&c, sizeof(c)) || connect(fds[1], (struct sockaddr *)&a, sizeof(a)))
		return -1;
	fds[2] = accept(fds[0], NULL, NULL);
	l = sizeof(a);
	if (fds[2] < 0 || getsockname(fds[1], (struct sockaddr *)&a, &l))
		return -1;
	*cport = ntohs(a.sin_port);
	return 0;
}

/*
 * The IPv6 form: an IPv6 outer header naming an IPv6 previous owner (20
 * bytes, Hlen 5), for an IPv4 client (4in6 over GUE) and an IPv6 one.
 * cport/sport: the established connection's ports (CLIENT4 -> VIP4).
 */
static void sc_cases6(struct decap_env *e, uint16_t cport, uint16_t sport, uint32_t ifindex)
{
	struct pktgen g4 = client(4, 6, 80), g6 = client(6, 6, 80), gl;
	struct pkt in, want, tx;
	const uint32_t ip = 14, udp = ip + 40, gue = udp + 8, priv = gue + 4;

	/* A socket here: ours. */
	gl = g4;
	gl.sport = cport;
	gl.dport = sport;
	encap(&in, &want, &gl, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	decap_run(e, "second chance, IPv6: established socket found, decapsulated here", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOCAL, &want);

	/* A SYN: never handed on. */
	gl = g6;
	gl.tcp_flags = 0x02;
	encap(&in, &want, &gl, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	decap_run(e, "second chance, IPv6: SYN decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* No socket, forged previous owner: decapsulated. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, "2001:db8:b::66", 0);
	decap_run(e, "second chance, IPv6: forged previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* Already handed on once. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, KEEL_GUE_PRIV_REDIRECTED);
	decap_run(e, "second chance, IPv6: already redirected once, not again", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* Arriving on loopback: no route to the peer by the ingress port. */
	run_ifindex = 0;
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	decap_run(e, "second chance, IPv6: no route to the peer by the ingress port", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);
	run_ifindex = ifindex;

	/* Routed by the ingress port: re-encapsulated to the peer, exact bytes, for both inner families. */
	for (int fam = 4; fam <= 6; fam += 2) {
		char name[128];

		encap(&in, &want, fam == 6 ? &g6 : &g4, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		gue_add_prev(&in, 6, REMOTE6, 0);
		tx = in;
		memcpy(tx.b, sc_peer_mac, 6);
		memcpy(tx.b + 6, sc_own_mac, 6);
		put6(tx.b + ip + 24, REMOTE6); /* outer destination: the previous owner */
		tx.b[ip + 7]--;                 /* hop limit */
		tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
		udp6_fix_csum(&tx);             /* summed from scratch: the program updates it incrementally */
		snprintf(name, sizeof(name),
			 "second chance, IPv6 (IPv%d client): no socket, peer: re-encapsulated to the previous owner (XDP_TX)",
			 fam);
		decap_run(e, name, &in, XDP_TX, KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	}
	/* What it sent, arriving at the peer without a socket either: not handed on a second time. */
	put6(tx.b + ip + 24, LOCAL6);
	udp6_fix_csum(&tx);
	memcpy(want.b, tx.b, 12);
	decap_run(e, "second chance, IPv6: the handed-on packet is never handed on again", &tx, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* A checksum that adds up to 0xffff either way: the update must not leave a 0 (RFC 768). */
	{
		int found = 0;

		for (uint32_t ent = 1; ent < 200000 && !found; ent++) {
			encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, ent);
			gue_add_prev(&in, 6, REMOTE6, 0);
			tx = in;
			memcpy(tx.b, sc_peer_mac, 6);
			memcpy(tx.b + 6, sc_own_mac, 6);
			put6(tx.b + ip + 24, REMOTE6);
			tx.b[ip + 7]--;
			tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
			udp6_fix_csum(&tx);
			found = rd16(tx.b + udp + 6) == 0xffff;
		}
		if (found)
			decap_run(e, "second chance, IPv6: a handed-on checksum of 0 is sent as 0xffff", &in, XDP_TX,
				  KEEL_DECAP_TX_SECOND_CHANCE, &tx);
		else
			printf("# no frame with a handed-on checksum of 0xffff found in 200000 entropies\n");
	}

	/* No neighbour entry for the peer: rewritten the same way, passed to the kernel to forward. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6_NO_NEIGH, 0);
	tx = in;
	put6(tx.b + ip + 24, REMOTE6_NO_NEIGH);
	tx.b[ip + 7]--;
	tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	udp6_fix_csum(&tx);
	decap_run(e, "second chance, IPv6: peer without a neighbour entry: rewritten, passed to the kernel", &in,
		  XDP_PASS, KEEL_DECAP_FWD_SECOND_CHANCE, &tx);

	/* Hop limit 1: it would not get there; kept. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[ip + 7] = 1;
	decap_run(e, "second chance, IPv6: hop limit 1, not handed on", &in, XDP_PASS, KEEL_DECAP_DECAP_SC_NO_ROUTE,
		  &want);

	/* A zero UDP checksum (not Keel's form: RFC 6935 mode): cannot be updated, not handed on. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[udp + 6] = in.b[udp + 7] = 0;
	decap_run(e, "second chance, IPv6: zero UDP checksum, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* Families that do not match: an IPv4 previous owner over IPv6, an IPv6 one over IPv4. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	decap_run(e, "second chance: IPv4 previous owner over an IPv6 outer header, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);
	encap(&in, &want, &g6, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	decap_run(e, "second chance: IPv6 previous owner over an IPv4 outer header, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* Malformed IPv6 form: type 1 with Hlen 5, and cut inside the 16-byte address. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[priv] = KEEL_GUE_PRIV_PREV4;
	decap_run(e, "second chance, IPv6: Hlen 5 with the IPv4 type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.len = priv + 12;
	wr16(in.b + ip + 4, (uint16_t)(in.len - ip - 40));
	wr16(in.b + udp + 4, (uint16_t)(in.len - udp));
	decap_run(e, "second chance, IPv6: private data truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);
	run_ifindex = 0;
}

/*
 * Cut the client's packet inside in (a GUE frame from encap()) and want (its
 * decapsulated form) to inner_len bytes as its own header states, leaving
 * in's bytes after it (the outer lengths unchanged): what follows is no
 * longer the inner packet, and want ends where the header now says.
 */
static void sc_cut_inner(struct pkt *in, struct pkt *want, uint32_t inner_len)
{
	uint32_t eth = 14, at = in->len - (want->len - eth);
	uint8_t *ip_in = in->b + at, *ip_want = want->b + eth;

	if ((ip_in[0] >> 4) == 4) {
		wr16(ip_in + 2, (uint16_t)inner_len);
		ip4_fix_csum(ip_in);
	} else {
		wr16(ip_in + 4, (uint16_t)(inner_len - 40));
	}
	memcpy(ip_want, ip_in, 40);
	want->len = eth + inner_len;
}

/*
 * Issue 20 item 12: second chance decides from the inner TCP header only
 * when that header lies whole within the inner packet. A packet cut inside
 * it (or whose data offset runs past its end), bytes following in the GUE
 * payload, is decapsulated as usual, never handed on. Run on the veth, where
 * the whole packet would be handed on (XDP_TX).
 */
static void sc_cases_cut(struct decap_env *e, uint32_t ifindex)
{
	struct pktgen g4 = client(4, 6, 80), g6 = client(6, 6, 80);
	struct pkt in, want;
	uint32_t at;

	run_ifindex = ifindex;
	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	sc_cut_inner(&in, &want, 20 + 10);
	decap_run(e, "second chance: IPv4 inner packet cut inside its TCP header, bytes after it: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	at = in.len - (want.len - 14); /* where the inner packet starts, before the cut */
	sc_cut_inner(&in, &want, 20 + 20);
	in.b[at + 20 + 12] = 0x60; /* data offset 24 bytes in a 20-byte segment */
	want.b[14 + 20 + 12] = 0x60;
	decap_run(e, "second chance: IPv4 inner TCP data offset past the packet's end: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	sc_cut_inner(&in, &want, 40 + 19);
	decap_run(e, "second chance, IPv6: inner packet cut inside its TCP header, bytes after it: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* The same frame whole: handed on, so the cut above is what made the difference. */
	encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	{
		struct pkt tx = in;
		const uint32_t ip = 14, priv = ip + 40 + 8 + 4;

		memcpy(tx.b, sc_peer_mac, 6);
		memcpy(tx.b + 6, sc_own_mac, 6);
		put6(tx.b + ip + 24, REMOTE6);
		tx.b[ip + 7]--;
		tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
		udp6_fix_csum(&tx);
		decap_run(e, "second chance, IPv6: the same packet whole is handed on", &in, XDP_TX,
			  KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	}
	run_ifindex = 0;
}

static void test_second_chance(void)
{
	struct pktgen g = client(4, 6, 80), gl;
	struct pkt in, want, tx;
	struct decap_env e;
	uint16_t cport = 0, sport = 0;
	int peers, fds[3] = { -1, -1, -1 };
	uint32_t ifindex;

	if (sc_netns()) {
		printf("# SKIP second chance: no network namespace with a veth pair here\n");
		return;
	}
	ifindex = if_nametoindex(SC_IFACE);
	if (decap_open(&e, KEEL_BPF_GUE_DEFAULT_PORT)) {
		report(false, "second chance: decap.bpf.o did not load");
		return;
	}
	peers = bpf_map__fd(e.skel->maps.keel_decap_peers);
	if (addr_put(peers, 4, REMOTE4) || addr_put(peers, 4, REMOTE4_NO_NEIGH) || addr_put(peers, 6, REMOTE6) ||
	    addr_put(peers, 6, REMOTE6_NO_NEIGH) || sc_connection(&cport, &sport, fds)) {
		report(false, "second chance: set-up failed: %s", strerror(errno));
		goto out;
	}

	/* No previous owner carried: plain decapsulation, whatever the sockets. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	decap_run(&e, "second chance: no previous owner, plain GUE", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* A SYN opens a connection here: never handed on. */
	g.tcp_flags = 0x02;
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	decap_run(&e, "second chance: SYN decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	g.tcp_flags = 0;

	/* Not TCP: nothing to look up. */
	{
		struct pktgen gu = client(4, 17, 53);

		encap(&in, &want, &gu, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		gue_add_prev(&in, 4, REMOTE4, 0);
		decap_run(&e, "second chance: UDP decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	}

	/* A local socket: the connection is ours. */
	gl = g;
	gl.sport = cport;
	gl.dport = sport;
	encap(&in, &want, &gl, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	decap_run(&e, "second chance: established socket found, decapsulated here", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOCAL, &want);

	/* Only the listener, and the ACK is no SYN cookie: not ours, handed on (the peer is known). */
	gl.sport = (uint16_t)(cport ^ 0x4000);
	encap(&in, &want, &gl, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, "203.0.113.66", 0);
	decap_run(&e, "second chance: listener only, not a cookie, previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* No socket, previous owner forged (not in the peers map): decapsulated, the kernel answers. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, "203.0.113.66", 0);
	decap_run(&e, "second chance: forged previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* No socket, already handed on once: never again. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, KEEL_GUE_PRIV_REDIRECTED);
	decap_run(&e, "second chance: already redirected once, not again", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* No socket, a peer, but arriving on loopback (no route to the peer by that port): kept. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	decap_run(&e, "second chance: no route to the peer by the ingress port", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* No socket, a peer, routed by the ingress port: re-encapsulated to it and sent back out. */
	tx = in;
	memcpy(tx.b, sc_peer_mac, 6);
	memcpy(tx.b + 6, sc_own_mac, 6);
	put4(tx.b + 14 + 16, REMOTE4);                /* outer destination: the previous owner */
	tx.b[14 + 8]--;                               /* TTL */
	ip4_fix_csum(tx.b + 14);
	tx.b[14 + 20 + 6] = tx.b[14 + 20 + 7] = 0;    /* UDP checksum */
	tx.b[14 + 20 + 8 + 4 + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	run_ifindex = ifindex;
	decap_run(&e, "second chance: no socket, peer: re-encapsulated to the previous owner (XDP_TX)", &in,
		  XDP_TX, KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	/* What it sent, arriving at the peer without a socket either: not handed on a second time. */
	put4(tx.b + 14 + 16, LOCAL4);
	ip4_fix_csum(tx.b + 14);
	memcpy(want.b, tx.b, 12); /* decapsulation keeps the frame's MACs */
	decap_run(&e, "second chance: the handed-on packet is never handed on again", &tx, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* A peer the kernel has no neighbour entry for: rewritten, and left to the kernel to forward. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4_NO_NEIGH, 0);
	tx = in;
	put4(tx.b + 14 + 16, REMOTE4_NO_NEIGH);
	tx.b[14 + 8]--;
	ip4_fix_csum(tx.b + 14);
	tx.b[14 + 20 + 6] = tx.b[14 + 20 + 7] = 0;
	tx.b[14 + 20 + 8 + 4 + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	decap_run(&e, "second chance: peer without a neighbour entry: rewritten, passed to the kernel to forward",
		  &in, XDP_PASS, KEEL_DECAP_FWD_SECOND_CHANCE, &tx);
	run_ifindex = 0;

	sc_cases6(&e, cport, sport, ifindex);
	sc_cases_cut(&e, ifindex);

	/* The packet core writes the very bytes these fixtures are made of (IPv4 and IPv6 forms). */
	for (int fam = 4; fam <= 6; fam += 2) {
		struct pkt core;
		char name[96];

		encap(&in, &want, &g, fam, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		gue_add_prev(&in, fam, fam == 6 ? REMOTE6 : REMOTE4, 0);
		encap_prev = fam == 6 ? REMOTE6 : REMOTE4;
		encap(&core, &want, &g, fam, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		encap_prev = NULL;
		snprintf(name, sizeof(name), "second chance: the packet core's IPv%d previous-owner field, byte for byte", fam);
		if (core.len != in.len || memcmp(core.b, in.b, in.len)) {
			hexdump("core", core.b, core.len);
			hexdump("fixture", in.b, in.len);
			report(false, "%s", name);
		} else {
			report(true, "%s", name);
		}
	}

	/* Malformed private data: dropped as a bad GUE header. */
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 4] = 9; /* unknown type */
	ip4_fix_csum(in.b + 14);
	decap_run(&e, "second chance: unknown private data type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 4 + 1] = 0x80; /* unknown private flag */
	decap_run(&e, "second chance: unknown private flag", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 3] = 0x02; /* another GUE flag */
	decap_run(&e, "second chance: other GUE flags", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8] = (uint8_t)((in.b[14 + 20 + 8] & 0xe0) | KEEL_GUE_PRIV_PREV6_WORDS); /* Hlen of the v6 form, type v4 */
	decap_run(&e, "second chance: Hlen does not match the type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER,
		  NULL);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] |= 3; /* Hlen 3 without the private-data flag */
	decap_run(&e, "second chance: optional fields without the flag", &in, XDP_DROP,
		  KEEL_DECAP_DROP_GUE_HEADER, NULL);
	encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.len = 14 + 20 + 8 + 4 + 6; /* cut inside the private data */
	wr16(in.b + 14 + 2, (uint16_t)(in.len - 14));
	ip4_fix_csum(in.b + 14);
	wr16(in.b + 14 + 20 + 4, (uint16_t)(in.len - 14 - 20));
	decap_run(&e, "second chance: private data truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	decap_bpf__destroy(e.skel);
}

/* ---- cmocka: each group of cases is one test, failing when any of its cases failed ---- */

static struct decap_env denv; /* loaded once in main (a skip when the kernel refuses it) */

#define GROUP(name, call)                          \
	static void name(void **state)             \
	{                                          \
		int before = failures;             \
		(void)state;                       \
		call;                              \
		assert_int_equal(failures, before); \
	}

/*
 * The unit tests' encap case table (tests/unit/lib/encap_cases.c) through
 * keel-decap: every row the packet core encapsulates decapsulates to the
 * outer Ethernet header (inner EtherType) and the client's IP packet as sent.
 * The rows' backends are made local addresses for the time of the test.
 */
static void decap_encap_cases(struct decap_env *e)
{
	int local = bpf_map__fd(e->skel->maps.keel_decap_local);
	static uint8_t mem[2048], input[2048];
	struct pkt in, want;
	size_t i, n = 0;

	if (addr_put(local, 4, "10.2.0.5") || addr_put(local, 6, "fd00:2::5")) {
		report(false, "decap encap cases: the rows' backends as local addresses");
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
		decap_run(e, name, &in, XDP_PASS,
			  r->encap == KEEL_ENCAP_GUE ? KEEL_DECAP_DECAP_GUE : KEEL_DECAP_DECAP_IPIP, &want);
		n++;
	}
	report(n >= 10, "decap encap cases: %zu rows decapsulated", n);
	addr_del(local, 4, "10.2.0.5");
	addr_del(local, 6, "fd00:2::5");
}

GROUP(t_decap_round_trip, test_decap_round_trip(&denv))
GROUP(t_decap_encap_cases, decap_encap_cases(&denv))
GROUP(t_decap_ecn, test_decap_ecn(&denv))
GROUP(t_decap_malformed, test_decap_malformed(&denv))
GROUP(t_decap_pass, test_decap_pass(&denv))
GROUP(t_decap_gue_port, test_decap_gue_port())
GROUP(t_steer, test_steer())
GROUP(t_second_chance, test_second_chance())

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_decap_round_trip),
		cmocka_unit_test(t_decap_encap_cases),
		cmocka_unit_test(t_decap_ecn),
		cmocka_unit_test(t_decap_malformed),
		cmocka_unit_test(t_decap_pass),
		cmocka_unit_test(t_decap_gue_port),
		cmocka_unit_test(t_steer),
		/* last: it moves this process into a network namespace of its own */
		cmocka_unit_test(t_second_chance),
	};
	struct decap_env *e = &denv;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP: BPF_PROG_TEST_RUN needs root\n");
		return SKIP;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	rc = decap_open(e, KEEL_BPF_GUE_DEFAULT_PORT);
	if (rc == SKIP) {
		printf("SKIP: the kernel refuses to load BPF programs here\n");
		return SKIP;
	}
	if (rc) {
		printf("Bail out! decap.bpf.o did not load\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	decap_bpf__destroy(e->skel);
	printf("# %d cases, %d failed\n", cases, failures);
	return rc || failures ? 1 : 0;
}
