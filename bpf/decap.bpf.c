/* XDP decapsulation for backend hosts: strip Keel's IPIP/6in4/4in6/6in6/GUE outer headers and pass the client's packet to the kernel. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "keel_bpf.h"

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

#define ETH_P_8021Q_ 0x8100
#define IPPROTO_IPIP_ 4  /* IPv4 payload, RFC 2003 */
#define IPPROTO_IPV6_ 41 /* IPv6 payload, RFC 2473 / RFC 4213 */
#define IP4_FRAG_MASK 0x3fff
#define IP6_MAX_EXTHDRS 4
#define GUE_HLEN 4
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
	__u8 inner_proto;   /* IPPROTO_IPIP_ or IPPROTO_IPV6_ */
	__u8 outer_ecn;
	__u8 gue;
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
 * The GUE header after UDP at l4 (whose port already matched). udp_space is
 * what the outer IP header says the UDP datagram may occupy.
 */
static __always_inline enum keel_decap_verdict decap_gue(void *l4, void *end, __u32 udp_space,
							 struct decap_outer *o)
{
	struct udphdr *udp = l4;
	__u8 *gue = (__u8 *)(udp + 1);
	__u32 ulen;

	if ((void *)(gue + GUE_HLEN) > end)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) + GUE_HLEN || ulen > udp_space)
		return KEEL_DECAP_DROP_OUTER_TRUNCATED;
	/* draft-ietf-intarea-gue 3.1: version in the top two bits; Keel sends 0. */
	if (gue[0] >> 6)
		return KEEL_DECAP_DROP_GUE_VERSION;
	/* C (control) bit, Hlen (no optional fields) and flags are all zero in Keel's header. */
	if ((gue[0] & 0x3f) || gue[2] || gue[3])
		return KEEL_DECAP_DROP_GUE_HEADER;
	if (gue[1] != IPPROTO_IPIP_ && gue[1] != IPPROTO_IPV6_)
		return KEEL_DECAP_DROP_GUE_HEADER;
	o->inner = gue + GUE_HLEN;
	o->inner_space = ulen - sizeof(*udp) - GUE_HLEN;
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
	} else if (ip->protocol != IPPROTO_IPIP_ && ip->protocol != IPPROTO_IPV6_) {
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
				if (nh == IPPROTO_IPIP_ || nh == IPPROTO_IPV6_)
					return KEEL_DECAP_PASS_OUTER_FRAGMENT;
				return KEEL_DECAP_PASS_NOT_ENCAP;
			}
			if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
			    nh != IPPROTO_DSTOPTS)
				break;
			nh = h->nexthdr;
			p += (h->hdrlen + 1) * 8;
		}
		if (nh == IPPROTO_IPIP_ || nh == IPPROTO_IPV6_ ||
		    (nh == IPPROTO_UDP && is_gue(p, end)))
			return KEEL_DECAP_DROP_OUTER_EXTHDR;
		return KEEL_DECAP_PASS_NOT_ENCAP;
	}
	if (nh == IPPROTO_UDP) {
		if (!is_gue(p, end))
			return KEEL_DECAP_PASS_NOT_ENCAP;
	} else if (nh != IPPROTO_IPIP_ && nh != IPPROTO_IPV6_) {
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

	if (o->inner_proto == IPPROTO_IPIP_) {
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
	if (proto == bpf_htons(ETH_P_8021Q_)) {
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

	l2_len = l3 - data;
	outer_len = o.inner - l3;
	trailer = end - o.inner - inner_len; /* inner_len <= inner_space, checked against end */
	if (decap_strip(ctx, l2_len, outer_len, trailer,
			o.inner_proto == IPPROTO_IPIP_ ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6)))
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
	return v >= KEEL_DECAP_FIRST_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
