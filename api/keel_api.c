/* The API contract's code: route match and build, request and answer codecs, the error table (keel_api.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

void keel_api_say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* ---- routes ---------------------------------------------------------- */

static const struct keel_api_route_def routes[KEEL_API_ROUTE_COUNT] = {
#define KEEL_API_ROUTE_ROW(name, m, pat, acc, bd)                                                  \
	[KEEL_API_ROUTE_##name] = { .method = KEEL_API_##m,                                        \
				    .pattern = KEEL_API_PREFIX pat,                                \
				    .access = KEEL_API_##acc,                                      \
				    .body = KEEL_API_BODY_##bd },
	KEEL_API_ROUTES(KEEL_API_ROUTE_ROW)
#undef KEEL_API_ROUTE_ROW
};

static const char *const method_names[] = { "GET", "POST", "PUT", "DELETE" };

const struct keel_api_route_def *keel_api_route(enum keel_api_route r)
{
	return r > KEEL_API_ROUTE_NONE && r < KEEL_API_ROUTE_COUNT ? &routes[r] : NULL;
}

const char *keel_api_method_name(enum keel_api_method m)
{
	return (unsigned int)m < N_OF(method_names) ? method_names[m] : "";
}

bool keel_api_route_mutates(enum keel_api_route r)
{
	const struct keel_api_route_def *d = keel_api_route(r);

	return d && d->access == KEEL_API_ADMIN;
}

size_t keel_api_route_body_limit(enum keel_api_route r)
{
	const struct keel_api_route_def *d = keel_api_route(r);

	if (!d || d->body == KEEL_API_BODY_NONE)
		return 0;
	return d->body == KEEL_API_BODY_CONFIG ? KEEL_API_BODY_CONFIG_MAX : KEEL_API_BODY_EDIT_MAX;
}

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

int keel_api_decode(char *s)
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

/* The raw path cut at '/' and decoded; -ENOENT when it has too many or too long segments. */
struct segments {
	unsigned int n;
	char s[KEEL_API_PATH_SEGMENTS_MAX][KEEL_API_SEGMENT_MAX];
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
		if (sg->n == KEEL_API_PATH_SEGMENTS_MAX || len >= KEEL_API_SEGMENT_MAX)
			return -ENOENT;
		memcpy(sg->s[sg->n], p, len);
		sg->s[sg->n][len] = '\0';
		if (keel_api_decode(sg->s[sg->n]))
			return -EINVAL;
		sg->n++;
		p += len;
	} while (*p);
	return 0;
}

/* Does the path fit the pattern ("/v1/vips/{vip}")? *vip and *addr point at the segments under them. */
static bool shape_matches(const char *pattern, const struct segments *sg, const char **vip,
			  const char **addr)
{
	unsigned int i = 0;
	const char *p = pattern + 1;

	*vip = *addr = NULL;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (i == sg->n || !sg->s[i][0])
			return false;
		if (len == 5 && !memcmp(p, "{vip}", 5)) {
			*vip = sg->s[i];
		} else if (len == 6 && !memcmp(p, "{addr}", 6)) {
			*addr = sg->s[i];
		} else if (strlen(sg->s[i]) != len || memcmp(sg->s[i], p, len)) {
			return false;
		}
		i++;
		p += len + (e != NULL);
	}
	return i == sg->n;
}

int keel_api_match(const char *method, const char *path, struct keel_api_target *t,
		   const char **allow, char *why, size_t whylen)
{
	struct segments sg;
	enum keel_api_route shape = KEEL_API_ROUTE_NONE;
	const char *vip = NULL, *addr = NULL, *v, *a;
	int rc;

	memset(t, 0, sizeof(*t));
	*allow = NULL;
	rc = split_path(path, &sg);
	if (rc == -EINVAL) {
		keel_api_say(why, whylen, "malformed path (bad %%-escape)");
		return rc;
	}
	if (rc) {
		keel_api_say(why, whylen, "no such resource");
		return rc;
	}
	/* A path may have several methods (/trace): the row of this method, else the first. */
	for (int r = KEEL_API_ROUTE_NONE + 1; r < KEEL_API_ROUTE_COUNT; r++) {
		bool same = false;

		if (!shape_matches(routes[r].pattern, &sg, &v, &a))
			continue;
		same = !strcmp(method, method_names[routes[r].method]);
		if (shape == KEEL_API_ROUTE_NONE || same) {
			shape = (enum keel_api_route)r;
			vip = v;
			addr = a;
		}
		if (same)
			break;
	}
	if (shape == KEEL_API_ROUTE_NONE) {
		keel_api_say(why, whylen, "no such resource");
		return -ENOENT;
	}
	if (strcmp(method, method_names[routes[shape].method])) {
		*allow = method_names[routes[shape].method];
		keel_api_say(why, whylen, "method %.16s not allowed here (allowed: %s)", method, *allow);
		return -EOPNOTSUPP;
	}
	if (vip) {
		if (!keel_api_name_ok(vip)) {
			keel_api_say(why, whylen, "no VIP named \"%.64s\"", vip);
			return -ENOENT;
		}
		strcpy(t->vip, vip);
	}
	if (addr && keel_api_addr_parse(addr, &t->addr)) {
		keel_api_say(why, whylen, "\"%.64s\" is not an IPv4 or IPv6 address", addr);
		return -EINVAL;
	}
	t->route = shape;
	return 0;
}

