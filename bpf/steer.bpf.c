/* XDP steering for a NIC shared with the kernel: VIP traffic to this queue's AF_XDP socket (Keel's af_xdp port), everything else to the kernel. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "keel_bpf.h"
#include "wire.h" /* dataplane/core/wire.h: ethertypes */

/*
 * Loaded by DPDK's net_af_xdp PMD (xdp_prog=steer.bpf.o): it opens this
 * object with default libbpf options, takes the first program, and fills
 * "xsks_map" with its sockets, keyed by RX queue index. Hence one program,
 * that map name, and VIP maps pinned by name so keel-control finds them.
 */

#define IP4_FRAG_MASK 0x3fff   /* MF + fragment offset, RFC 791 */
#define IP6_FRAG_OFF_M 0xfff9  /* offset + M: zero in an atomic fragment, RFC 6946 */
#define IP6_MAX_EXTHDRS 4      /* walked before giving the packet to the kernel */

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, KEEL_BPF_MAX_QUEUES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BPF_MAX_VIPS);
	__type(key, struct keel_bpf_vip_key);
	__type(value, struct keel_bpf_vip_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_steer_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KEEL_BPF_MAX_ADDRS);
	__type(key, struct keel_bpf_addr_key);
	__type(value, struct keel_bpf_addr_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_steer_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KEEL_STEER_MAX);
	__type(key, __u32);
	__type(value, struct keel_bpf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} keel_steer_cnt SEC(".maps");

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

struct ip6_frag_ {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* Fragments are steered by address and protocol: later ones carry no ports (the core hashes them on addresses). */
static __always_inline enum keel_steer_verdict steer_fragment(const struct keel_bpf_addr_key *a,
							      __u8 proto)
{
	struct keel_bpf_addr_val *v = bpf_map_lookup_elem(&keel_steer_addrs, a);
	__u32 want = proto == IPPROTO_TCP ? KEEL_BPF_ADDR_FRAG_TCP :
		     proto == IPPROTO_UDP ? KEEL_BPF_ADDR_FRAG_UDP : 0;

	return v && (v->flags & want) ? KEEL_STEER_REDIRECT_FRAGMENT : KEEL_STEER_PASS_NOT_VIP;
}

/* ICMP the core handles: echo requests (answered) and errors quoting a packet (sent to the backend). */
static __always_inline int icmp_steerable(__u8 proto, __u8 type)
{
	if (proto == IPPROTO_ICMP)
		return type == 8 || type == 3 || type == 11 || type == 12; /* RFC 792 */
	return type == 128 || (type >= 1 && type <= 4);               /* RFC 4443 2.1 */
}

/* The transport header at l4 of an unfragmented packet to dst (k's address). */
static __always_inline enum keel_steer_verdict steer_l4(struct keel_bpf_vip_key *k,
							const struct keel_bpf_addr_key *a,
							void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > end)
			return KEEL_STEER_PASS_MALFORMED;
		k->port = ports[1];
		k->proto = proto;
		if (bpf_map_lookup_elem(&keel_steer_vips, k))
			return KEEL_STEER_REDIRECT_VIP;
		k->port = 0; /* the VIP for all ports of this protocol */
		if (bpf_map_lookup_elem(&keel_steer_vips, k))
			return KEEL_STEER_REDIRECT_VIP;
		return KEEL_STEER_PASS_NOT_VIP;
	}
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		__u8 *type = l4;

		if ((void *)(type + 1) > end)
			return KEEL_STEER_PASS_MALFORMED;
		if (icmp_steerable(proto, *type) && bpf_map_lookup_elem(&keel_steer_addrs, a))
			return KEEL_STEER_REDIRECT_ICMP;
	}
	return KEEL_STEER_PASS_NOT_VIP;
}

