/* BPF_PROG_TEST_RUN fixtures for decap.bpf.c's second chance (docs/second-chance.md): a previous owner carried in GUE, the local socket lookup, the forward to the owner. It moves this process into a network namespace of its own. */
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
#include "keel_bpf.h"
#include "pktgen.h"
#include "second_chance.h"
#include "wire.h"
#include "xdpfix.h"

#define SC_IFACE "kt11sc0"
#define REMOTE4_NO_NEIGH "203.0.113.78"
#define REMOTE6_NO_NEIGH "2001:db8:b::78"
#define SC_OWN_MAC "02:cc:00:00:00:05"
#define SC_PEER_MAC "02:cc:00:00:00:77"

static const uint8_t sc_own_mac[6] = { 0x02, 0xcc, 0, 0, 0, 0x05 };
static const uint8_t sc_peer_mac[6] = { 0x02, 0xcc, 0, 0, 0, 0x77 };

/* Whether frame f (untagged) has an IPv6 outer header. */
static bool outer6(const struct xdpfix_pkt *f)
{
	return xdpfix_rd16(f->b + 12) == 0x86dd;
}

/*
 * The UDP checksum of a GUE-over-IPv6 frame (untagged, no extension
 * headers), summed from scratch over the pseudo-header and the whole
 * datagram: the independent reference for keel-decap's incremental update.
 */
static void udp6_fix_csum(struct xdpfix_pkt *f)
{
	static uint8_t tmp[40 + XDPFIX_FRAME_MAX];
	uint8_t *ip = f->b + 14, *udp = ip + 40;
	uint16_t ulen = xdpfix_rd16(udp + 4), c;

	memcpy(tmp, ip + 8, 32);
	tmp[32] = tmp[33] = 0;
	xdpfix_wr16(tmp + 34, ulen);
	tmp[36] = tmp[37] = tmp[38] = 0;
	tmp[39] = 17;
	udp[6] = udp[7] = 0;
	memcpy(tmp + 40, udp, ulen);
	c = pktgen_csum(tmp, 40u + ulen);
	xdpfix_wr16(udp + 6, c ? c : 0xffff);
}

/*
 * Insert Keel's GUE private data (previous owner prev of family, flags
 * pflags) into a GUE frame made by xdpfix_encap(), over IPv4 or IPv6: Hlen, the
 * flag, UDP and IP lengths, the IPv4 header checksum or the UDP checksum
 * (IPv6; IPv4's stays 0).
 */
