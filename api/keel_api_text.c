/* The contract's text: the one reason formatter, %-decoding and escaping, names and addresses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

void keel_api_say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int keel_api_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int keel_api_decode(char *s)
{
	char *w = s;
	int hi, lo;

	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		hi = keel_api_hexval(r[1]);
		lo = hi < 0 ? -1 : keel_api_hexval(r[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

int keel_api_escape(char *out, size_t n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!n)
		return -ENAMETOOLONG;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';

		if (o + (plain ? 1 : 3) >= n) {
			out[o] = '\0';
			return -ENAMETOOLONG;
		}
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

bool keel_api_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= KEEL_API_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

int keel_api_addr_set(struct keel_api_addr *a, int family, const uint8_t *bytes)
{
	size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	memset(a, 0, sizeof(*a));
	if (!len)
		return -EINVAL;
	a->family = family;
	memcpy(a->bytes, bytes, len);
	return inet_ntop(family, a->bytes, a->text, sizeof(a->text)) ? 0 : -EINVAL;
}

int keel_api_addr_parse(const char *text, struct keel_api_addr *a)
{
	uint8_t bin[16];

	if (inet_pton(AF_INET, text, bin) == 1)
		return keel_api_addr_set(a, AF_INET, bin);
	if (inet_pton(AF_INET6, text, bin) == 1)
		return keel_api_addr_set(a, AF_INET6, bin);
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

/* Append s to out at *o (NUL kept). */
int keel_api_put(char *out, size_t n, size_t *o, const char *s)
{
	size_t len = strlen(s);

	if (*o + len >= n)
		return -ENAMETOOLONG;
	memcpy(out + *o, s, len + 1);
	*o += len;
	return 0;
}

int keel_api_put_escaped(char *out, size_t n, size_t *o, const char *s)
{
	int rc = keel_api_escape(out + *o, n - *o, s);

	if (!rc)
		*o += strlen(out + *o);
	return rc;
}