/* Append s to out at *o (NUL kept). */
static int put(char *out, size_t n, size_t *o, const char *s)
{
	size_t len = strlen(s);

	if (*o + len >= n)
		return -ENAMETOOLONG;
	memcpy(out + *o, s, len + 1);
	*o += len;
	return 0;
}

static int put_escaped(char *out, size_t n, size_t *o, const char *s)
{
	int rc = keel_api_escape(out + *o, n - *o, s);

	if (!rc)
		*o += strlen(out + *o);
	return rc;
}

int keel_api_path(char *out, size_t n, enum keel_api_route r, const char *vip, const char *addr,
		  const struct keel_api_query *q)
{
	const struct keel_api_route_def *d = keel_api_route(r);
	const char *p;
	size_t o = 0;
	int rc;

	if (!n)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (!d)
		return -EINVAL;
	for (p = d->pattern; *p;) {
		if (!strncmp(p, "{vip}", 5)) {
			if (!vip || !*vip)
				return -EINVAL;
			rc = put_escaped(out, n, &o, vip);
			p += 5;
		} else if (!strncmp(p, "{addr}", 6)) {
			if (!addr || !*addr)
				return -EINVAL;
			rc = put_escaped(out, n, &o, addr);
			p += 6;
		} else {
			char c[2] = { *p++, '\0' };

			rc = put(out, n, &o, c);
		}
		if (rc)
			return rc;
	}
	return q ? keel_api_query_encode(q, out + o, n - o) : 0;
}

/* ---- requests -------------------------------------------------------- */

/* The query's keys, written once: the decoder and the encoder use these. */
#define Q_DRY_RUN "dry_run"
#define Q_FORCE "force"
#define Q_NO_WAIT "no_wait"
#define Q_REVISION "revision"
#define Q_VIP "vip"
#define Q_SRC "src"
#define Q_SPORT "sport"
#define Q_DPORT "dport"

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

int keel_api_query_set(struct keel_api_query *q, const char *key, const char *value, char *why,
		       size_t whylen)
{
	char k[32], v[128];
	unsigned long port;
	bool *flag = NULL;
	char *end;

	if (strlen(key) >= sizeof(k) || (value && strlen(value) >= sizeof(v))) {
		keel_api_say(why, whylen, "query parameter too long");
		return -EINVAL;
	}
	strcpy(k, key);
	strcpy(v, value ? value : "");
	if (keel_api_decode(k) || keel_api_decode(v)) {
		keel_api_say(why, whylen, "malformed query (bad %%-escape)");
		return -EINVAL;
	}
	if (!strcmp(k, Q_DRY_RUN))
		flag = &q->dry_run;
	else if (!strcmp(k, Q_FORCE))
		flag = &q->force;
	else if (!strcmp(k, Q_NO_WAIT))
		flag = &q->no_wait;
	if (flag) {
		if (parse_flag(value ? v : NULL, flag)) {
			keel_api_say(why, whylen, "%s: expected 1, 0, true or false", k);
			return -EINVAL;
		}
	} else if (!strcmp(k, Q_REVISION)) {
		long long r;

		errno = 0;
		r = strtoll(v, &end, 10);
		if (!*v || *end || errno || r < 1) {
			keel_api_say(why, whylen, "revision: \"%.24s\" is not a store revision (1 or more)", v);
			return -EINVAL;
		}
		q->revision = r;
	} else if (!strcmp(k, Q_VIP)) {
		if (!keel_api_name_ok(v)) {
			keel_api_say(why, whylen, "vip: \"%.64s\" is not a VIP name", v);
			return -EINVAL;
		}
		strcpy(q->vip, v);
		q->has_vip = true;
	} else if (!strcmp(k, Q_SRC)) {
		if (keel_api_addr_parse(v, &q->src)) {
			keel_api_say(why, whylen, "src: \"%.64s\" is not an IPv4 or IPv6 address", v);
			return -EINVAL;
		}
		q->has_src = true;
	} else if (!strcmp(k, Q_SPORT) || !strcmp(k, Q_DPORT)) {
		errno = 0;
		port = strtoul(v, &end, 10);
		if (!*v || *end || v[0] == '-' || v[0] == '+' || errno || port > 65535) {
			keel_api_say(why, whylen, "%s: \"%.16s\" is not a port (0..65535)", k, v);
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
		keel_api_say(why, whylen, "unknown query parameter \"%.31s\"", k);
		return -EINVAL;
	}
	return 0;
}

/* One "k=v" of the query: '?' before the first, '&' before the others. v is %-encoded. */
static int put_param(char *out, size_t n, size_t *o, const char *k, const char *v)
{
	int rc = put(out, n, o, *o ? "&" : "?");

	if (!rc)
		rc = put(out, n, o, k);
	if (!rc)
		rc = put(out, n, o, "=");
	return rc ? rc : put_escaped(out, n, o, v);
}

int keel_api_query_encode(const struct keel_api_query *q, char *out, size_t n)
{
	char num[24];
	size_t o = 0;
	int rc = 0;

	if (!n)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (!rc && q->dry_run)
		rc = put_param(out, n, &o, Q_DRY_RUN, "1");
	if (!rc && q->force)
		rc = put_param(out, n, &o, Q_FORCE, "1");
	if (!rc && q->no_wait)
		rc = put_param(out, n, &o, Q_NO_WAIT, "1");
	if (!rc && q->revision) {
		snprintf(num, sizeof(num), "%lld", (long long)q->revision);
		rc = put_param(out, n, &o, Q_REVISION, num);
	}
	if (!rc && q->has_vip)
		rc = put_param(out, n, &o, Q_VIP, q->vip);
	if (!rc && q->has_src)
		rc = put_param(out, n, &o, Q_SRC, q->src.text);
	if (!rc && q->has_sport) {
		snprintf(num, sizeof(num), "%u", q->sport);
		rc = put_param(out, n, &o, Q_SPORT, num);
	}
	if (!rc && q->has_dport) {
		snprintf(num, sizeof(num), "%u", q->dport);
		rc = put_param(out, n, &o, Q_DPORT, num);
	}
	return rc;
}

int keel_api_known_keys(const json_t *o, const char *const *known, char *why, size_t whylen)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; known[i] && strcmp(key, known[i]); i++)
			;
		if (!known[i]) {
			keel_api_say(why, whylen, "unknown key \"%.64s\"", key);
			return -EINVAL;
		}
	}
	return 0;
}

