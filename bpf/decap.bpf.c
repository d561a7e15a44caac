/* XDP decapsulation for backend hosts: strip Keel's IPIP/6in4/4in6/6in6/GUE outer headers and pass the client's packet to the kernel. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "keel_bpf.h"
#include "wire.h" /* dataplane/core/wire.h: the GUE header and Keel's private data, as the sender writes them */

/*
 * What Keel sends (dataplane/core/encap.c): Ethernet (an 802.1Q tag kept),
 * outer IPv4 (protocol 4 or 41) or IPv6 (next header 4 or 41), or either with
 * UDP to the GUE port and a 4-byte GUE variant 0 header, then the client's IP
 * packet unchanged. We check, strip everything between Ethernet and the
 * inner packet, and hand the result to the kernel as if it had arrived that
 * way. Frames that are not for us pass untouched; tunnelled frames for us
 * that are broken are dropped with a counted reason (the kernel has no
 * tunnel device for them and would drop them silently).
 */

/* Runtime knob, set by the loader before load (libbpf rodata). Host byte order. */
const volatile __u16 gue_port = KEEL_BPF_GUE_DEFAULT_PORT;
/* Second chance: 1 hands packets on through the kernel's forwarding instead of XDP_TX (keel-decap --handoff). */
const volatile __u8 handoff_kernel = 0;

#define IP4_FRAG_MASK 0x3fff
#define IP6_MAX_EXTHDRS 4
#define ECN_MASK 0x03
#define ECN_ECT1 0x01
#define ECN_ECT0 0x02
#define ECN_CE 0x03

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BPF_MAX_ADDRS);
	__type(key, struct keel_bpf_addr_key);
	__type(value, __u32);
} keel_decap_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BPF_MAX_ADDRS);
	__type(key, struct keel_bpf_addr_key);
	__type(value, __u32);
} keel_decap_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BPF_MAX_ADDRS);
	__type(key, struct keel_bpf_addr_key);
	__type(value, __u32);
} keel_decap_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KEEL_DECAP_MAX);
	__type(key, __u32);
	__type(value, struct keel_bpf_counter);
} keel_decap_cnt SEC(".maps");

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

/* What the outer parse found: where the inner packet starts and what bounds it. */
struct decap_outer {
	void *inner;        /* first byte of the inner IP header */
	__u32 inner_space;  /* bytes the outer headers say follow it */
	__u8 inner_proto;   /* WIRE_IPPROTO_IPIP or WIRE_IPPROTO_IPV6 */
	__u8 outer_ecn;
	__u8 gue;
	__u8 prev_family;   /* second chance: KEEL_BPF_AF_INET4/6 when a previous owner is carried, else 0 */
	struct keel_gue_priv *priv; /* the GUE private data field (wire.h) */
};

static __always_inline int addr_in(void *map, __u8 family, const void *addr)
{
	struct keel_bpf_addr_key k = { .family = family };

	if (family == KEEL_BPF_AF_INET4)
		__builtin_memcpy(k.addr, addr, 4);
	else
		__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(map, &k) != NULL;
}

