/* The routes of the contract (KEEL_API_ROUTES): their table, the server's match and keelctl's paths. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

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
			rc = keel_api_put_escaped(out, n, &o, vip);
			p += 5;
		} else if (!strncmp(p, "{addr}", 6)) {
			if (!addr || !*addr)
				return -EINVAL;
			rc = keel_api_put_escaped(out, n, &o, addr);
			p += 6;
		} else {
			char c[2] = { *p++, '\0' };

			rc = keel_api_put(out, n, &o, c);
		}
		if (rc)
			return rc;
	}
	return q ? keel_api_query_encode(q, out + o, n - o) : 0;
}