/* Body keys, written once. */
#define B_ADDRESS "address"
#define B_WEIGHT "weight"
#define B_SERVER_ID "server_id"
#define B_WAIT "wait"

int keel_api_backend_body_decode(const json_t *o, bool want_addr, struct keel_api_backend_body *b,
				 char *why, size_t whylen)
{
	static const char *const add_keys[] = { B_ADDRESS, B_WEIGHT, B_SERVER_ID, NULL };
	static const char *const weight_keys[] = { B_WEIGHT, NULL };
	json_t *v;

	memset(b, 0, sizeof(*b));
	b->weight = KEEL_API_WEIGHT_DEFAULT;
	if (keel_api_known_keys(o, want_addr ? add_keys : weight_keys, why, whylen))
		return -EINVAL;
	v = json_object_get(o, B_WEIGHT);
	if (v) {
		if (!json_is_integer(v) || !keel_api_weight_ok(json_integer_value(v))) {
			keel_api_say(why, whylen, "weight: expected an integer 0..%u", KEEL_API_WEIGHT_MAX);
			return -EINVAL;
		}
		b->weight = (uint32_t)json_integer_value(v);
		b->has_weight = true;
	}
	v = json_object_get(o, B_SERVER_ID);
	if (v) {
		/* A QUIC VIP's backend; the configuration check says whether it fits the VIP. */
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
			keel_api_say(why, whylen, "server_id: expected an integer 1..65535");
			return -EINVAL;
		}
		b->server_id = (uint32_t)json_integer_value(v);
	}
	v = json_object_get(o, B_ADDRESS);
	if (v) {
		if (!json_is_string(v) || keel_api_addr_parse(json_string_value(v), &b->addr)) {
			keel_api_say(why, whylen, "address: expected an IPv4 or IPv6 address");
			return -EINVAL;
		}
		b->has_addr = true;
	}
	if (want_addr && !b->has_addr) {
		keel_api_say(why, whylen, "address: required");
		return -EINVAL;
	}
	if (!want_addr && !b->has_weight) {
		keel_api_say(why, whylen, "weight: required");
		return -EINVAL;
	}
	return 0;
}

json_t *keel_api_backend_body_encode(const struct keel_api_backend_body *b)
{
	json_t *o = json_object();

	if (o && b->has_addr)
		json_object_set_new(o, B_ADDRESS, json_string(b->addr.text));
	if (o && b->has_weight)
		json_object_set_new(o, B_WEIGHT, json_integer(b->weight));
	if (o && b->server_id)
		json_object_set_new(o, B_SERVER_ID, json_integer(b->server_id));
	return o;
}

