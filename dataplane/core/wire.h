/* Wire formats Keel reads and writes: ethertypes, header lengths, big-endian loads and stores, the GUE header and Keel's GUE private data. */
#ifndef KEEL_CORE_WIRE_H
#define KEEL_CORE_WIRE_H

/*
 * Included by the packet core and by the XDP programs (bpf/decap.bpf.c,
 * clang -target bpf), so that both ends of a tunnel read one definition
 * (glb-director's glb_gue.h is the model). Nothing from libc: the BPF
 * target has no <stdint.h> (glibc's wants gnu/stubs-32.h), so there the
 * fixed-width types come from the compiler's own predefined macros.
 */
#ifdef __bpf__
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
#else
#include <stdint.h>
#endif

/* Ethernet (IEEE 802.3) and 802.1Q. */
#define WIRE_ETH_ALEN 6
#define WIRE_ETH_HLEN 14
#define WIRE_VLAN_HLEN 4
#define WIRE_ETH_P_IPV4 0x0800
#define WIRE_ETH_P_IPV6 0x86dd
#define WIRE_ETH_P_8021Q 0x8100
#define WIRE_ETH_P_8021AD 0x88a8
#define WIRE_ETH_P_QINQ_OLD 0x9100 /* pre-802.1ad S-tag, still emitted by some switches */

/* IP, UDP and the IP-in-IP protocol numbers. */
#define WIRE_IP4_HLEN 20           /* without options */
#define WIRE_IP6_HLEN 40
#define WIRE_UDP_HLEN 8
#define WIRE_IPPROTO_IPIP 4        /* IPv4 payload, RFC 2003 */
#define WIRE_IPPROTO_IPV6 41       /* IPv6 payload, RFC 2473 / RFC 4213 */

/* Frames are byte buffers with no alignment promise: big-endian fields byte by byte. */
static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * GUE variant 0 (draft-ietf-intarea-gue 3.1), the 4-byte base header Keel
 * sends after UDP to the GUE port:
 *   byte 0  version (2 bits, 0), C (1 bit, 0: data), Hlen (5 bits: optional
 *           fields after the base header, in 32-bit words)
 *   byte 1  the inner protocol: WIRE_IPPROTO_IPIP or WIRE_IPPROTO_IPV6
 *   byte 2-3  flags (big-endian); Keel uses only KEEL_GUE_FLAG_PRIV
 */
struct keel_gue_hdr {
	uint8_t ver_c_hlen;
	uint8_t proto;
	uint8_t flags[2];
};

_Static_assert(sizeof(struct keel_gue_hdr) == 4, "GUE base header is 4 bytes");

#define KEEL_GUE_HLEN 4 /* sizeof(struct keel_gue_hdr) */
#define KEEL_GUE_VERSION(b0) ((uint8_t)(b0) >> 6)
#define KEEL_GUE_C 0x20 /* control message: never Keel's */
#define KEEL_GUE_HLEN_WORDS(b0) ((uint8_t)(b0) & 0x1f)

/*
 * Second chance in GUE (docs/second-chance.md, byte by byte): flag bit 15
 * (the last bit of the 16-bit flags field, value 0x0001) says Keel's private
 * data field follows the base header; Hlen counts it in 32-bit words.
 * Written by dataplane/core/second_chance.c, read and re-marked by
 * bpf/decap.bpf.c.
 */
#define KEEL_GUE_FLAG_PRIV 0x0001

struct keel_gue_priv {
	uint8_t type;     /* KEEL_GUE_PRIV_PREV4 or KEEL_GUE_PRIV_PREV6 */
	uint8_t flags;    /* KEEL_GUE_PRIV_REDIRECTED once a backend handed it on */
	uint8_t zero[2];
	uint8_t addr[16]; /* the previous owner: 4 bytes (PREV4) or 16 (PREV6) */
};

_Static_assert(sizeof(struct keel_gue_priv) == 20, "GUE private data is at most 5 words");

#define KEEL_GUE_PRIV_PREV4 1           /* previous owner, IPv4 (in an IPv4 outer header) */
#define KEEL_GUE_PRIV_PREV6 2           /* previous owner, IPv6 (in an IPv6 outer header) */
#define KEEL_GUE_PRIV_REDIRECTED 0x01
#define KEEL_GUE_PRIV_ADDR_OFF 4        /* offsetof(struct keel_gue_priv, addr) */
#define KEEL_GUE_PRIV_PREV4_LEN (KEEL_GUE_PRIV_ADDR_OFF + 4)
#define KEEL_GUE_PRIV_PREV6_LEN (KEEL_GUE_PRIV_ADDR_OFF + 16)
#define KEEL_GUE_PRIV_PREV4_WORDS (KEEL_GUE_PRIV_PREV4_LEN / 4)
#define KEEL_GUE_PRIV_PREV6_WORDS (KEEL_GUE_PRIV_PREV6_LEN / 4)

_Static_assert(__builtin_offsetof(struct keel_gue_priv, addr) == KEEL_GUE_PRIV_ADDR_OFF,
	       "address after type, flags and two zero bytes");

#endif