/* RFC 1071 over the IPv4 header, options included (ihl words, at most 15). */
static __always_inline int ip4_csum_ok(struct iphdr *ip, void *end)
{
	__u16 *w = (__u16 *)ip;
	__u32 words = ip->ihl * 2, sum = 0, i;

	/* Unrolled with constant offsets: each access is checked against end on its own. */
#pragma unroll
	for (i = 0; i < 30; i++) {
		if (i < words) {
			if ((void *)(w + i + 1) > end)
				return 0;
			sum += w[i];
		}
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Keel's GUE private data (wire.h): the only optional field accepted.
 * Anything else in Hlen or the flags is a malformed header, dropped.
 */
static __always_inline enum keel_decap_verdict decap_gue_priv(__u8 *gue, void *end, __u32 hlen,
							      __u32 ulen, struct decap_outer *o)
{
	struct keel_gue_priv *priv = (struct keel_gue_priv *)(gue + KEEL_GUE_HLEN);
	__u8 *pb = (__u8 *)priv;

	if (gue[2] != (KEEL_GUE_FLAG_PRIV >> 8) || gue[3] != (KEEL_GUE_FLAG_PRIV & 0xff))
		return KEEL_DECAP_DROP_GUE_HEADER;
	if (hlen != KEEL_GUE_PRIV_PREV4_LEN && hlen != KEEL_GUE_PRIV_PREV6_LEN)
		return KEEL_DECAP_DROP_GUE_HEADER;
	if ((void *)(pb + KEEL_GUE_PRIV_PREV6_LEN) > end && hlen == KEEL_GUE_PRIV_PREV6_LEN)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	if ((void *)(pb + KEEL_GUE_PRIV_PREV4_LEN) > end ||
	    ulen < sizeof(struct udphdr) + KEEL_GUE_HLEN + hlen)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	if (priv->zero[0] || priv->zero[1] || (priv->flags & ~KEEL_GUE_PRIV_REDIRECTED))
		return KEEL_DECAP_DROP_GUE_HEADER;
	if (priv->type == KEEL_GUE_PRIV_PREV4 && hlen == KEEL_GUE_PRIV_PREV4_LEN)
		o->prev_family = KEEL_BPF_AF_INET4;
	else if (priv->type == KEEL_GUE_PRIV_PREV6 && hlen == KEEL_GUE_PRIV_PREV6_LEN)
		o->prev_family = KEEL_BPF_AF_INET6;
	else
		return KEEL_DECAP_DROP_GUE_HEADER;
	o->priv = priv;
	return KEEL_DECAP_DECAP_GUE;
}

/*
 * The GUE header after UDP at l4 (whose port already matched). udp_space is
 * what the outer IP header says the UDP datagram may occupy.
 */
static __always_inline enum keel_decap_verdict decap_gue(void *l4, void *end, __u32 udp_space,
							 struct decap_outer *o)
{
	struct udphdr *udp = l4;
	__u8 *gue = (__u8 *)(udp + 1);
	__u32 ulen, hlen;

	if ((void *)(gue + KEEL_GUE_HLEN) > end)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) + KEEL_GUE_HLEN || ulen > udp_space)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	/* draft-ietf-intarea-gue 3.1: version in the top two bits; Keel sends 0. */
	if (KEEL_GUE_VERSION(gue[0]))
		return KEEL_DECAP_DROP_GUE_VERSION;
	hlen = (__u32)KEEL_GUE_HLEN_WORDS(gue[0]) * 4;
	/* C (control) bit zero; either no optional field at all, or exactly Keel's private data. */
	if (gue[0] & KEEL_GUE_C)
		return KEEL_DECAP_DROP_GUE_HEADER;
	if (gue[1] != WIRE_IPPROTO_IPIP && gue[1] != WIRE_IPPROTO_IPV6)
		return KEEL_DECAP_DROP_GUE_HEADER;
	if (hlen || gue[2] || gue[3]) {
		enum keel_decap_verdict pv = decap_gue_priv(gue, end, hlen, ulen, o);

		if (pv != KEEL_DECAP_DECAP_GUE)
			return pv;
	}
	o->inner = gue + KEEL_GUE_HLEN + hlen;
	o->inner_space = ulen - sizeof(*udp) - KEEL_GUE_HLEN - hlen;
	o->inner_proto = gue[1];
	o->gue = 1;
	return KEEL_DECAP_DECAP_GUE;
}

/* Whether l4 is a UDP header to the GUE port (a short one is not: the kernel may have it). */
static __always_inline int is_gue(void *l4, void *end)
{
	struct udphdr *udp = l4;

	return (void *)(udp + 1) <= end && udp->dest == bpf_htons(gue_port);
}