int keel_api_host_drain_decode(const json_t *o, struct keel_api_host_drain *d, char *why,
			       size_t whylen)
{
	static const char *const keys[] = { B_WAIT, NULL };
	json_t *w;

	memset(d, 0, sizeof(*d));
	if (!o)
		return 0;
	if (keel_api_known_keys(o, keys, why, whylen)) {
		size_t n = strlen(why ? why : "");

		keel_api_say(why ? why + n : NULL, why ? whylen - n : 0, " (known: wait)");
		return -EINVAL;
	}
	w = json_object_get(o, B_WAIT);
	if (!w)
		return 0;
	if (!json_is_string(w) || strlen(json_string_value(w)) >= sizeof(d->wait)) {
		keel_api_say(why, whylen, "wait: a duration up to 10m, like \"5s\"");
		return -EINVAL;
	}
	strcpy(d->wait, json_string_value(w));
	d->has_wait = true;
	return 0;
}

json_t *keel_api_host_drain_encode(const struct keel_api_host_drain *d)
{
	json_t *o = json_object();

	if (o && d->has_wait)
		json_object_set_new(o, B_WAIT, json_string(d->wait));
	return o;
}

int keel_api_empty_body_decode(const json_t *o, char *why, size_t whylen)
{
	if (o && json_object_size(o)) {
		keel_api_say(why, whylen, "this call takes no body (or {})");
		return -EINVAL;
	}
	return 0;
}

/* ---- answers ----------------------------------------------------------- */

/* Answer field names, written once: encoders and decoders below use these. */
#define F_APPLIED "applied"
#define F_DRY_RUN "dry_run"
#define F_CHANGED "changed"
#define F_GENERATION "generation"
#define F_CONFIG_GENERATION "config_generation"
#define F_PREVIEW "preview"
#define F_WARNINGS "warnings"
#define F_PUBLISH_ERROR "publish_error"
#define F_PUBLISHED "published"
#define F_ERROR "error"
#define F_REPORT "report"
#define F_VIPS "vips"
#define F_REVISION "revision"
#define F_CONVERGED "converged"
#define F_HOSTS "hosts"
#define F_PENDING_HOSTS "pending_hosts"
#define F_MOVED_SHARE "moved_share"
#define F_REMOVED "removed"
#define F_NEW "new"
#define F_EMPTY "empty"
#define F_SOURCES "sources"
#define F_BACKENDS "backends"
#define F_BEFORE "before"
#define F_AFTER "after"
#define F_ADDRESS "address"
#define F_WEIGHT "weight"
#define F_STATE "state"
#define F_HEALTH "health"
#define F_LAST "last"
#define F_LATENCY_US "latency_us"
#define F_CHECKS "checks"
#define F_SINCE_MS "since_ms"
#define F_LAST_CHECK_MS "last_check_ms"
#define F_SLOW_START "slow_start" /* a backend's ramp */
#define F_PERCENT "percent"
#define F_UNTIL_MS "until_ms"
#define F_DATAPLANE "dataplane"
#define F_WORKERS "workers"
#define F_WORKER "worker"
#define F_LCORE "lcore"
#define F_SOCKET "socket"
#define F_ACTIVATIONS "activations"
#define F_REFUSED "refused"
#define F_BUSY_CYCLES "busy_cycles"
#define F_NUMA_MISMATCH "numa_mismatch"
#define F_HOST "host"
#define F_PREFIX "prefix"
#define F_APPLIED_REVISION "applied_revision"
#define F_STORE_UP "store_up"
#define F_STORE_ERROR "store_error"
#define F_DIGESTS "digests"
#define F_DATAPLANE_ALIVE "dataplane_alive"
#define F_ANNOUNCING "announcing"
#define F_VERSION "version"
#define F_LAST_REFUSAL "last_refusal"
#define F_STORE_LOST "store_lost"
#define F_GONE "gone"