static __always_inline enum keel_steer_verdict steer_ip4(void *l3, void *end)
{
	struct keel_bpf_vip_key k = { .family = KEEL_BPF_AF_INET4 };
	struct keel_bpf_addr_key a = { .family = KEEL_BPF_AF_INET4 };
	struct iphdr *ip = l3;

	if ((void *)(ip + 1) > end)
		return KEEL_STEER_PASS_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return KEEL_STEER_PASS_MALFORMED;
	__builtin_memcpy(k.addr, &ip->daddr, 4);
	__builtin_memcpy(a.addr, &ip->daddr, 4);
	if (ip->frag_off & bpf_htons(IP4_FRAG_MASK))
		return steer_fragment(&a, ip->protocol);
	/* ihl is 4 bits: the offset is bounded for the verifier. */
	return steer_l4(&k, &a, l3 + ip->ihl * 4, end, ip->protocol);
}

static __always_inline enum keel_steer_verdict steer_ip6(void *l3, void *end)
{
	struct keel_bpf_vip_key k = { .family = KEEL_BPF_AF_INET6 };
	struct keel_bpf_addr_key a = { .family = KEEL_BPF_AF_INET6 };
	struct ipv6hdr *ip6 = l3;
	void *p = ip6 + 1;
	__u8 nh;
	int i;

	if (p > end)
		return KEEL_STEER_PASS_MALFORMED;
	if (ip6->version != 6)
		return KEEL_STEER_PASS_MALFORMED;
	__builtin_memcpy(k.addr, &ip6->daddr, 16);
	__builtin_memcpy(a.addr, &ip6->daddr, 16);
	nh = ip6->nexthdr;

	/* RFC 8200 4.1 order: hop-by-hop, destination options, routing, fragment. */
#pragma unroll
	for (i = 0; i < IP6_MAX_EXTHDRS; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *o = p;

			if ((void *)(o + 1) > end)
				return KEEL_STEER_PASS_MALFORMED;
			nh = o->nexthdr;
			p += (o->hdrlen + 1) * 8;
		} else if (nh == IPPROTO_FRAGMENT) {
			struct ip6_frag_ *f = p;

			if ((void *)(f + 1) > end)
				return KEEL_STEER_PASS_MALFORMED;
			nh = f->nexthdr;
			p = f + 1;
			if (f->frag_off & bpf_htons(IP6_FRAG_OFF_M))
				return steer_fragment(&a, nh);
		} else {
			break;
		}
	}
	return steer_l4(&k, &a, p, end, nh);
}

/* Pure: reads the frame and the VIP maps, decides; counting and redirecting are the caller's. */
static __always_inline enum keel_steer_verdict steer_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	if (l3 > end)
		return KEEL_STEER_PASS_MALFORMED;
	proto = eth->h_proto;
	if (proto == bpf_htons(WIRE_ETH_P_8021Q)) {
		struct vlan_hdr_ *v = l3;

		if ((void *)(v + 1) > end)
			return KEEL_STEER_PASS_MALFORMED;
		proto = v->proto; /* a second tag is not IP here: the kernel's */
		l3 = v + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return steer_ip4(l3, end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return steer_ip6(l3, end);
	return KEEL_STEER_PASS_NOT_IP;
}

SEC("xdp")
int keel_steer(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	enum keel_steer_verdict v = steer_process(ctx);
	struct keel_bpf_counter *c;
	__u32 key;
	int action = XDP_PASS;

	if (v == KEEL_STEER_REDIRECT_VIP || v == KEEL_STEER_REDIRECT_ICMP ||
	    v == KEEL_STEER_REDIRECT_FRAGMENT) {
		/* No socket on this queue (Keel not running there): the lookup fails and the flag, XDP_PASS, is returned. */
		action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
		if (action != XDP_REDIRECT)
			v = KEEL_STEER_PASS_NO_XSK;
	}
	key = v;
	c = bpf_map_lookup_elem(&keel_steer_cnt, &key);
	if (c) {
		c->packets++; /* per-CPU slot: no atomics needed */
		c->bytes += bytes;
	}
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