static __always_inline enum keel_decap_verdict decap_outer4(void *l3, void *end,
							    struct decap_outer *o)
{
	struct iphdr *ip = l3;
	__u32 hlen, total;
	void *l4;

	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
		return KEEL_DECAP_PASS_NOT_IP;
	if (!addr_in(&keel_decap_local, KEEL_BPF_AF_INET4, &ip->daddr))
		return KEEL_DECAP_PASS_NOT_LOCAL;
	hlen = ip->ihl * 4;
	l4 = l3 + hlen;
	if (ip->protocol == IPPROTO_UDP) {
		if (ip->frag_off & bpf_htons(IP4_FRAG_MASK) || !is_gue(l4, end))
			return KEEL_DECAP_PASS_NOT_ENCAP;
	} else if (ip->protocol != WIRE_IPPROTO_IPIP && ip->protocol != WIRE_IPPROTO_IPV6) {
		return KEEL_DECAP_PASS_NOT_ENCAP;
	} else if (ip->frag_off & bpf_htons(IP4_FRAG_MASK)) {
		/* Keel sets DF; a fragmented tunnel packet is someone else's, the kernel reassembles it. */
		return KEEL_DECAP_PASS_OUTER_FRAGMENT;
	}
	/* From here on the frame is a tunnel packet for us: malformed means dropped. */
	total = bpf_ntohs(ip->tot_len);
	if (l4 > end || total < hlen || l3 + total > end)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	if (!ip4_csum_ok(ip, end))
		return KEEL_DECAP_DROP_OUTER_CHECKSUM;
	o->outer_ecn = ip->tos & ECN_MASK;
	if (ip->protocol == IPPROTO_UDP)
		return decap_gue(l4, end, total - hlen, o);
	o->inner = l4;
	o->inner_space = total - hlen;
	o->inner_proto = ip->protocol;
	return KEEL_DECAP_DECAP_IPIP;
}

static __always_inline enum keel_decap_verdict decap_outer6(void *l3, void *end,
							    struct decap_outer *o)
{
	struct ipv6hdr *ip6 = l3;
	void *p = ip6 + 1;
	__u32 plen;
	__u8 nh;
	int i;

	if (p > end || ip6->version != 6)
		return KEEL_DECAP_PASS_NOT_IP;
	if (!addr_in(&keel_decap_local, KEEL_BPF_AF_INET6, &ip6->daddr))
		return KEEL_DECAP_PASS_NOT_LOCAL;
	nh = ip6->nexthdr;
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	    nh == IPPROTO_FRAGMENT) {
		/*
		 * Keel's outer header has no extension headers. Walk them only to
		 * tell a tunnel packet (dropped: we do not process routing headers
		 * or options) from other traffic for this host (passed).
		 */
#pragma unroll
		for (i = 0; i < IP6_MAX_EXTHDRS; i++) {
			struct ipv6_opt_hdr *h = p;

			if ((void *)(h + 1) > end)
				return KEEL_DECAP_PASS_NOT_ENCAP;
			if (nh == IPPROTO_FRAGMENT) {
				nh = h->nexthdr;
				p += 8;
				if (nh == WIRE_IPPROTO_IPIP || nh == WIRE_IPPROTO_IPV6)
					return KEEL_DECAP_PASS_OUTER_FRAGMENT;
				return KEEL_DECAP_PASS_NOT_ENCAP;
			}
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
			    nh != IPPROTO_DSTOPTS)
				break;
			nh = h->nexthdr;
			p += (h->hdrlen + 1) * 8;
		}
		if (nh == WIRE_IPPROTO_IPIP || nh == WIRE_IPPROTO_IPV6 ||
		    (nh == IPPROTO_UDP && is_gue(p, end)))
			return KEEL_DECAP_DROP_OUTER_EXTHDR;
		return KEEL_DECAP_PASS_NOT_ENCAP;
	}
	if (nh == IPPROTO_UDP) {
		if (!is_gue(p, end))
			return KEEL_DECAP_PASS_NOT_ENCAP;
	} else if (nh != WIRE_IPPROTO_IPIP && nh != WIRE_IPPROTO_IPV6) {
		return KEEL_DECAP_PASS_NOT_ENCAP;
	}
	plen = bpf_ntohs(ip6->payload_len);
	if (p + plen > end)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	/* Traffic class: low nibble of byte 0, high nibble of byte 1; ECN its low two bits. */
	o->outer_ecn = (ip6->flow_lbl[0] >> 4) & ECN_MASK;
	if (nh == IPPROTO_UDP)
		return decap_gue(p, end, plen, o);
	o->inner = p;
	o->inner_space = plen;
	o->inner_proto = nh;
	return KEEL_DECAP_DECAP_IPIP;
}