static int64_t get_int(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bool get_true(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* A string member as it is in o ("" when absent or not a string). */
static const char *get_str(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static char *get_dup(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) && *json_string_value(v) ? strdup(json_string_value(v)) : NULL;
}

void keel_api_preview_free(struct keel_api_preview *p)
{
	for (size_t i = 0; p->vips && i < p->n_vips; i++)
		free(p->vips[i].backends);
	free(p->vips);
	memset(p, 0, sizeof(*p));
}

int keel_api_preview_decode(const json_t *o, struct keel_api_preview *p)
{
	const char *name, *addr;
	json_t *v, *b;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return o ? -EINVAL : 0;
	p->vips = calloc(json_object_size(o) + 1, sizeof(*p->vips));
	if (!p->vips)
		return -ENOMEM;
	json_object_foreach((json_t *)o, name, v) {
		struct keel_api_preview_vip *pv = &p->vips[p->n_vips];
		json_t *bs = json_object_get(v, F_BACKENDS);

		if (!json_is_object(v)) /* "warnings" in a diff answer */
			continue;
		snprintf(pv->vip, sizeof(pv->vip), "%s", name);
		pv->moved_share = json_number_value(json_object_get(v, F_MOVED_SHARE));
		pv->removed = get_true(v, F_REMOVED);
		pv->added = get_true(v, F_NEW);
		pv->empty = get_true(v, F_EMPTY);
		snprintf(pv->sources_before, sizeof(pv->sources_before), "%s",
			 get_str(json_object_get(v, F_SOURCES), F_BEFORE));
		snprintf(pv->sources_after, sizeof(pv->sources_after), "%s",
			 get_str(json_object_get(v, F_SOURCES), F_AFTER));
		pv->backends = calloc(json_object_size(bs) + 1, sizeof(*pv->backends));
		if (!pv->backends) {
			keel_api_preview_free(p);
			return -ENOMEM;
		}
		p->n_vips++;
		json_object_foreach(bs, addr, b) {
			struct keel_api_preview_backend *pb = &pv->backends[pv->n_backends++];

			snprintf(pb->addr, sizeof(pb->addr), "%s", addr);
			pb->has_before = json_object_get(b, F_BEFORE) != NULL;
			pb->before = get_int(b, F_BEFORE);
			pb->after = get_int(b, F_AFTER);
		}
	}
	return 0;
}

json_t *keel_api_preview_encode(const struct keel_api_preview *p)
{
	json_t *o = json_object(), *v, *bs, *b;

	for (size_t i = 0; o && i < p->n_vips; i++) {
		const struct keel_api_preview_vip *pv = &p->vips[i];

		v = json_object();
		bs = json_object();
		if (!v || !bs || json_object_set_new(o, pv->vip, v)) {
			json_decref(bs);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(v, F_MOVED_SHARE, json_real(pv->moved_share));
		/*
		 * As keel-control writes it (plan/spec.c fills this struct): a VIP
		 * that goes is {"moved_share": 1, "removed": true}; any other has
		 * "new", "empty" (true or false) and "backends".
		 */
		if (pv->removed) {
			json_object_set_new(v, F_REMOVED, json_true());
		} else {
			json_object_set_new(v, F_NEW, json_boolean(pv->added));
			json_object_set_new(v, F_EMPTY, json_boolean(pv->empty));
		}
		if (*pv->sources_before || *pv->sources_after)
			json_object_set_new(v, F_SOURCES, json_pack("{s:s,s:s}", F_BEFORE, pv->sources_before,
								     F_AFTER, pv->sources_after));
		if (pv->removed && !pv->n_backends) {
			json_decref(bs);
			continue;
		}
		json_object_set_new(v, F_BACKENDS, bs);
		for (size_t k = 0; k < pv->n_backends; k++) {
			const struct keel_api_preview_backend *pb = &pv->backends[k];

			b = json_object();
			if (!b)
				break;
			if (pb->has_before)
				json_object_set_new(b, F_BEFORE, json_integer(pb->before));
			json_object_set_new(b, F_AFTER, json_integer(pb->after));
			json_object_set_new(bs, pb->addr, b);
		}
	}
	return o;
}

void keel_api_report_free(struct keel_api_report *r)
{
	keel_api_preview_free(&r->preview);
	for (size_t i = 0; r->warnings && i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->publish_error);
	free(r->error);
	if (r->refused) {
		keel_api_report_free(r->refused);
		free(r->refused);
	}
	free(r->vips);
	free(r->pending);
	free(r->hosts);
	free(r->host_revisions);
	memset(r, 0, sizeof(*r));
}

int keel_api_report_decode(const json_t *o, struct keel_api_report *r)
{
	json_t *a, *v, *rep;
	const char *name;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return -EINVAL;
	r->applied = get_true(o, F_APPLIED);
	r->dry_run = get_true(o, F_DRY_RUN);
	r->has_changed = json_object_get(o, F_CHANGED) != NULL;
	r->changed = get_true(o, F_CHANGED);
	r->generation = get_int(o, F_GENERATION);
	r->has_config_generation = json_object_get(o, F_CONFIG_GENERATION) != NULL;
	r->config_generation = get_int(o, F_CONFIG_GENERATION);
	r->has_revision = json_object_get(o, F_REVISION) != NULL;
	r->revision = get_int(o, F_REVISION);
	r->has_converged = json_object_get(o, F_CONVERGED) != NULL;
	r->converged = get_true(o, F_CONVERGED);
	r->has_published = json_object_get(o, F_PUBLISHED) != NULL;
	r->published = get_true(o, F_PUBLISHED);
	r->publish_error = get_dup(o, F_PUBLISH_ERROR);
	r->error = get_dup(o, F_ERROR);
	r->has_preview = json_object_get(o, F_PREVIEW) != NULL;
	if ((rc = keel_api_preview_decode(json_object_get(o, F_PREVIEW), &r->preview)))
		goto fail;
	rc = -ENOMEM;
	a = json_object_get(o, F_WARNINGS);
	r->warnings = calloc(json_array_size(a) + 1, sizeof(*r->warnings));
	if (!r->warnings)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && !(r->warnings[r->n_warnings++] = strdup(json_string_value(v))))
			goto fail;
	a = json_object_get(o, F_VIPS);
	r->has_vips = json_is_array(a);
	r->vips = calloc(json_array_size(a) + 1, sizeof(*r->vips));
	if (!r->vips)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			snprintf(r->vips[r->n_vips++], sizeof(r->vips[0]), "%s", json_string_value(v));
	a = json_object_get(o, F_HOSTS);
	r->has_hosts = json_is_object(a);
	r->hosts = calloc(json_object_size(a) + 1, sizeof(*r->hosts));
	r->host_revisions = calloc(json_object_size(a) + 1, sizeof(*r->host_revisions));
	if (!r->hosts || !r->host_revisions)
		goto fail;
	json_object_foreach(a, name, v) {
		snprintf(r->hosts[r->n_hosts], sizeof(r->hosts[0]), "%s", name);
		r->host_revisions[r->n_hosts++] = json_integer_value(v);
	}
	a = json_object_get(o, F_PENDING_HOSTS);
	r->pending = calloc(json_array_size(a) + 1, sizeof(*r->pending));
	if (!r->pending)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			snprintf(r->pending[r->n_pending++], sizeof(r->pending[0]), "%s", json_string_value(v));
	rep = json_object_get(o, F_REPORT);
	if (json_is_object(rep)) {
		r->refused = calloc(1, sizeof(*r->refused));
		if (!r->refused || (rc = keel_api_report_decode(rep, r->refused)))
			goto fail;
	}
	return 0;
fail:
	keel_api_report_free(r);
	return rc;
}

json_t *keel_api_report_encode(const struct keel_api_report *r)
{
	json_t *o = json_object(), *a;

	if (!o)
		return NULL;
	if (r->error) {
		json_object_set_new(o, F_ERROR, json_string(r->error));
		if (r->refused)
			json_object_set_new(o, F_REPORT, keel_api_report_encode(r->refused));
		return o;
	}
	json_object_set_new(o, F_APPLIED, json_boolean(r->applied));
	json_object_set_new(o, F_DRY_RUN, json_boolean(r->dry_run));
	json_object_set_new(o, F_GENERATION, json_integer(r->generation));
	if (r->has_changed)
		json_object_set_new(o, F_CHANGED, json_boolean(r->changed));
	if (r->has_config_generation)
		json_object_set_new(o, F_CONFIG_GENERATION, json_integer(r->config_generation));
	if (r->has_preview)
		json_object_set_new(o, F_PREVIEW, keel_api_preview_encode(&r->preview));
	a = json_array();
	for (size_t i = 0; a && i < r->n_warnings; i++)
		json_array_append_new(a, json_string(r->warnings[i]));
	json_object_set_new(o, F_WARNINGS, a);
	if (r->has_published)
		json_object_set_new(o, F_PUBLISHED, json_boolean(r->published));
	if (r->publish_error)
		json_object_set_new(o, F_PUBLISH_ERROR, json_string(r->publish_error));
	if (r->has_vips) {
		a = json_array();
		for (size_t i = 0; a && i < r->n_vips; i++)
			json_array_append_new(a, json_string(r->vips[i]));
		json_object_set_new(o, F_VIPS, a);
	}
	if (r->has_revision)
		json_object_set_new(o, F_REVISION, json_integer(r->revision));
	if (r->has_converged) {
		json_object_set_new(o, F_CONVERGED, json_boolean(r->converged));
		a = json_array();
		for (size_t i = 0; a && i < r->n_pending; i++)
			json_array_append_new(a, json_string(r->pending[i]));
		json_object_set_new(o, F_PENDING_HOSTS, a);
	}
	if (r->has_hosts) {
		a = json_object();
		for (size_t i = 0; a && i < r->n_hosts; i++)
			json_object_set_new(a, r->hosts[i], json_integer(r->host_revisions[i]));
		json_object_set_new(o, F_HOSTS, a);
	}
	return o;
}

int keel_api_backends_decode(const json_t *vip, struct keel_api_backend_view **out, size_t *n)
{
	json_t *a = json_object_get(vip, F_BACKENDS), *b, *h;
	size_t i;

	*n = 0;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, b) {
		struct keel_api_backend_view *v = &(*out)[(*n)++];

		h = json_object_get(b, F_HEALTH);
		v->addr = get_str(b, F_ADDRESS);
		v->weight = (uint32_t)get_int(b, F_WEIGHT);
		v->state = get_str(b, F_STATE);
		v->health = get_str(h, F_STATE);
		v->health_last = get_str(h, F_LAST);
		v->has_latency = json_object_get(h, F_LATENCY_US) != NULL;
		v->latency_us = get_int(h, F_LATENCY_US);
		v->checks = get_int(h, F_CHECKS);
		v->since_ms = get_int(h, F_SINCE_MS);
		v->last_check_ms = get_int(h, F_LAST_CHECK_MS);
		h = json_object_get(b, F_SLOW_START);
		v->has_slow_start = json_is_object(h);
		v->slow_start_percent = get_int(h, F_PERCENT);
		v->slow_start_until_ms = get_int(h, F_UNTIL_MS);
	}
	return 0;
}

json_t *keel_api_health_encode(const struct keel_api_backend_view *b)
{
	json_t *h = json_object();

	if (!h)
		return NULL;
	json_object_set_new(h, F_STATE, json_string(b->health));
	/* "last" and "latency_us" come from a check that ran: absent while unchecked or unknown. */
	if (b->has_latency) {
		json_object_set_new(h, F_LAST, json_string(b->health_last));
		json_object_set_new(h, F_LATENCY_US, json_integer(b->latency_us));
		json_object_set_new(h, F_CHECKS, json_integer(b->checks));
		json_object_set_new(h, F_SINCE_MS, json_integer(b->since_ms));
		json_object_set_new(h, F_LAST_CHECK_MS, json_integer(b->last_check_ms));
	}
	return h;
}

json_t *keel_api_backend_view_encode(const struct keel_api_backend_view *b)
{
	json_t *h = keel_api_health_encode(b), *o = json_object();

	if (!h || !o) {
		json_decref(h);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, F_ADDRESS, json_string(b->addr));
	json_object_set_new(o, F_WEIGHT, json_integer(b->weight));
	json_object_set_new(o, F_STATE, json_string(b->state));
	json_object_set_new(o, F_HEALTH, h);
	if (b->has_slow_start)
		json_object_set_new(o, F_SLOW_START,
				    json_pack("{s:I,s:I}", F_PERCENT, (json_int_t)b->slow_start_percent,
					      F_UNTIL_MS, (json_int_t)b->slow_start_until_ms));
	return o;
}

json_t *keel_api_status_workers(const json_t *status)
{
	return json_object_get(json_object_get(status, F_DATAPLANE), F_WORKERS);
}

int keel_api_workers_decode(const json_t *status, struct keel_api_worker_status **out, size_t *n,
			    bool *has)
{
	json_t *a = keel_api_status_workers(status), *v;
	size_t i;

	*n = 0;
	*has = a != NULL;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		struct keel_api_worker_status *w = &(*out)[(*n)++];

		w->worker = get_int(v, F_WORKER);
		w->lcore = get_int(v, F_LCORE);
		w->socket = get_int(v, F_SOCKET);
		w->generation = get_int(v, F_GENERATION);
		w->activations = get_int(v, F_ACTIVATIONS);
		w->refused = get_int(v, F_REFUSED);
		w->busy_cycles = get_int(v, F_BUSY_CYCLES);
		w->numa_mismatch = get_true(v, F_NUMA_MISMATCH);
	}
	return 0;
}

