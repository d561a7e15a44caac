/* Internet checksum (RFC 1071) helpers, with incremental update (RFC 1624). */
#ifndef KEEL_CORE_CSUM_H
#define KEEL_CORE_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * One's-complement sum of len bytes as big-endian 16-bit words, added to sum
 * (not folded). Native 32-bit words are summed and folded once, then swapped
 * back to network order: the one's-complement sum does not care about byte
 * order as long as it is undone at the end (RFC 1071 section 2(B)). This runs
 * per packet for every outer IPv4 header.
 */
static inline uint32_t csum_add_bytes(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = 0;
	uint32_t w;
	uint16_t h;

	while (len >= 4) {
		memcpy(&w, p, 4);
		s += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		s += h;
		p += 2;
		len -= 2;
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (len)
		s += p[0];
#else
	if (len)
		s += (uint32_t)p[0] << 8;
#endif
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	h = (uint16_t)s;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	h = __builtin_bswap16(h);
#endif
	return sum + h;
}

/*
 * Fold to 16 bits and complement: the value to store (host order). Two
 * end-around-carry steps reach 16 bits from any 32-bit sum (the first
 * leaves at most 0x1fffe, the second at most 0xffff), without the loop's
 * branch.
 */
static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Store a host-order checksum value big-endian at p. */
static inline void csum_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Checksum of an IPv4 header whose checksum field is zero (or to verify: result 0 when valid). */
static inline uint16_t csum_ip4_header(const uint8_t *ip, size_t ihl_bytes)
{
	return csum_fold(csum_add_bytes(0, ip, ihl_bytes));
}

/* Pseudo-header sums for TCP/UDP/ICMPv6 (RFC 768, RFC 793, RFC 8200 8.1). */
static inline uint32_t csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
				    uint32_t l4_len)
{
	uint32_t s = csum_add_bytes(0, src, 4);

	s = csum_add_bytes(s, dst, 4);
	return s + proto + l4_len;
}

static inline uint32_t csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
				    uint32_t l4_len)
{
	uint32_t s = csum_add_bytes(0, src, 16);

	s = csum_add_bytes(s, dst, 16);
	s += l4_len >> 16;
	s += l4_len & 0xffff;
	return s + proto;
}

#endif