/* RFC 1624 incremental update of a checksum for one 16-bit word (any byte order, used consistently). */
static __always_inline void csum_replace16(__u16 *sum, __u16 old, __u16 new)
{
	__u32 c = (__u16)~*sum + (__u32)(__u16)~old + new;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	*sum = (__u16)~c;
}

/*
 * RFC 6040 4.2, normal mode: the inner ECN field after decapsulation. Returns
 * the new field, or -1 when the packet must be dropped (CE over Not-ECT).
 */
static __always_inline int ecn_decap(__u8 inner, __u8 outer)
{
	if (outer == ECN_CE)
		return inner == 0 ? -1 : ECN_CE;
	if (outer == ECN_ECT1 && inner == ECN_ECT0)
		return ECN_ECT1;
	return inner;
}

/*
 * Check the inner packet (the client's, to a VIP we serve), apply the ECN
 * rule, and set *inner_len to its length as its header states. Returns ok
 * (the outer verdict) or a drop reason.
 */
static __always_inline enum keel_decap_verdict decap_inner(const struct decap_outer *o, void *end,
							   enum keel_decap_verdict ok,
							   __u32 *inner_len)
{
	int ecn;

	if (o->inner_proto == WIRE_IPPROTO_IPIP) {
		struct iphdr *ip = o->inner;
		__u32 total;
		__u16 old;

		if ((void *)(ip + 1) > end || o->inner_space < sizeof(*ip))
			return KEEL_DECAP_DROP_INNER_TRUNCATED;
		total = bpf_ntohs(ip->tot_len);
		if (ip->version != 4 || ip->ihl < 5 || total < ip->ihl * 4u)
			return KEEL_DECAP_DROP_INNER_MALFORMED;
		if (total > o->inner_space)
			return KEEL_DECAP_DROP_INNER_TRUNCATED;
		if (!addr_in(&keel_decap_vips, KEEL_BPF_AF_INET4, &ip->daddr))
			return KEEL_DECAP_DROP_INNER_NOT_VIP;
		ecn = ecn_decap(ip->tos & ECN_MASK, o->outer_ecn);
		if (ecn < 0)
			return KEEL_DECAP_DROP_ECN;
		if (ecn != (ip->tos & ECN_MASK)) {
			old = *(__u16 *)ip;
			ip->tos = (ip->tos & ~ECN_MASK) | ecn;
			csum_replace16(&ip->check, old, *(__u16 *)ip);
		}
		*inner_len = total;
	} else {
		struct ipv6hdr *ip6 = o->inner;
		__u8 cur;

		if ((void *)(ip6 + 1) > end || o->inner_space < sizeof(*ip6))
			return KEEL_DECAP_DROP_INNER_TRUNCATED;
		if (ip6->version != 6)
			return KEEL_DECAP_DROP_INNER_MALFORMED;
		*inner_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		if (*inner_len > o->inner_space)
			return KEEL_DECAP_DROP_INNER_TRUNCATED;
		if (!addr_in(&keel_decap_vips, KEEL_BPF_AF_INET6, &ip6->daddr))
			return KEEL_DECAP_DROP_INNER_NOT_VIP;
		cur = (ip6->flow_lbl[0] >> 4) & ECN_MASK;
		ecn = ecn_decap(cur, o->outer_ecn);
		if (ecn < 0)
			return KEEL_DECAP_DROP_ECN;
		if (ecn != cur)
			ip6->flow_lbl[0] = (ip6->flow_lbl[0] & 0xcf) | (ecn << 4);
	}
	return ok;
}