json_t *keel_api_worker_status_encode(const struct keel_api_worker_status *w)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", F_WORKER, (json_int_t)w->worker,
			 F_LCORE, (json_int_t)w->lcore, F_SOCKET, (json_int_t)w->socket, F_GENERATION,
			 (json_int_t)w->generation, F_ACTIVATIONS, (json_int_t)w->activations,
			 F_REFUSED, (json_int_t)w->refused, F_BUSY_CYCLES, (json_int_t)w->busy_cycles,
			 F_NUMA_MISMATCH, w->numa_mismatch);
}

void keel_api_fleet_free(struct keel_api_fleet_status *f)
{
	free(f->hosts);
	free(f->gone);
	memset(f, 0, sizeof(*f));
}

/* {name: status key} of "hosts" and "gone" into an array (strings point into o). */
static int fleet_hosts_decode(const json_t *o, struct keel_api_fleet_host **out, size_t *n)
{
	const char *name;
	json_t *h;

	*n = 0;
	*out = calloc(json_object_size(o) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_object_foreach((json_t *)o, name, h) {
		struct keel_api_fleet_host *fh = &(*out)[(*n)++];

		fh->name = name;
		fh->applied_revision = get_int(h, F_APPLIED_REVISION);
		fh->dataplane_alive = get_true(h, F_DATAPLANE_ALIVE);
		fh->announcing = get_true(h, F_ANNOUNCING);
		fh->version = get_str(h, F_VERSION);
		fh->last_refusal = get_str(h, F_LAST_REFUSAL);
		fh->digests = json_object_get(h, F_DIGESTS);
	}
	return 0;
}

int keel_api_fleet_decode(const json_t *o, struct keel_api_fleet_status *f)
{
	memset(f, 0, sizeof(*f));
	if (!json_is_object(o))
		return -EINVAL;
	f->host = get_str(o, F_HOST);
	f->prefix = get_str(o, F_PREFIX);
	f->revision = get_int(o, F_REVISION);
	f->applied_revision = get_int(o, F_APPLIED_REVISION);
	f->store_up = get_true(o, F_STORE_UP);
	f->store_lost = get_true(o, F_STORE_LOST);
	f->store_error = get_str(o, F_STORE_ERROR);
	if (fleet_hosts_decode(json_object_get(o, F_HOSTS), &f->hosts, &f->n_hosts) ||
	    fleet_hosts_decode(json_object_get(o, F_GONE), &f->gone, &f->n_gone)) {
		keel_api_fleet_free(f);
		return -ENOMEM;
	}
	return 0;
}

json_t *keel_api_fleet_host_encode(const struct keel_api_fleet_host *h)
{
	return json_pack("{s:I,s:b,s:b,s:s,s:s,s:O*}", F_APPLIED_REVISION,
			 (json_int_t)h->applied_revision, F_DATAPLANE_ALIVE, h->dataplane_alive,
			 F_ANNOUNCING, h->announcing, F_VERSION, h->version, F_LAST_REFUSAL,
			 h->last_refusal, F_DIGESTS, h->digests);
}

/* raw: the hosts' own documents as the store holds them (each written by keel_api_fleet_host_encode). */
static json_t *fleet_hosts_encode(const json_t *raw, const struct keel_api_fleet_host *hs, size_t n)
{
	json_t *hosts;

	if (raw)
		return json_deep_copy(raw);
	hosts = json_object();
	for (size_t i = 0; hosts && i < n; i++)
		json_object_set_new(hosts, hs[i].name, keel_api_fleet_host_encode(&hs[i]));
	return hosts;
}

json_t *keel_api_fleet_encode(const struct keel_api_fleet_status *f)
{
	json_t *hosts = f->no_hosts ? NULL : fleet_hosts_encode(f->raw_hosts, f->hosts, f->n_hosts);
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:b,s:s,s:o*}", F_HOST, f->host, F_PREFIX,
			      f->prefix, F_REVISION, (json_int_t)f->revision, F_APPLIED_REVISION,
			      (json_int_t)f->applied_revision, F_STORE_UP, f->store_up, F_STORE_LOST,
			      f->store_lost, F_STORE_ERROR, f->store_error, F_HOSTS, hosts);

	if (o && !f->no_hosts && (f->raw_gone || f->n_gone))
		json_object_set_new(o, F_GONE, fleet_hosts_encode(f->raw_gone, f->gone, f->n_gone));
	return o;
}

