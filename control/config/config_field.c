/* Text forms of configuration scalars (addresses, prefixes, MACs, durations, names): parse and format. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "pkt.h"

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

int config_parse_addr(const char *s, uint8_t addr[16], uint8_t *family, const char **why)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = KEEL_AF_INET4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		/* One address, one form: a VIP or backend must not exist twice under two names. */
		if (!memcmp(addr, mapped, 12))
			return fail(why, "IPv4-mapped IPv6 address: write it as IPv4");
		*family = KEEL_AF_INET6;
		return 0;
	}
	if (strchr(s, '/'))
		return fail(why, "an address, not a prefix, is expected here");
	if (strchr(s, '%'))
		return fail(why, "zone identifiers are not supported");
	return fail(why, "not an IPv4 or IPv6 address");
}

/*
 * Blocks whose addresses no packet from a client can be sent to, or that
 * Keel must never send to: more specific first (the first match names the
 * reason). IPv4 in the first 4 bytes, as everywhere in the model.
 */
static const struct special {
	uint8_t family, plen;
	uint8_t net[16];
	bool link_local;
	const char *block, *reason;
} specials[] = {
	{ KEEL_AF_INET4, 32, { 0 }, false, "0.0.0.0/32", "the unspecified address" },
	{ KEEL_AF_INET4, 8, { 0 }, false, "0.0.0.0/8",
	  "in 0.0.0.0/8, \"this network\" (RFC 1122): not a destination" },
	{ KEEL_AF_INET4, 8, { 127 }, false, "127.0.0.0/8", "a loopback address (127.0.0.0/8)" },
	{ KEEL_AF_INET4, 16, { 169, 254 }, true, "169.254.0.0/16",
	  "a link-local address (169.254.0.0/16)" },
	{ KEEL_AF_INET4, 4, { 224 }, false, "224.0.0.0/4", "a multicast address (224.0.0.0/4)" },
	{ KEEL_AF_INET4, 32, { 255, 255, 255, 255 }, false, "255.255.255.255/32",
	  "the limited broadcast address" },
	{ KEEL_AF_INET4, 4, { 240 }, false, "240.0.0.0/4", "a reserved address (240.0.0.0/4, RFC 1112)" },
	{ KEEL_AF_INET6, 128, { 0 }, false, "::/128", "the unspecified address" },
	{ KEEL_AF_INET6, 128, { [15] = 1 }, false, "::1/128", "the loopback address" },
	{ KEEL_AF_INET6, 96, { [10] = 0xff, [11] = 0xff }, false, "::ffff:0:0/96",
	  "an IPv4-mapped address (::ffff:0:0/96)" },
	{ KEEL_AF_INET6, 96, { 0 }, false, "::/96",
	  "an IPv4-compatible address (::/96, deprecated by RFC 4291)" },
	{ KEEL_AF_INET6, 64, { 0x01 }, false, "100::/64", "a discard-only address (100::/64, RFC 6666)" },
	{ KEEL_AF_INET6, 10, { 0xfe, 0x80 }, true, "fe80::/10", "a link-local address (fe80::/10)" },
	{ KEEL_AF_INET6, 8, { 0xff }, false, "ff00::/8", "a multicast address (ff00::/8)" },
};

bool config_prefix_covers(const uint8_t net[16], uint8_t family, uint8_t plen,
			  const uint8_t addr[16])
{
	unsigned bits = family == KEEL_AF_INET4 ? 32 : 128, full = plen / 8u;

	if (plen > bits)
		return false;
	if (memcmp(net, addr, full))
		return false;
	return plen % 8 == 0 || !((net[full] ^ addr[full]) & (uint8_t)(0xff00u >> (plen % 8)));
}

const char *config_addr_special(const uint8_t addr[16], uint8_t family, bool link_local_ok)
{
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		const struct special *b = &specials[i];

		if (b->family != family || !config_prefix_covers(b->net, family, b->plen, addr))
			continue;
		return b->link_local && link_local_ok ? NULL : b->reason;
	}
	return NULL;
}

const char *config_prefix_special(const uint8_t addr[16], uint8_t family, uint8_t plen,
				  const char **block)
{
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		const struct special *b = &specials[i];

		if (b->family == family && (config_prefix_covers(b->net, family, b->plen, addr) ||
					    config_prefix_covers(addr, family, plen, b->net))) {
			*block = b->block;
			return b->reason;
		}
	}
	return NULL;
}

