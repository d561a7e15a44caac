/* BPF_PROG_TEST_RUN fixtures for steer.bpf.c: input frame, expected verdict and counter, with and without an AF_XDP socket on the queue. On cmocka: one test for the group, failing when any of its cases does. */
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

#include "keel_bpf.h"
#include "pktgen.h"
#include "steer.skel.h"
#include "xdpfix.h"

static const char *const steer_names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_STEER_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};


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
	struct xdpfix_pkt in;
	char name[160];

	snprintf(name, sizeof(name), "%s (%s)", what, have_xsk ? "socket on queue 0" : "no socket");
	xdpfix_build(&in, g);
	/* Without a socket on the queue a steered packet falls back to XDP_PASS and counts as pass_no_xsk. */
	if (redirect && !have_xsk)
		v = KEEL_STEER_PASS_NO_XSK;
	xdpfix_run(name, e->prog, e->cnt, KEEL_STEER_MAX, steer_names, &in,
		 redirect && have_xsk ? XDP_REDIRECT : XDP_PASS, v, NULL);
}

static void steer_cases(struct steer_env *e, int x)
{
	struct pktgen g = xdpfix_client(4, 6, 80);

	steer_run(e, "steer: TCP to VIP:80", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g.vlan = 7;
	steer_run(e, "steer: TCP to VIP:80 in VLAN 7", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g = xdpfix_client(4, 6, 22);
	steer_run(e, "steer pass: TCP to VIP address, port 22 (not a VIP)", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
	g = xdpfix_client(4, 17, 5353);
	steer_run(e, "steer: UDP to an all-ports VIP", &g, 1, KEEL_STEER_REDIRECT_VIP, x);
	g = xdpfix_client(4, 6, 80);
	g.dst = OTHER_VIP4;
	steer_run(e, "steer pass: TCP to another address", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);
	g = xdpfix_client(6, 6, 443);
	g.ip6_hbh_len = 1;
	steer_run(e, "steer: TCP to VIP6:443 behind a hop-by-hop header", &g, 1,
		  KEEL_STEER_REDIRECT_VIP, x);
	g = xdpfix_client(6, 17, 443);
	steer_run(e, "steer pass: UDP to VIP6:443 (TCP only)", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);

	g = xdpfix_client(4, 1, 0);
	g.icmp_type = 8;
	steer_run(e, "steer: ICMP echo request to a VIP address", &g, 1, KEEL_STEER_REDIRECT_ICMP, x);
	g.icmp_type = 3;
	g.icmp_code = 4;
	steer_run(e, "steer: ICMP fragmentation needed to a VIP address", &g, 1,
		  KEEL_STEER_REDIRECT_ICMP, x);
	g.icmp_type = 0;
	g.icmp_code = 0;
	steer_run(e, "steer pass: ICMP echo reply", &g, 0, KEEL_STEER_PASS_NOT_VIP, x);
	g = xdpfix_client(6, 58, 0);
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

	g = xdpfix_client(4, 17, 5353);
	g.frag_offset = 100;
	steer_run(e, "steer: later UDP fragment to a VIP that takes fragments", &g, 1,
		  KEEL_STEER_REDIRECT_FRAGMENT, x);
	g = xdpfix_client(4, 6, 80);
	g.more_frags = true;
	steer_run(e, "steer pass: TCP fragment to a VIP without fragments", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
	g = xdpfix_client(6, 6, 443);
	g.ip6_frag_hdr = true;
	g.frag_offset = 10;
	steer_run(e, "steer pass: IPv6 TCP fragment to a VIP without fragments", &g, 0,
		  KEEL_STEER_PASS_NOT_VIP, x);
}

static void test_steer(void)
{
	struct steer_env e;
	struct xdpfix_pkt in;
	void *umem = NULL;
	size_t umem_len = 64 * 4096;
	uint32_t q0 = 0;
	int xsk;

	if (steer_open(&e)) {
		xdpfix_report(false, "steer: load");
		return;
	}
	memset(&in, 0, sizeof(in));
	memcpy(in.b, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
	in.len = 60;
	xdpfix_run("steer pass: ARP", e.prog, e.cnt, KEEL_STEER_MAX, steer_names, &in, XDP_PASS,
		 KEEL_STEER_PASS_NOT_IP, NULL);
	in.b[12] = 0x08;
	in.b[13] = 0x00;
	in.len = 24;
	xdpfix_run("steer pass: truncated IPv4 header", e.prog, e.cnt, KEEL_STEER_MAX, steer_names, &in,
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

XDPFIX_GROUP(t_steer, test_steer())

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_steer),
	};

	return xdpfix_main(tests, sizeof(tests) / sizeof(tests[0]));
}