/* ---- errors ---------------------------------------------------------- */

static const struct keel_api_error errors[] = {
#define KEEL_API_ERROR_ROW(e, lay, st, ex, msg)                                                    \
	{ .err = e, .layer = KEEL_API_##lay, .status = st, .exit_code = KEEL_API_EXIT_##ex,        \
	  .message = msg },
	KEEL_API_ERRORS(KEEL_API_ERROR_ROW)
#undef KEEL_API_ERROR_ROW
};

const struct keel_api_error *keel_api_errors(size_t *n)
{
	*n = N_OF(errors);
	return errors;
}

const struct keel_api_error *keel_api_error_find(enum keel_api_layer layer, int err)
{
	for (size_t i = 0; i < N_OF(errors); i++)
		if (errors[i].layer == layer && errors[i].err == err)
			return &errors[i];
	return layer == KEEL_API_TRACE ? keel_api_error_find(KEEL_API_CONTROL, err) : NULL;
}

unsigned int keel_api_error_status(enum keel_api_layer layer, int err)
{
	const struct keel_api_error *e = keel_api_error_find(layer, err);

	return e ? e->status : layer == KEEL_API_REQUEST ? 400 : 500;
}

const char *keel_api_error_message(enum keel_api_layer layer, int err)
{
	const struct keel_api_error *e = keel_api_error_find(layer, err);

	return e ? e->message : layer == KEEL_API_REQUEST ? "malformed request" : "internal error";
}

int keel_api_exit_code(unsigned int status)
{
	if (status >= 200 && status < 300)
		return KEEL_API_EXIT_OK;
	for (size_t i = 0; i < N_OF(errors); i++)
		if (errors[i].status == status)
			return errors[i].exit_code;
	/* 503 (no dataplane), 500 (not persisted), anything unexpected: retry later. */
	return KEEL_API_EXIT_UNAVAILABLE;
}