int config_parse_prefix(const char *s, uint8_t addr[16], uint8_t *family, uint8_t *plen,
			const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	unsigned long len;
	unsigned bits, i;
	char *end;
	size_t n;

	if (!slash)
		return fail(why, "expected ADDRESS/LENGTH");
	n = (size_t)(slash - s);
	if (n >= sizeof(buf))
		return fail(why, "not an IPv4 or IPv6 address");
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (config_parse_addr(buf, addr, family, why))
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return fail(why, "prefix length is not a number");
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	bits = *family == KEEL_AF_INET4 ? 32 : 128;
	if (*end || errno || len > bits)
		return fail(why, *family == KEEL_AF_INET4 ? "prefix length must be 0..32"
							  : "prefix length must be 0..128");
	/* Like ip-route(8): 10.0.0.1/8 is a typo for 10.0.0.0/8 or for a host; say so. */
	for (i = (unsigned)len; i < bits; i++)
		if (addr[i / 8] & (0x80u >> (i % 8)))
			return fail(why, "host bits set after the prefix length");
	*plen = (uint8_t)len;
	return 0;
}

int config_parse_mac(const char *s, uint8_t mac[6], const char **why)
{
	unsigned v[6];
	int i, used = 0;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &used) != 6 || used != 17)
		return fail(why, "expected a MAC address like 02:00:00:00:00:01");
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return fail(why, "expected a MAC address like 02:00:00:00:00:01");
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1)
		return fail(why, "next-hop MAC must be unicast");
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return fail(why, "next-hop MAC must not be all zero");
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ms, const char **why)
{
	uint64_t v = 0, scale;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return fail(why, "expected a duration like \"500ms\", \"2s\" or \"1m\"");
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return fail(why, "duration too long");
	}
	if (!strcmp(p, "ms"))
		scale = 1;
	else if (!strcmp(p, "s"))
		scale = 1000;
	else if (!strcmp(p, "m"))
		scale = 60000;
	else if (!*p)
		return fail(why, "duration needs a unit: ms, s or m");
	else
		return fail(why, "duration unit must be ms, s or m");
	if (v * scale > UINT32_MAX)
		return fail(why, "duration too long");
	*ms = v * scale;
	return 0;
}

int config_parse_hostport(const char *s, uint8_t addr[16], uint8_t *family, uint16_t *port,
			  const char **why)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned long p;
	char *end;
	size_t n;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return fail(why, "expected [IPv6]:PORT");
		s++;
		colon = close + 1;
		n = (size_t)(close - s);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail(why, "expected ADDRESS:PORT");
		n = (size_t)(colon - s);
		if (memchr(s, ':', n))
			return fail(why, "write an IPv6 address as [ADDRESS]:PORT");
	}
	if (n >= sizeof(host))
		return fail(why, "not an IPv4 or IPv6 address");
	memcpy(host, s, n);
	host[n] = '\0';
	if (config_parse_addr(host, addr, family, why))
		return -EINVAL;
	if (!isdigit((unsigned char)colon[1]))
		return fail(why, "port must be 1..65535");
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end || errno || p < 1 || p > 65535)
		return fail(why, "port must be 1..65535");
	*port = (uint16_t)p;
	return 0;
}

int config_parse_u64(const char *s, uint64_t *out, const char **why)
{
	int base = 10;
	uint64_t v = 0;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return fail(why, "expected a decimal or 0x hexadecimal number");
	for (; *p; p++) {
		unsigned d;

		if (isdigit((unsigned char)*p))
			d = (unsigned)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
		else
			return fail(why, "expected a decimal or 0x hexadecimal number");
		if (v > (UINT64_MAX - d) / (unsigned)base)
			return fail(why, "number does not fit in 64 bits");
		v = v * (unsigned)base + d;
	}
	*out = v;
	return 0;
}

bool config_name_ok(const char *s, size_t max)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]))
		return false;
	for (i = 0; s[i]; i++) {
		if (i + 1 >= max)
			return false;
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	}
	return true;
}

const char *config_format_addr(const uint8_t addr[16], uint8_t family, char *buf)
{
	if (!inet_ntop(family == KEEL_AF_INET4 ? AF_INET : AF_INET6, addr, buf, CONFIG_TEXT_MAX))
		strcpy(buf, "?");
	return buf;
}

void config_format_duration(uint32_t ms, char *buf)
{
	if (ms && ms % 60000 == 0)
		snprintf(buf, CONFIG_TEXT_MAX, "%um", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, CONFIG_TEXT_MAX, "%us", ms / 1000);
	else
		snprintf(buf, CONFIG_TEXT_MAX, "%ums", ms);
}

void config_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, CONFIG_TEXT_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

void config_textf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}