static void gue_add_prev(struct xdpfix_pkt *f, int family, const char *prev, uint8_t pflags)
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
	xdpfix_wr16(f->b + gue + 2, KEEL_GUE_FLAG_PRIV);
	p = (struct keel_gue_priv *)(f->b + gue + KEEL_GUE_HLEN);
	memset(p, 0, add);
	p->type = family == 6 ? KEEL_GUE_PRIV_PREV6 : KEEL_GUE_PRIV_PREV4;
	p->flags = pflags;
	pktgen_addr(family, prev, a);
	memcpy(p->addr, a, family == 6 ? 16 : 4);
	if (o6) {
		xdpfix_wr16(f->b + l3 + 4, (uint16_t)(xdpfix_rd16(f->b + l3 + 4) + add));
		xdpfix_wr16(f->b + l3 + 40 + 4, (uint16_t)(xdpfix_rd16(f->b + l3 + 40 + 4) + add));
		udp6_fix_csum(f);
		return;
	}
	xdpfix_wr16(f->b + l3 + 2, (uint16_t)(xdpfix_rd16(f->b + l3 + 2) + add));
	xdpfix_ip4_csum(f->b + l3);
	xdpfix_wr16(f->b + l3 + 20 + 4, (uint16_t)(xdpfix_rd16(f->b + l3 + 20 + 4) + add));
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
static void sc_cases6(struct xdpfix_decap *e, uint16_t cport, uint16_t sport, uint32_t ifindex)
{
	struct pktgen g4 = xdpfix_client(4, 6, 80), g6 = xdpfix_client(6, 6, 80), gl;
	struct xdpfix_pkt in, want, tx;
	const uint32_t ip = 14, udp = ip + 40, gue = udp + 8, priv = gue + 4;

	/* A socket here: ours. */
	gl = g4;
	gl.sport = cport;
	gl.dport = sport;
	xdpfix_encap(&in, &want, &gl, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	xdpfix_decap_run(e, "second chance, IPv6: established socket found, decapsulated here", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOCAL, &want);

	/* A SYN: never handed on. */
	gl = g6;
	gl.tcp_flags = 0x02;
	xdpfix_encap(&in, &want, &gl, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	xdpfix_decap_run(e, "second chance, IPv6: SYN decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* No socket, forged previous owner: decapsulated. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, "2001:db8:b::66", 0);
	xdpfix_decap_run(e, "second chance, IPv6: forged previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* Already handed on once. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, KEEL_GUE_PRIV_REDIRECTED);
	xdpfix_decap_run(e, "second chance, IPv6: already redirected once, not again", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* Arriving on loopback: no route to the peer by the ingress port. */
	xdpfix_ifindex = 0;
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	xdpfix_decap_run(e, "second chance, IPv6: no route to the peer by the ingress port", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);
	xdpfix_ifindex = ifindex;

	/* Routed by the ingress port: re-encapsulated to the peer, exact bytes, for both inner families. */
	for (int fam = 4; fam <= 6; fam += 2) {
		char name[128];

		xdpfix_encap(&in, &want, fam == 6 ? &g6 : &g4, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
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
		xdpfix_decap_run(e, name, &in, XDP_TX, KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	}
	/* What it sent, arriving at the peer without a socket either: not handed on a second time. */
	put6(tx.b + ip + 24, LOCAL6);
	udp6_fix_csum(&tx);
	memcpy(want.b, tx.b, 12);
	xdpfix_decap_run(e, "second chance, IPv6: the handed-on packet is never handed on again", &tx, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* A checksum that adds up to 0xffff either way: the update must not leave a 0 (RFC 768). */
	{
		int found = 0;

		for (uint32_t ent = 1; ent < 200000 && !found; ent++) {
			xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, ent);
			gue_add_prev(&in, 6, REMOTE6, 0);
			tx = in;
			memcpy(tx.b, sc_peer_mac, 6);
			memcpy(tx.b + 6, sc_own_mac, 6);
			put6(tx.b + ip + 24, REMOTE6);
			tx.b[ip + 7]--;
			tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
			udp6_fix_csum(&tx);
			found = xdpfix_rd16(tx.b + udp + 6) == 0xffff;
		}
		if (found)
			xdpfix_decap_run(e, "second chance, IPv6: a handed-on checksum of 0 is sent as 0xffff", &in, XDP_TX,
				  KEEL_DECAP_TX_SECOND_CHANCE, &tx);
		else
			printf("# no frame with a handed-on checksum of 0xffff found in 200000 entropies\n");
	}

	/* No neighbour entry for the peer: rewritten the same way, passed to the kernel to forward. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6_NO_NEIGH, 0);
	tx = in;
	put6(tx.b + ip + 24, REMOTE6_NO_NEIGH);
	tx.b[ip + 7]--;
	tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	udp6_fix_csum(&tx);
	xdpfix_decap_run(e, "second chance, IPv6: peer without a neighbour entry: rewritten, passed to the kernel", &in,
		  XDP_PASS, KEEL_DECAP_FWD_SECOND_CHANCE, &tx);

	/* Hop limit 1: it would not get there; kept. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[ip + 7] = 1;
	xdpfix_decap_run(e, "second chance, IPv6: hop limit 1, not handed on", &in, XDP_PASS, KEEL_DECAP_DECAP_SC_NO_ROUTE,
		  &want);

	/* A zero UDP checksum (not Keel's form: RFC 6935 mode): cannot be updated, not handed on. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[udp + 6] = in.b[udp + 7] = 0;
	xdpfix_decap_run(e, "second chance, IPv6: zero UDP checksum, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* Families that do not match: an IPv4 previous owner over IPv6, an IPv6 one over IPv4. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	xdpfix_decap_run(e, "second chance: IPv4 previous owner over an IPv6 outer header, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);
	xdpfix_encap(&in, &want, &g6, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	xdpfix_decap_run(e, "second chance: IPv6 previous owner over an IPv4 outer header, not handed on", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* Malformed IPv6 form: type 1 with Hlen 5, and cut inside the 16-byte address. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.b[priv] = KEEL_GUE_PRIV_PREV4;
	xdpfix_decap_run(e, "second chance, IPv6: Hlen 5 with the IPv4 type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	in.len = priv + 12;
	xdpfix_wr16(in.b + ip + 4, (uint16_t)(in.len - ip - 40));
	xdpfix_wr16(in.b + udp + 4, (uint16_t)(in.len - udp));
	xdpfix_decap_run(e, "second chance, IPv6: private data truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);
	xdpfix_ifindex = 0;
}

/*
 * Cut the client's packet inside in (a GUE frame from xdpfix_encap()) and want (its
 * decapsulated form) to inner_len bytes as its own header states, leaving
 * in's bytes after it (the outer lengths unchanged): what follows is no
 * longer the inner packet, and want ends where the header now says.
 */
static void sc_cut_inner(struct xdpfix_pkt *in, struct xdpfix_pkt *want, uint32_t inner_len)
{
	uint32_t eth = 14, at = in->len - (want->len - eth);
	uint8_t *ip_in = in->b + at, *ip_want = want->b + eth;

	if ((ip_in[0] >> 4) == 4) {
		xdpfix_wr16(ip_in + 2, (uint16_t)inner_len);
		xdpfix_ip4_csum(ip_in);
	} else {
		xdpfix_wr16(ip_in + 4, (uint16_t)(inner_len - 40));
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
static void sc_cases_cut(struct xdpfix_decap *e, uint32_t ifindex)
{
	struct pktgen g4 = xdpfix_client(4, 6, 80), g6 = xdpfix_client(6, 6, 80);
	struct xdpfix_pkt in, want;
	uint32_t at;

	xdpfix_ifindex = ifindex;
	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	sc_cut_inner(&in, &want, 20 + 10);
	xdpfix_decap_run(e, "second chance: IPv4 inner packet cut inside its TCP header, bytes after it: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	xdpfix_encap(&in, &want, &g4, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	at = in.len - (want.len - 14); /* where the inner packet starts, before the cut */
	sc_cut_inner(&in, &want, 20 + 20);
	in.b[at + 20 + 12] = 0x60; /* data offset 24 bytes in a 20-byte segment */
	want.b[14 + 20 + 12] = 0x60;
	xdpfix_decap_run(e, "second chance: IPv4 inner TCP data offset past the packet's end: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	sc_cut_inner(&in, &want, 40 + 19);
	xdpfix_decap_run(e, "second chance, IPv6: inner packet cut inside its TCP header, bytes after it: not handed on",
		  &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* The same frame whole: handed on, so the cut above is what made the difference. */
	xdpfix_encap(&in, &want, &g6, 6, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 6, REMOTE6, 0);
	{
		struct xdpfix_pkt tx = in;
		const uint32_t ip = 14, priv = ip + 40 + 8 + 4;

		memcpy(tx.b, sc_peer_mac, 6);
		memcpy(tx.b + 6, sc_own_mac, 6);
		put6(tx.b + ip + 24, REMOTE6);
		tx.b[ip + 7]--;
		tx.b[priv + 1] |= KEEL_GUE_PRIV_REDIRECTED;
		udp6_fix_csum(&tx);
		xdpfix_decap_run(e, "second chance, IPv6: the same packet whole is handed on", &in, XDP_TX,
			  KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	}
	xdpfix_ifindex = 0;
}

static void test_second_chance(void)
{
	struct pktgen g = xdpfix_client(4, 6, 80), gl;
	struct xdpfix_pkt in, want, tx;
	struct xdpfix_decap e;
	uint16_t cport = 0, sport = 0;
	int peers, fds[3] = { -1, -1, -1 };
	uint32_t ifindex;

	if (sc_netns()) {
		printf("# SKIP second chance: no network namespace with a veth pair here\n");
		return;
	}
	ifindex = if_nametoindex(SC_IFACE);
	if (xdpfix_decap_open(&e, KEEL_BPF_GUE_DEFAULT_PORT)) {
		xdpfix_report(false, "second chance: decap.bpf.o did not load");
		return;
	}
	peers = bpf_map__fd(e.skel->maps.keel_decap_peers);
	if (xdpfix_addr_put(peers, 4, REMOTE4) || xdpfix_addr_put(peers, 4, REMOTE4_NO_NEIGH) || xdpfix_addr_put(peers, 6, REMOTE6) ||
	    xdpfix_addr_put(peers, 6, REMOTE6_NO_NEIGH) || sc_connection(&cport, &sport, fds)) {
		xdpfix_report(false, "second chance: set-up failed: %s", strerror(errno));
		goto out;
	}

	/* No previous owner carried: plain decapsulation, whatever the sockets. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	xdpfix_decap_run(&e, "second chance: no previous owner, plain GUE", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);

	/* A SYN opens a connection here: never handed on. */
	g.tcp_flags = 0x02;
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	xdpfix_decap_run(&e, "second chance: SYN decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	g.tcp_flags = 0;

	/* Not TCP: nothing to look up. */
	{
		struct pktgen gu = xdpfix_client(4, 17, 53);

		xdpfix_encap(&in, &want, &gu, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		gue_add_prev(&in, 4, REMOTE4, 0);
		xdpfix_decap_run(&e, "second chance: UDP decapsulated here", &in, XDP_PASS, KEEL_DECAP_DECAP_GUE, &want);
	}

	/* A local socket: the connection is ours. */
	gl = g;
	gl.sport = cport;
	gl.dport = sport;
	xdpfix_encap(&in, &want, &gl, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	xdpfix_decap_run(&e, "second chance: established socket found, decapsulated here", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOCAL, &want);

	/* Only the listener, and the ACK is no SYN cookie: not ours, handed on (the peer is known). */
	gl.sport = (uint16_t)(cport ^ 0x4000);
	xdpfix_encap(&in, &want, &gl, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, "203.0.113.66", 0);
	xdpfix_decap_run(&e, "second chance: listener only, not a cookie, previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* No socket, previous owner forged (not in the peers map): decapsulated, the kernel answers. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, "203.0.113.66", 0);
	xdpfix_decap_run(&e, "second chance: forged previous owner not a peer", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_PEER, &want);

	/* No socket, already handed on once: never again. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, KEEL_GUE_PRIV_REDIRECTED);
	xdpfix_decap_run(&e, "second chance: already redirected once, not again", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* No socket, a peer, but arriving on loopback (no route to the peer by that port): kept. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	xdpfix_decap_run(&e, "second chance: no route to the peer by the ingress port", &in, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_NO_ROUTE, &want);

	/* No socket, a peer, routed by the ingress port: re-encapsulated to it and sent back out. */
	tx = in;
	memcpy(tx.b, sc_peer_mac, 6);
	memcpy(tx.b + 6, sc_own_mac, 6);
	put4(tx.b + 14 + 16, REMOTE4);                /* outer destination: the previous owner */
	tx.b[14 + 8]--;                               /* TTL */
	xdpfix_ip4_csum(tx.b + 14);
	tx.b[14 + 20 + 6] = tx.b[14 + 20 + 7] = 0;    /* UDP checksum */
	tx.b[14 + 20 + 8 + 4 + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	xdpfix_ifindex = ifindex;
	xdpfix_decap_run(&e, "second chance: no socket, peer: re-encapsulated to the previous owner (XDP_TX)", &in,
		  XDP_TX, KEEL_DECAP_TX_SECOND_CHANCE, &tx);
	/* What it sent, arriving at the peer without a socket either: not handed on a second time. */
	put4(tx.b + 14 + 16, LOCAL4);
	xdpfix_ip4_csum(tx.b + 14);
	memcpy(want.b, tx.b, 12); /* decapsulation keeps the frame's MACs */
	xdpfix_decap_run(&e, "second chance: the handed-on packet is never handed on again", &tx, XDP_PASS,
		  KEEL_DECAP_DECAP_SC_LOOP, &want);

	/* A peer the kernel has no neighbour entry for: rewritten, and left to the kernel to forward. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4_NO_NEIGH, 0);
	tx = in;
	put4(tx.b + 14 + 16, REMOTE4_NO_NEIGH);
	tx.b[14 + 8]--;
	xdpfix_ip4_csum(tx.b + 14);
	tx.b[14 + 20 + 6] = tx.b[14 + 20 + 7] = 0;
	tx.b[14 + 20 + 8 + 4 + 1] |= KEEL_GUE_PRIV_REDIRECTED;
	xdpfix_decap_run(&e, "second chance: peer without a neighbour entry: rewritten, passed to the kernel to forward",
		  &in, XDP_PASS, KEEL_DECAP_FWD_SECOND_CHANCE, &tx);
	xdpfix_ifindex = 0;

	sc_cases6(&e, cport, sport, ifindex);
	sc_cases_cut(&e, ifindex);

	/* The packet core writes the very bytes these fixtures are made of (IPv4 and IPv6 forms). */
	for (int fam = 4; fam <= 6; fam += 2) {
		struct xdpfix_pkt core;
		char name[96];

		xdpfix_encap(&in, &want, &g, fam, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		gue_add_prev(&in, fam, fam == 6 ? REMOTE6 : REMOTE4, 0);
		xdpfix_encap_prev = fam == 6 ? REMOTE6 : REMOTE4;
		xdpfix_encap(&core, &want, &g, fam, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
		xdpfix_encap_prev = NULL;
		snprintf(name, sizeof(name), "second chance: the packet core's IPv%d previous-owner field, byte for byte", fam);
		if (core.len != in.len || memcmp(core.b, in.b, in.len)) {
			xdpfix_hexdump("core", core.b, core.len);
			xdpfix_hexdump("fixture", in.b, in.len);
			xdpfix_report(false, "%s", name);
		} else {
			xdpfix_report(true, "%s", name);
		}
	}

	/* Malformed private data: dropped as a bad GUE header. */
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 4] = 9; /* unknown type */
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_decap_run(&e, "second chance: unknown private data type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 4 + 1] = 0x80; /* unknown private flag */
	xdpfix_decap_run(&e, "second chance: unknown private flag", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8 + 3] = 0x02; /* another GUE flag */
	xdpfix_decap_run(&e, "second chance: other GUE flags", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER, NULL);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.b[14 + 20 + 8] = (uint8_t)((in.b[14 + 20 + 8] & 0xe0) | KEEL_GUE_PRIV_PREV6_WORDS); /* Hlen of the v6 form, type v4 */
	xdpfix_decap_run(&e, "second chance: Hlen does not match the type", &in, XDP_DROP, KEEL_DECAP_DROP_GUE_HEADER,
		  NULL);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	in.b[14 + 20 + 8] |= 3; /* Hlen 3 without the private-data flag */
	xdpfix_decap_run(&e, "second chance: optional fields without the flag", &in, XDP_DROP,
		  KEEL_DECAP_DROP_GUE_HEADER, NULL);
	xdpfix_encap(&in, &want, &g, 4, KEEL_ENCAP_GUE, KEEL_BPF_GUE_DEFAULT_PORT, 1);
	gue_add_prev(&in, 4, REMOTE4, 0);
	in.len = 14 + 20 + 8 + 4 + 6; /* cut inside the private data */
	xdpfix_wr16(in.b + 14 + 2, (uint16_t)(in.len - 14));
	xdpfix_ip4_csum(in.b + 14);
	xdpfix_wr16(in.b + 14 + 20 + 4, (uint16_t)(in.len - 14 - 20));
	xdpfix_decap_run(&e, "second chance: private data truncated", &in, XDP_DROP, KEEL_DECAP_DROP_OUTER_TRUNCATED,
		  NULL);
out:
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	decap_bpf__destroy(e.skel);
}

XDPFIX_GROUP(t_second_chance, test_second_chance())

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_second_chance),
	};

	return xdpfix_main(tests, sizeof(tests) / sizeof(tests[0]));
}
