/* What the BPF_PROG_TEST_RUN tests (test_bpf_*.c) share: one case run and checked, TAP-like lines, frames the packet core encapsulates, decap.bpf.o loaded. */
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
#include "keel_bpf.h"
#include "parse.h"
#include "pktgen.h"
#include "second_chance.h"
#include "wire.h"
#include "xdpfix.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif


int xdpfix_failures;
static int cases;
uint32_t xdpfix_ifindex;
const char *xdpfix_encap_prev;
struct xdpfix_decap xdpfix_denv;

static const uint8_t backend_mac[6] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x05 };

void xdpfix_report(bool ok, const char *fmt, ...)
{
	va_list ap;

	cases++;
	printf("%s %d - ", ok ? "ok" : "not ok", cases);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		xdpfix_failures++;
}

void xdpfix_hexdump(const char *what, const uint8_t *b, uint32_t len)
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
void xdpfix_run(const char *name, int prog_fd, int cnt_fd, uint32_t n_counters,
		     const char *const *counter_names, const struct xdpfix_pkt *in, int want_action,
		     uint32_t counter, const struct xdpfix_pkt *want)
{
	uint8_t out[XDPFIX_FRAME_MAX + XDPFIX_HEADROOM];
	uint64_t before[32], after;
	const struct xdpfix_pkt *exp = want ? want : in;
	bool ok = true;
	uint32_t i;
	int err;
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = xdpfix_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in->b,
		.data_size_in = in->len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.ctx_in = xdpfix_ifindex ? &ctx : NULL,
		.ctx_size_in = xdpfix_ifindex ? sizeof(ctx) : 0,
		.repeat = 1);

	for (i = 0; i < n_counters && i < 32; i++)
		before[i] = counter_read(cnt_fd, i);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err) {
		xdpfix_report(false, "%s: test run failed: %s", name, strerror(errno));
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
		xdpfix_hexdump("got", out, opts.data_size_out);
		xdpfix_hexdump("want", exp->b, exp->len);
		ok = false;
	}
	xdpfix_report(ok, "%s", name);
}

/* --- frames --- */

void xdpfix_build(struct xdpfix_pkt *f, const struct pktgen *g)
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
/* When set, xdpfix_encap() names this previous owner (of the outer family) as the packet core does (second_chance_mark). */

void xdpfix_encap(struct xdpfix_pkt *out, struct xdpfix_pkt *inner, const struct pktgen *g, int outer_family,
		  uint8_t kind, uint16_t gue_port, uint32_t entropy)
{
	static uint8_t mem[XDPFIX_HEADROOM + XDPFIX_FRAME_MAX];
	struct keel_snapshot s;
	struct keel_backend be;
	struct keel_buf b;
	struct keel_pkt p;
	uint16_t mtu = 0;
	size_t len;
	uint8_t ip[XDPFIX_FRAME_MAX];
	uint16_t ip_len, eth_len;

	memset(mem, 0, sizeof(mem));
	len = pktgen_build(mem + XDPFIX_HEADROOM, XDPFIX_FRAME_MAX, g);
	memset(&p, 0, sizeof(p));
	if (!len || keel_parse(mem + XDPFIX_HEADROOM, (uint32_t)len, &p) != KEEL_DROP_NONE) {
		fprintf(stderr, "client frame did not parse\n");
		exit(1);
	}
	ip_len = p.l3_len;
	memcpy(ip, mem + XDPFIX_HEADROOM + p.l3_off, ip_len);
	b.data = mem + XDPFIX_HEADROOM;
	b.len = (uint16_t)len;
	b.headroom = XDPFIX_HEADROOM;
	b.tailroom = (uint16_t)(sizeof(mem) - XDPFIX_HEADROOM - len);

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
	if (xdpfix_encap_prev) {
		struct keel_backend prev;

		memset(&prev, 0, sizeof(prev));
		prev.family = (uint8_t)outer_family;
		pktgen_addr(outer_family, xdpfix_encap_prev, prev.addr);
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

uint16_t xdpfix_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void xdpfix_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recompute an IPv4 header checksum after a test edits the header. */
void xdpfix_ip4_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	xdpfix_wr16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
}

static const char *const decap_names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_DECAP_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};

int xdpfix_addr_put(int map_fd, int family, const char *text)
{
	struct keel_bpf_addr_key k;
	uint32_t one = 1;

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, text, k.addr);
	return bpf_map_update_elem(map_fd, &k, &one, BPF_ANY);
}

void xdpfix_addr_del(int map_fd, int family, const char *text)
{
	struct keel_bpf_addr_key k;

	memset(&k, 0, sizeof(k));
	k.family = (uint8_t)family;
	pktgen_addr(family, text, k.addr);
	bpf_map_delete_elem(map_fd, &k);
}

/* Returns 0, XDPFIX_SKIP when the kernel refuses BPF to us, or -1. */
int xdpfix_decap_open(struct xdpfix_decap *e, uint16_t gue_port)
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
		return err == EPERM || err == EACCES ? XDPFIX_SKIP : -1;
	}
	e->prog = bpf_program__fd(e->skel->progs.keel_decap);
	e->cnt = bpf_map__fd(e->skel->maps.keel_decap_cnt);
	local = bpf_map__fd(e->skel->maps.keel_decap_local);
	vips = bpf_map__fd(e->skel->maps.keel_decap_vips);
	if (xdpfix_addr_put(local, 4, LOCAL4) || xdpfix_addr_put(local, 6, LOCAL6) || xdpfix_addr_put(vips, 4, VIP4) ||
	    xdpfix_addr_put(vips, 6, VIP6))
		return -1;
	return 0;
}

void xdpfix_decap_run(struct xdpfix_decap *e, const char *name, const struct xdpfix_pkt *in, int action,
		      enum keel_decap_verdict v, const struct xdpfix_pkt *want)
{
	xdpfix_run(name, e->prog, e->cnt, KEEL_DECAP_MAX, decap_names, in, action, v, want);
}

struct pktgen xdpfix_client(int family, uint8_t proto, uint16_t dport)
{
	struct pktgen g = {
		.family = family, .src = family == 6 ? CLIENT6 : CLIENT4,
		.dst = family == 6 ? VIP6 : VIP4, .proto = proto, .sport = 40000,
		.dport = dport, .payload_len = 200, .tos = 0x28, .ttl = 57, .df = true,
	};

	return g;
}

int xdpfix_main(const struct CMUnitTest *tests, size_t n)
{
	struct xdpfix_decap *e = &xdpfix_denv;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP: BPF_PROG_TEST_RUN needs root\n");
		return XDPFIX_SKIP;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	rc = xdpfix_decap_open(e, KEEL_BPF_GUE_DEFAULT_PORT);
	if (rc == XDPFIX_SKIP) {
		printf("SKIP: the kernel refuses to load BPF programs here\n");
		return XDPFIX_SKIP;
	}
	if (rc) {
		printf("Bail out! decap.bpf.o did not load\n");
		return 1;
	}
	rc = _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
	decap_bpf__destroy(e->skel);
	printf("# %d cases, %d failed\n", cases, xdpfix_failures);
	return rc || xdpfix_failures ? 1 : 0;
}
