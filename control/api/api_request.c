/* Management API requests: the route table, %-decoding, query parameters, bounded bodies (no I/O). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_request.h"

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/*
 * The routes. A '*' stands for one non-empty segment that is a VIP name, an
 * '@' for one that is a backend address. Every path shape has exactly one
 * method, so a shape that matches with another method is a 405 with that
 * method in Allow.
 */
struct route_def {
	const char *pattern;
	const char *method;
	enum api_route route;
};

static const struct route_def routes[] = {
	{ "v1/status", "GET", API_ROUTE_STATUS },
	{ "v1/config", "GET", API_ROUTE_CONFIG },
	{ "v1/config/check", "POST", API_ROUTE_CONFIG_CHECK },
	{ "v1/config/diff", "POST", API_ROUTE_CONFIG_DIFF },
	{ "v1/config/apply", "POST", API_ROUTE_CONFIG_APPLY },
	{ "v1/vips", "GET", API_ROUTE_VIPS },
	{ "v1/vips/*", "GET", API_ROUTE_VIP },
	{ "v1/vips/*/table", "GET", API_ROUTE_VIP_TABLE },
	{ "v1/vips/*/backends", "POST", API_ROUTE_BACKEND_ADD },
	{ "v1/vips/*/backends/@", "DELETE", API_ROUTE_BACKEND_DEL },
	{ "v1/vips/*/backends/@/weight", "PUT", API_ROUTE_BACKEND_WEIGHT },
	{ "v1/vips/*/backends/@/drain", "POST", API_ROUTE_BACKEND_DRAIN },
	{ "v1/vips/*/backends/@/undrain", "POST", API_ROUTE_BACKEND_UNDRAIN },
	{ "v1/vips/*/backends/@/disable", "POST", API_ROUTE_BACKEND_DISABLE },
	{ "v1/vips/*/backends/@/flush", "POST", API_ROUTE_BACKEND_FLUSH },
	{ "v1/backends/@/drain", "POST", API_ROUTE_BACKEND_DRAIN_ALL },
	{ "v1/backends/@/undrain", "POST", API_ROUTE_BACKEND_UNDRAIN_ALL },
	{ "v1/health", "GET", API_ROUTE_HEALTH },
	{ "v1/stats", "GET", API_ROUTE_STATS },
	{ "v1/lookup", "GET", API_ROUTE_LOOKUP },
	{ "v1/bgp", "GET", API_ROUTE_BGP },
	{ "v1/host/drain", "POST", API_ROUTE_HOST_DRAIN },
	{ "v1/host/undrain", "POST", API_ROUTE_HOST_UNDRAIN },
	{ "v1/table/digest", "GET", API_ROUTE_TABLE_DIGEST },
	{ "v1/fleet", "GET", API_ROUTE_FLEET },
	{ "v1/fleet/health", "GET", API_ROUTE_FLEET_HEALTH },
	{ "v1/history", "GET", API_ROUTE_HISTORY },
	{ "v1/trace", "GET", API_ROUTE_TRACE },
	{ "v1/trace", "POST", API_ROUTE_TRACE_ARM },
	{ "v1/trace", "DELETE", API_ROUTE_TRACE_STOP },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_request_decode(char *s)
{
	char *w = s;
	int hi, lo;

	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		hi = hexval(r[1]);
		lo = hi < 0 ? -1 : hexval(r[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

void api_request_log_path(const char *raw, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!n)
		return;
	for (const char *r = raw; *r && o + 1 < n; r++) {
		unsigned char ch = (unsigned char)*r;
		int hi = ch == '%' ? hexval(r[1]) : -1, lo = hi < 0 ? -1 : hexval(r[2]);
		unsigned char d = lo < 0 ? 0 : (unsigned char)(hi << 4 | lo);

		if (lo >= 0 && d >= 0x20 && d < 0x7f && d != '%') {
			out[o++] = (char)d;
			r += 2;
		} else if (ch > 0x20 && ch < 0x7f) {
			out[o++] = (char)ch; /* a kept escape is copied as written */
		} else if (o + 3 < n) {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			break;
		}
	}
	out[o] = '\0';
}

/* What config_schema.c accepts as a name (docs/config.md): a longer or odder one names no VIP. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

int api_request_addr(const char *text, char *out, size_t n)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, text, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)n) ? 0 : -EINVAL;
	if (inet_pton(AF_INET6, text, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)n) ? 0 : -EINVAL;
	return -EINVAL;
}

/* The raw path cut at '/' and decoded; -ENOENT when it has too many or too long segments. */
struct segments {
	unsigned int n;
	char s[API_PATH_SEGMENTS_MAX][API_SEGMENT_MAX];
};

static int split_path(const char *path, struct segments *sg)
{
	const char *p = path, *e;
	size_t len;

	if (*p != '/')
		return -EINVAL;
	sg->n = 0;
	do {
		p++;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (sg->n == API_PATH_SEGMENTS_MAX || len >= API_SEGMENT_MAX)
			return -ENOENT;
		memcpy(sg->s[sg->n], p, len);
		sg->s[sg->n][len] = '\0';
		if (api_request_decode(sg->s[sg->n]))
			return -EINVAL;
		sg->n++;
		p += len;
	} while (*p);
	return 0;
}

/* Does the path fit the pattern? *vip and *addr point at the segments under '*' and '@'. */
static bool shape_matches(const char *pattern, const struct segments *sg, const char **vip,
			  const char **addr)
{
	unsigned int i = 0;
	const char *p = pattern;

	*vip = *addr = NULL;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (i == sg->n || !sg->s[i][0])
			return false;
		if (len == 1 && (*p == '*' || *p == '@')) {
			*(*p == '*' ? vip : addr) = sg->s[i];
		} else if (strlen(sg->s[i]) != len || memcmp(sg->s[i], p, len)) {
			return false;
		}
		i++;
		p += len + (e != NULL);
	}
	return i == sg->n;
}

int api_request_route(const char *method, const char *path, struct api_target *t,
		      const char **allow, char *why, size_t whylen)
{
	struct segments sg;
	const struct route_def *shape = NULL;
	const char *vip = NULL, *addr = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	*allow = NULL;
	rc = split_path(path, &sg);
	if (rc == -EINVAL) {
		say(why, whylen, "malformed path (bad %%-escape)");
		return rc;
	}
	if (rc) {
		say(why, whylen, "no such resource");
		return rc;
	}
	/* A path may have several methods (v1/trace): the shape of this method, else the first. */
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (shape_matches(routes[i].pattern, &sg, &vip, &addr)) {
			if (!shape)
				shape = &routes[i];
			if (!strcmp(method, routes[i].method)) {
				shape = &routes[i];
				break;
			}
		}
	}
	if (!shape) {
		say(why, whylen, "no such resource");
		return -ENOENT;
	}
	if (strcmp(method, shape->method)) {
		*allow = shape->method;
		say(why, whylen, "method %.16s not allowed here (allowed: %s)", method,
		    shape->method);
		return -EOPNOTSUPP;
	}
	if (vip) {
		if (!valid_name(vip)) {
			say(why, whylen, "no VIP named \"%.64s\"", vip);
			return -ENOENT;
		}
		strcpy(t->vip, vip);
	}
	if (addr && api_request_addr(addr, t->addr, sizeof(t->addr))) {
		say(why, whylen, "\"%.64s\" is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	t->route = shape->route;
	return 0;
}

bool api_request_mutates(enum api_route route)
{
	switch (route) {
	case API_ROUTE_CONFIG_APPLY:
	case API_ROUTE_BACKEND_ADD:
	case API_ROUTE_BACKEND_DEL:
	case API_ROUTE_BACKEND_WEIGHT:
	case API_ROUTE_BACKEND_DRAIN:
	case API_ROUTE_BACKEND_UNDRAIN:
	case API_ROUTE_BACKEND_DISABLE:
	case API_ROUTE_BACKEND_FLUSH:
	case API_ROUTE_HOST_DRAIN:
	case API_ROUTE_HOST_UNDRAIN:
	case API_ROUTE_BACKEND_DRAIN_ALL:
	case API_ROUTE_BACKEND_UNDRAIN_ALL:
	case API_ROUTE_TRACE_ARM: /* the dataplane's workers do the tracing: admins only */
	case API_ROUTE_TRACE_STOP:
		return true;
	default:
		return false;
	}
}

size_t api_request_body_limit(enum api_route route)
{
	switch (route) {
	case API_ROUTE_CONFIG_CHECK:
	case API_ROUTE_CONFIG_DIFF:
	case API_ROUTE_CONFIG_APPLY:
		return API_BODY_CONFIG_MAX;
	case API_ROUTE_BACKEND_ADD:
	case API_ROUTE_BACKEND_WEIGHT:
	case API_ROUTE_BACKEND_DRAIN:
	case API_ROUTE_BACKEND_UNDRAIN:
	case API_ROUTE_BACKEND_DISABLE:
	case API_ROUTE_BACKEND_FLUSH:
	case API_ROUTE_HOST_DRAIN:
	case API_ROUTE_HOST_UNDRAIN:
	case API_ROUTE_BACKEND_DRAIN_ALL:
	case API_ROUTE_BACKEND_UNDRAIN_ALL:
	case API_ROUTE_TRACE_ARM:
	case API_ROUTE_TRACE_STOP:
		return API_BODY_EDIT_MAX;
	default:
		return 0;
	}
}

/* A flag: "?force", "force=", "force=1|true|yes" set it; "0|false|no" clear it. */
static int parse_flag(const char *v, bool *out)
{
	if (!v || !*v || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int api_request_query(struct api_query *q, const char *key, const char *value, char *why,
		      size_t whylen)
{
	char k[32], v[128];
	unsigned long port;
	char *end;

	if (strlen(key) >= sizeof(k) || (value && strlen(value) >= sizeof(v))) {
		say(why, whylen, "query parameter too long");
		return -EINVAL;
	}
	strcpy(k, key);
	strcpy(v, value ? value : "");
	if (api_request_decode(k) || api_request_decode(v)) {
		say(why, whylen, "malformed query (bad %%-escape)");
		return -EINVAL;
	}
	if (!strcmp(k, "dry_run") || !strcmp(k, "force")) {
		if (parse_flag(value ? v : NULL, k[0] == 'd' ? &q->dry_run : &q->force)) {
			say(why, whylen, "%s: expected 1, 0, true or false", k);
			return -EINVAL;
		}
	} else if (!strcmp(k, "no_wait")) {
		if (parse_flag(value ? v : NULL, &q->no_wait)) {
			say(why, whylen, "%s: expected 1, 0, true or false", k);
			return -EINVAL;
		}
	} else if (!strcmp(k, "revision")) {
		long long r;

		errno = 0;
		r = strtoll(v, &end, 10);
		if (!*v || *end || errno || r < 1) {
			say(why, whylen, "revision: \"%.24s\" is not a store revision (1 or more)", v);
			return -EINVAL;
		}
		q->revision = r;
	} else if (!strcmp(k, "vip")) {
		if (!valid_name(v)) {
			say(why, whylen, "vip: \"%.64s\" is not a VIP name", v);
			return -EINVAL;
		}
		strcpy(q->vip, v);
		q->has_vip = true;
	} else if (!strcmp(k, "src")) {
		if (api_request_addr(v, q->src, sizeof(q->src))) {
			say(why, whylen, "src: \"%.64s\" is not an IPv4 or IPv6 address", v);
			return -EINVAL;
		}
		q->has_src = true;
	} else if (!strcmp(k, "sport") || !strcmp(k, "dport")) {
		errno = 0;
		port = strtoul(v, &end, 10);
		if (!*v || *end || v[0] == '-' || v[0] == '+' || errno || port > 65535) {
			say(why, whylen, "%s: \"%.16s\" is not a port (0..65535)", k, v);
			return -EINVAL;
		}
		if (k[0] == 's') {
			q->sport = (uint16_t)port;
			q->has_sport = true;
		} else {
			q->dport = (uint16_t)port;
			q->has_dport = true;
		}
	} else {
		say(why, whylen, "unknown query parameter \"%.31s\"", k);
		return -EINVAL;
	}
	return 0;
}

int api_request_if_match(const char *value, uint64_t *gen, char *why, size_t whylen)
{
	const char *p = value, *end;
	unsigned long long v = 0;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 1 && p[0] == '*') {
		*gen = API_IF_ANY;
		return 0;
	}
	/* "N" as an entity tag is written, or N as a script may send it. */
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	end = p + n;
	if (!n || n > 19)
		goto bad;
	for (const char *d = p; d < end; d++) {
		if (*d < '0' || *d > '9')
			goto bad;
		v = v * 10 + (unsigned long long)(*d - '0');
	}
	/* 19 digits fit in 64 bits; the generation of a state file is at most 2^63-1. */
	if (v > (unsigned long long)INT64_MAX)
		goto bad;
	*gen = v;
	return 0;
bad:
	say(why, whylen,
	    "If-Match: expected one entity tag, the configuration's generation as GET /v1/config's "
	    "ETag gives it (\"42\"), or *");
	return -EINVAL;
}

enum api_content api_request_content(const char *ct)
{
	static const struct {
		const char *name;
		enum api_content kind;
	} types[] = {
		{ "application/json", API_CONTENT_JSON },
		{ "application/yaml", API_CONTENT_YAML },
		{ "application/x-yaml", API_CONTENT_YAML },
		{ "text/yaml", API_CONTENT_YAML },
		{ "text/x-yaml", API_CONTENT_YAML },
	};
	size_t n;

	if (!ct)
		return API_CONTENT_NONE;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == n && !strncasecmp(ct, types[i].name, n))
			return types[i].kind;
	return API_CONTENT_OTHER;
}

int api_request_body_init(struct api_body *b, size_t limit, long long content_length)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	if (content_length > (long long)limit)
		return -EFBIG;
	if (content_length > 0)
		b->hint = (size_t)content_length + 1;
	return 0;
}

int api_request_body_append(struct api_body *b, const char *data, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->limit - b->len)
		return -EFBIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap * 2 : (b->hint ? b->hint : 4096);
		if (cap < need)
			cap = need;
		if (cap > b->limit + 1)
			cap = b->limit + 1;
		p = realloc(b->buf, cap);
		if (!p)
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

void api_request_body_free(struct api_body *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

int api_request_json(const char *buf, size_t len, json_t **out, char *why, size_t whylen)
{
	json_error_t err;
	json_t *j;

	j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		say(why, whylen, "malformed JSON: %d:%d: %s", err.line, err.column, err.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		say(why, whylen, "the body must be a JSON object");
		return -EINVAL;
	}
	*out = j;
	return 0;
}

int api_request_backend_body(const json_t *o, bool want_addr, bool weight_required,
			     char *addr, size_t addrlen, uint32_t *weight, bool *has_weight,
			     char *why, size_t whylen)
{
	const char *key;
	json_t *v;

	*has_weight = false;
	json_object_foreach((json_t *)o, key, v) {
		if (!strcmp(key, "weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 65535) {
				say(why, whylen, "weight: expected an integer 0..65535");
				return -EINVAL;
			}
			*weight = (uint32_t)json_integer_value(v);
			*has_weight = true;
		} else if (want_addr && !strcmp(key, "address")) {
			if (!json_is_string(v) ||
			    api_request_addr(json_string_value(v), addr, addrlen)) {
				say(why, whylen, "address: expected an IPv4 or IPv6 address");
				return -EINVAL;
			}
		} else {
			say(why, whylen, "unknown key \"%.64s\"", key);
			return -EINVAL;
		}
	}
	if (want_addr && !json_object_get(o, "address")) {
		say(why, whylen, "address: required");
		return -EINVAL;
	}
	if (weight_required && !*has_weight) {
		say(why, whylen, "weight: required");
		return -EINVAL;
	}
	return 0;
}