/*
 * Move the Ethernet header (l2_len bytes, 14 or 18) forward over the outer
 * headers, drop them and any trailing padding, and give it the inner
 * packet's EtherType.
 */
static __always_inline int decap_strip(struct xdp_md *ctx, __u32 l2_len, __u32 outer_len,
				       __u32 trailer, __be16 etype)
{
	__u8 l2[18];
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (l2_len == 18) {
		if (data + 18 > end)
			return -1;
		__builtin_memcpy(l2, data, 18);
	} else {
		if (data + 14 > end)
			return -1;
		__builtin_memcpy(l2, data, 14);
	}
	if (trailer && bpf_xdp_adjust_tail(ctx, -(int)trailer))
		return -1;
	if (bpf_xdp_adjust_head(ctx, (int)outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (l2_len == 18) {
		if (data + 18 > end)
			return -1;
		__builtin_memcpy(l2 + 16, &etype, 2);
		__builtin_memcpy(data, l2, 18);
	} else {
		if (data + 14 > end)
			return -1;
		__builtin_memcpy(l2 + 12, &etype, 2);
		__builtin_memcpy(data, l2, 14);
	}
	return 0;
}

/* RFC 1071 over a 20-byte IPv4 header, checksum field taken as zero. */
static __always_inline __u16 ip4_csum20(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		if (i != 5)
			sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Whether the kernel has a socket for this inner TCP segment: an established
 * (or time-wait, request) one, or a listener for which the segment completes a
 * SYN cookie handshake. ip/th point into the packet, bounds checked; only
 * called once sc_tcp_not_syn found the TCP header whole within the inner packet.
 */
static __always_inline int sc_local_socket(struct xdp_md *ctx, const struct decap_outer *o, void *end)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	struct tcphdr *th;
	__u32 tlen, iplen;
	void *ip = o->inner;
	int local;

	if (o->inner_proto == WIRE_IPPROTO_IPIP) {
		struct iphdr *ip4 = ip;

		if ((void *)(ip4 + 1) > end)
			return 1;
		th = (void *)ip4 + sizeof(*ip4);
		if (ip4->ihl != 5 || (void *)(th + 1) > end)
			return 1; /* options: not ours to judge, leave it to the kernel */
		t.ipv4.saddr = ip4->saddr;
		t.ipv4.daddr = ip4->daddr;
		t.ipv4.sport = th->source;
		t.ipv4.dport = th->dest;
		tlen = sizeof(t.ipv4);
		iplen = sizeof(*ip4);
	} else {
		struct ipv6hdr *ip6 = ip;

		if ((void *)(ip6 + 1) > end)
			return 1;
		th = (void *)(ip6 + 1);
		if ((void *)(th + 1) > end)
			return 1;
		__builtin_memcpy(t.ipv6.saddr, &ip6->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &ip6->daddr, 16);
		t.ipv6.sport = th->source;
		t.ipv6.dport = th->dest;
		tlen = sizeof(t.ipv6);
		iplen = sizeof(*ip6);
	}
	sk = bpf_skc_lookup_tcp(ctx, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	local = sk->state != BPF_TCP_LISTEN ||
		bpf_tcp_check_syncookie(sk, ip, iplen, th, sizeof(*th)) == 0;
	bpf_sk_release(sk);
	return local;
}

/*
 * Whether the inner packet is TCP without SYN: only those can belong to a
 * connection begun elsewhere. inner_len is the inner packet's length as its
 * own header states (decap_inner): the TCP header must lie whole within it,
 * data offset included, or the decision would rest on bytes that follow the
 * packet (GUE payload padding, or whatever a sender put there). A segment
 * cut short is no candidate: decapsulated as usual, the kernel drops it.
 */
static __always_inline int sc_tcp_not_syn(const struct decap_outer *o, void *end, __u32 inner_len)
{
	struct tcphdr *th;
	__u32 iplen;

	if (o->inner_proto == WIRE_IPPROTO_IPIP) {
		struct iphdr *ip4 = o->inner;

		if ((void *)(ip4 + 1) > end || ip4->protocol != IPPROTO_TCP || ip4->ihl != 5 ||
		    ip4->frag_off & bpf_htons(IP4_FRAG_MASK))
			return 0;
		th = (void *)(ip4 + 1);
		iplen = sizeof(*ip4);
	} else {
		struct ipv6hdr *ip6 = o->inner;

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return 0;
		th = (void *)(ip6 + 1);
		iplen = sizeof(*ip6);
	}
	if ((void *)(th + 1) > end || inner_len < iplen + sizeof(*th))
		return 0;
	if (th->doff < 5 || th->doff * 4u > inner_len - iplen)
		return 0;
	return !th->syn;
}

/*
 * The frame rewritten for the peer: MACs when the FIB had them, the outer
 * destination (4 or 16 bytes at dst, the peer's address at peer), the
 * "redirected" flag. Returns TX_SECOND_CHANCE or FWD_SECOND_CHANCE (no
 * neighbour entry, or --handoff kernel: the kernel forwards it and learns
 * the neighbour).
 *
 * The outer source stays Keel's: the kernel, which forwards it while it has
 * no neighbour entry for the peer (and so learns one), would drop a packet
 * arriving with one of its own addresses as source.
 */
static __always_inline enum keel_decap_verdict sc_rewrite_l2(struct ethhdr *eth, const struct bpf_fib_lookup *f,
							     long rc)
{
	if (handoff_kernel)
		rc = BPF_FIB_LKUP_RET_NO_NEIGH; /* the kernel's path, as for an unresolved neighbour */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return KEEL_DECAP_FWD_SECOND_CHANCE;
	__builtin_memcpy(eth->h_dest, f->dmac, 6);
	__builtin_memcpy(eth->h_source, f->smac, 6);
	return KEEL_DECAP_TX_SECOND_CHANCE;
}

/* Over an IPv4 outer header (no options) to an IPv4 peer. */
static __always_inline enum keel_decap_verdict sc_hand_on4(struct xdp_md *ctx, struct ethhdr *eth,
							   struct iphdr *oip, void *end, struct keel_gue_priv *priv,
							   const struct keel_bpf_addr_key *k)
{
	struct bpf_fib_lookup f = {};
	struct udphdr *udp;
	enum keel_decap_verdict v;
	long rc;

	if ((void *)(oip + 1) > end || oip->ihl != 5 || oip->ttl <= 1)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	udp = (void *)(oip + 1);
	if ((void *)(udp + 1) > end)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	f.family = 2; /* AF_INET */
	f.l4_protocol = IPPROTO_UDP;
	f.tot_len = bpf_ntohs(oip->tot_len);
	f.ifindex = ctx->ingress_ifindex;
	f.ipv4_src = oip->daddr;
	__builtin_memcpy(&f.ipv4_dst, k->addr, 4);
	rc = bpf_fib_lookup(ctx, &f, sizeof(f), 0);
	if ((rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) || f.ifindex != ctx->ingress_ifindex)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	v = sc_rewrite_l2(eth, &f, rc);
	__builtin_memcpy(&oip->daddr, k->addr, 4);
	oip->ttl--;
	oip->check = ip4_csum20(oip);
	udp->check = 0; /* IPv4: no UDP checksum, as Keel sends it (RFC 768, GUE 5.6.1) */
	priv->flags |= KEEL_GUE_PRIV_REDIRECTED;
	return v;
}

/*
 * Over an IPv6 outer header (no extension headers: decap_outer6 passed only
 * those) to an IPv6 peer. UDP over IPv6 carries a checksum (RFC 8200 8.1;
 * Keel always sends one, encap.c), and it covers the destination in the
 * pseudo-header and the flag byte: updated for both (RFC 1624), so the
 * handed-on packet is as valid as it came. A zero checksum (some other
 * sender's RFC 6935 zero-checksum mode, not Keel's) cannot be updated without
 * summing the payload: such a packet is not handed on.
 */
static __always_inline enum keel_decap_verdict sc_hand_on6(struct xdp_md *ctx, struct ethhdr *eth,
							   struct ipv6hdr *oip6, void *end, struct keel_gue_priv *priv,
							   const struct keel_bpf_addr_key *k)
{
	struct bpf_fib_lookup f = {};
	enum keel_decap_verdict v;
	struct udphdr *udp;
	__u16 *od, *nd, w;
	long rc;
	int i;

	if ((void *)(oip6 + 1) > end || oip6->nexthdr != IPPROTO_UDP || oip6->hop_limit <= 1)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	udp = (void *)(oip6 + 1);
	if ((void *)(udp + 1) > end || udp->check == 0 || (void *)priv->zero > end)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	f.family = 10; /* AF_INET6 */
	f.l4_protocol = IPPROTO_UDP;
	f.tot_len = sizeof(*oip6) + bpf_ntohs(oip6->payload_len);
	f.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(f.ipv6_src, &oip6->daddr, 16);
	__builtin_memcpy(f.ipv6_dst, k->addr, 16);
	rc = bpf_fib_lookup(ctx, &f, sizeof(f), 0);
	if ((rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) || f.ifindex != ctx->ingress_ifindex)
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	v = sc_rewrite_l2(eth, &f, rc);
	od = (__u16 *)&oip6->daddr;
	nd = (__u16 *)k->addr;
#pragma unroll
	for (i = 0; i < 8; i++)
		csum_replace16(&udp->check, od[i], nd[i]);
	w = *(__u16 *)&priv->type; /* type and flags: one word of the sum */
	priv->flags |= KEEL_GUE_PRIV_REDIRECTED;
	csum_replace16(&udp->check, w, *(__u16 *)&priv->type);
	if (udp->check == 0)
		udp->check = 0xffff; /* RFC 768: a computed 0 is sent as all ones */
	__builtin_memcpy(&oip6->daddr, k->addr, 16);
	oip6->hop_limit--;
	return v;
}

/*
 * Second chance (docs/second-chance.md). Keel carried the previous owner of
 * this connection's Maglev slot: if this host has no socket for it, hand the
 * packet, still encapsulated, to that backend -- only when it is one of our
 * configured peers, only once, over an outer header of the peer's family
 * (untagged), leaving by the port it came in on. Returns 0 to decapsulate as
 * usual (no previous owner, not TCP, SYN), a DECAP_SC_* verdict to
 * decapsulate and count, or TX_SECOND_CHANCE / FWD_SECOND_CHANCE with the
 * frame rewritten for XDP_TX / the kernel's forwarding.
 */
static __always_inline enum keel_decap_verdict second_chance(struct xdp_md *ctx, void *l3,
							     const struct decap_outer *o, __u32 inner_len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct keel_bpf_addr_key k = {};
	struct ethhdr *eth = data;
	struct keel_gue_priv *priv = o->priv;

	if (!o->prev_family || !sc_tcp_not_syn(o, end, inner_len))
		return 0;
	if (sc_local_socket(ctx, o, end))
		return KEEL_DECAP_DECAP_SC_LOCAL;
	if (priv->flags & KEEL_GUE_PRIV_REDIRECTED)
		return KEEL_DECAP_DECAP_SC_LOOP;
	k.family = o->prev_family;
	if (o->prev_family == KEEL_BPF_AF_INET4) {
		if ((void *)(priv->addr + 4) > end)
			return KEEL_DECAP_DECAP_SC_NO_PEER;
		__builtin_memcpy(k.addr, priv->addr, 4);
	} else {
		if ((void *)(priv->addr + 16) > end)
			return KEEL_DECAP_DECAP_SC_NO_PEER;
		__builtin_memcpy(k.addr, priv->addr, 16);
	}
	if (!bpf_map_lookup_elem(&keel_decap_peers, &k))
		return KEEL_DECAP_DECAP_SC_NO_PEER;
	/* Handed on over an untagged outer header of the peer's own family; other cases are left to the kernel. */
	if ((void *)(eth + 1) > end || l3 != (void *)(eth + 1))
		return KEEL_DECAP_DECAP_SC_NO_ROUTE;
	if (eth->h_proto == bpf_htons(ETH_P_IP) && o->prev_family == KEEL_BPF_AF_INET4)
		return sc_hand_on4(ctx, eth, l3, end, priv, &k);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6) && o->prev_family == KEEL_BPF_AF_INET6)
		return sc_hand_on6(ctx, eth, l3, end, priv, &k);
	return KEEL_DECAP_DECAP_SC_NO_ROUTE;
}

/* Decide and, for a good tunnel packet, decapsulate in place. No counters, no other side effect. */
static __always_inline enum keel_decap_verdict decap_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct decap_outer o = {};
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	enum keel_decap_verdict v;
	__u32 inner_len = 0, l2_len, outer_len, trailer;
	__be16 proto;

	if (l3 > end)
		return KEEL_DECAP_PASS_NOT_IP;
	proto = eth->h_proto;
	if (proto == bpf_htons(WIRE_ETH_P_8021Q)) {
		struct vlan_hdr_ *vh = l3;

		if ((void *)(vh + 1) > end)
			return KEEL_DECAP_PASS_NOT_IP;
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		v = decap_outer4(l3, end, &o);
	else if (proto == bpf_htons(ETH_P_IPV6))
		v = decap_outer6(l3, end, &o);
	else
		return KEEL_DECAP_PASS_NOT_IP;
	if (v != KEEL_DECAP_DECAP_IPIP && v != KEEL_DECAP_DECAP_GUE)
		return v;

	v = decap_inner(&o, end, v, &inner_len);
	if (v != KEEL_DECAP_DECAP_IPIP && v != KEEL_DECAP_DECAP_GUE)
		return v;
	if (o.prev_family) {
		enum keel_decap_verdict sc = second_chance(ctx, l3, &o, inner_len);

		if (sc == KEEL_DECAP_TX_SECOND_CHANCE || sc == KEEL_DECAP_FWD_SECOND_CHANCE)
			return sc;
		if (sc)
			v = sc;
		/* The helpers may have moved the packet: reload the bounds the strip below relies on. */
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
	}

	l2_len = l3 - data;
	outer_len = o.inner - l3;
	trailer = end - o.inner - inner_len; /* inner_len <= inner_space, checked against end */
	if (decap_strip(ctx, l2_len, outer_len, trailer,
			o.inner_proto == WIRE_IPPROTO_IPIP ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6)))
		return KEEL_DECAP_DROP_ADJUST;
	return v;
}

SEC("xdp")
int keel_decap(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	enum keel_decap_verdict v = decap_process(ctx);
	struct keel_bpf_counter *c;
	__u32 key = v;

	c = bpf_map_lookup_elem(&keel_decap_cnt, &key);
	if (c) {
		c->packets++; /* per-CPU slot: no atomics needed */
		c->bytes += bytes;
	}
	if (v == KEEL_DECAP_TX_SECOND_CHANCE)
		return XDP_TX;
	return v >= KEEL_DECAP_FIRST_DROP ? XDP_DROP : XDP_PASS; /* FWD_SECOND_CHANCE included: the kernel forwards it */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
