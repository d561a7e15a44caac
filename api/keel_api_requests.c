/* The requests of the contract: the query and the bodies, one decoder and one encoder each. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

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
	int rc = keel_api_put(out, n, o, *o ? "&" : "?");

	if (!rc)
		rc = keel_api_put(out, n, o, k);
	if (!rc)
		rc = keel_api_put(out, n, o, "=");
	return rc ? rc : keel_api_put_escaped(out, n, o, v);
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
