/* Text forms of configuration scalars (addresses, prefixes, MACs, durations, names): parse and format. */
#ifndef KEEL_CONTROL_CONFIG_FIELD_H
#define KEEL_CONTROL_CONFIG_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parsers return 0 or -EINVAL; on -EINVAL *why (never NULL) is a static
 * string an operator can act on. Addresses are 16 bytes, IPv4 in the first 4.
 */

/* An IPv4 or IPv6 address, no prefix, no zone. IPv4-mapped IPv6 is refused. */
int config_parse_addr(const char *s, uint8_t addr[16], uint8_t *family, const char **why);

/*
 * Why an address can never be a VIP, a backend or a next hop: NULL when it
 * can be. Unspecified, loopback, multicast, broadcast, reserved (240/4),
 * "this network" (0/8), IPv4-compatible and discard-only IPv6, and, unless
 * link_local_ok (a next hop may be fe80::1), link-local. The reason names
 * the block: "a loopback address (127.0.0.0/8)".
 */
const char *config_addr_special(const uint8_t addr[16], uint8_t family, bool link_local_ok);

/*
 * The same blocks against a prefix: the first one that overlaps it (either
 * covers the other), NULL when none does. *block gets that block's text,
 * "127.0.0.0/8".
 */
const char *config_prefix_special(const uint8_t addr[16], uint8_t family, uint8_t plen,
				  const char **block);

/* Does prefix net/plen cover addr (both of one family)? */
bool config_prefix_covers(const uint8_t net[16], uint8_t family, uint8_t plen,
			  const uint8_t addr[16]);

/* "ADDR/LEN" with the host bits zero. */
int config_parse_prefix(const char *s, uint8_t addr[16], uint8_t *family, uint8_t *plen,
			const char **why);

/* "aa:bb:cc:dd:ee:ff", unicast and not all zero. */
int config_parse_mac(const char *s, uint8_t mac[6], const char **why);

/* "500ms", "2s", "1m" to milliseconds (at most UINT32_MAX). */
int config_parse_duration(const char *s, uint64_t *ms, const char **why);

/* "192.0.2.1:9105" or "[2001:db8::1]:9105", port 1..65535. */
int config_parse_hostport(const char *s, uint8_t addr[16], uint8_t *family, uint16_t *port,
			  const char **why);

/* Unsigned 64-bit in decimal or 0x hex, the whole string. */
int config_parse_u64(const char *s, uint64_t *out, const char **why);

/* [A-Za-z0-9_.-], starting with a letter or digit, shorter than max. */
bool config_name_ok(const char *s, size_t max);

/*
 * snprintf for messages, where truncation is acceptable (the start of a
 * reason is what matters); through a va_list so gcc's truncation warnings,
 * meant for data, stay quiet.
 */
void config_textf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Inverse forms for the canonical JSON; buffers of CONFIG_TEXT_MAX bytes. */
#define CONFIG_TEXT_MAX 64
const char *config_format_addr(const uint8_t addr[16], uint8_t family, char *buf);
void config_format_duration(uint32_t ms, char *buf);
void config_format_mac(const uint8_t mac[6], char *buf);

#endif
