/* What the BPF_PROG_TEST_RUN tests (test_bpf_*.c) share: one case run and checked, TAP-like lines, frames the packet core encapsulates, decap.bpf.o loaded. */
#ifndef KEEL_TEST_XDPFIX_H
#define KEEL_TEST_XDPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

#include "decap.skel.h"
#include "keel_bpf.h"
#include "pktgen.h"

#define XDPFIX_FRAME_MAX 2048
#define XDPFIX_HEADROOM 256
#define XDPFIX_SKIP 77 /* meson's exit status of a skipped test */

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

struct xdpfix_pkt {
	uint8_t b[XDPFIX_FRAME_MAX];
	uint32_t len;
};

/* Cases that failed so far (a program's cmocka groups compare it before and after). */
extern int xdpfix_failures;
/* Nonzero: the test run's ingress interface (second chance). */
extern uint32_t xdpfix_ifindex;
/* When set, xdpfix_encap() names this previous owner (of the outer family) as the packet core does (second_chance_mark). */
extern const char *xdpfix_encap_prev;

/* One "ok N - ..." or "not ok N - ..." line; a failure counts in xdpfix_failures. */
void xdpfix_report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xdpfix_hexdump(const char *what, const uint8_t *b, uint32_t len);
/*
 * Run prog over in; check the XDP action, that counter slot `counter` (and
 * no other of n_counters) went up by one, and the output frame against
 * want (NULL: output must equal the input).
 */
void xdpfix_run(const char *name, int prog_fd, int cnt_fd, uint32_t n_counters,
		const char *const *counter_names, const struct xdpfix_pkt *in, int want_action,
		uint32_t counter, const struct xdpfix_pkt *want);

/* The frame of g into f (exits when pktgen cannot build it). */
void xdpfix_build(struct xdpfix_pkt *f, const struct pktgen *g);
/*
 * A client frame built from g, encapsulated by the packet core towards this
 * backend (outer family, encap kind, GUE port). *inner gets Ethernet (as the
 * decap program leaves it: outer MACs and VLAN tag, the inner EtherType)
 * followed by the client's IP packet exactly as sent: the expected output.
 */
void xdpfix_encap(struct xdpfix_pkt *out, struct xdpfix_pkt *inner, const struct pktgen *g,
		  int outer_family, uint8_t kind, uint16_t gue_port, uint32_t entropy);
uint16_t xdpfix_rd16(const uint8_t *p);
void xdpfix_wr16(uint8_t *p, uint16_t v);
/* Recompute an IPv4 header checksum after a test edits the header. */
void xdpfix_ip4_csum(uint8_t *ip);
/* 200 bytes of TCP or UDP from the client to the VIP of family, DF set. */
struct pktgen xdpfix_client(int family, uint8_t proto, uint16_t dport);

/* decap.bpf.o loaded, with LOCAL4/LOCAL6 local and VIP4/VIP6 VIPs. */
struct xdpfix_decap {
	struct decap_bpf *skel;
	int prog, cnt;
};

/* An address into one of the programs' address maps, and out. */
int xdpfix_addr_put(int map_fd, int family, const char *text);
void xdpfix_addr_del(int map_fd, int family, const char *text);
/* Returns 0, XDPFIX_SKIP when the kernel refuses BPF to us, or -1. */
int xdpfix_decap_open(struct xdpfix_decap *e, uint16_t gue_port);
void xdpfix_decap_run(struct xdpfix_decap *e, const char *name, const struct xdpfix_pkt *in, int action,
		      enum keel_decap_verdict v, const struct xdpfix_pkt *want);

/* Loaded once by xdpfix_main (a skip when the kernel refuses it). */
extern struct xdpfix_decap xdpfix_denv;

/* A cmocka test of a group of cases, failing when any of its cases failed. */
#define XDPFIX_GROUP(name, call)                           \
	static void name(void **state)                     \
	{                                                  \
		int before = xdpfix_failures;              \
		(void)state;                               \
		call;                                      \
		assert_int_equal(xdpfix_failures, before); \
	}

/* Root and a kernel that loads decap.bpf.o, or a skip (77); then the tests (cmocka.h first), and the summary line. */
int xdpfix_main(const struct CMUnitTest *tests, size_t n);

#endif
