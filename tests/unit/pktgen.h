/* Test packet crafting, with its own naive checksum code so tests check the core against an independent implementation. */
#ifndef KEEL_TEST_PKTGEN_H
#define KEEL_TEST_PKTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pktgen {
	int family;            /* 4 or 6 */
	const char *src;       /* textual addresses, inet_pton */
	const char *dst;
	uint8_t proto;         /* 6, 17, 1, 58, or anything */
	uint16_t sport, dport; /* host order */
	uint8_t tcp_flags;     /* default 0 means ACK when proto is TCP */
	uint16_t payload_len;  /* L4 payload bytes (pattern 0x00, 0x01, ...) */
	int vlan;              /* -1 or 0 = none; else the TCI (1..4095) */
	uint8_t ttl;           /* 0 means 64 */
	uint8_t tos;           /* IPv4 TOS / IPv6 traffic class */
	bool df;               /* IPv4 DF */
	uint8_t ip4_opt_len;   /* IPv4 options bytes (multiple of 4, NOPs + EOL) */
	uint16_t frag_offset;  /* in 8-byte units; with more_frags makes a fragment */
	bool more_frags;
	bool ip6_frag_hdr;     /* IPv6: add a fragment header (frag_offset/more_frags) */
	uint8_t ip6_hbh_len;   /* IPv6: add a hop-by-hop header of 8*(n) bytes when n > 0 */
	uint8_t icmp_type, icmp_code; /* for proto 1 / 58 */
	uint16_t pad;          /* Ethernet trailing padding bytes after the IP packet */
	const uint8_t *l4_override; /* if set, raw L4 bytes (l4_override_len) replace the generated L4 */
	uint16_t l4_override_len;
};

/* Fixed MACs used by generated frames. */
extern const uint8_t pktgen_client_mac[6];
extern const uint8_t pktgen_lb_mac[6];

/* Build a frame into buf; returns its length, or 0 if it does not fit. Checksums valid. */
size_t pktgen_build(uint8_t *buf, size_t cap, const struct pktgen *g);

/* Build an IP packet only (no Ethernet), same rules; used to make quoted packets for ICMP errors. */
size_t pktgen_build_ip(uint8_t *buf, size_t cap, const struct pktgen *g);

/* Naive RFC 1071 checksum, summing byte pairs one at a time. */
uint16_t pktgen_csum(const uint8_t *data, size_t len);

/* Whether an IPv4 header (ihl bytes) checksums to zero. */
bool pktgen_ip4_csum_ok(const uint8_t *ip);

/*
 * Whether the TCP/UDP/ICMP/ICMPv6 checksum of the L4 segment at l4 (len bytes)
 * is right for the given IP header (family 4 or 6, ip points to its start).
 * A UDP-over-IPv4 checksum of zero is accepted (RFC 768: none computed).
 */
bool pktgen_l4_csum_ok(int family, const uint8_t *ip, const uint8_t *l4, size_t len, uint8_t proto);

/* inet_pton into 16 bytes (IPv4 in the first 4, rest zero). */
void pktgen_addr(int family, const char *text, uint8_t out[16]);

#endif
