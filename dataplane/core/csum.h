/* Internet checksum (RFC 1071) helpers, with incremental update (RFC 1624). */
#ifndef KEEL_CORE_CSUM_H
#define KEEL_CORE_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One's-complement sum of len bytes as big-endian 16-bit words, added to sum (not folded). */
static inline uint32_t csum_add_bytes(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	while (len >= 4) {
		s += ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		s += ((uint32_t)p[0] << 8) | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* Fold to 16 bits and complement: the value to store (host order). */
static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
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
