/* The etcd gateway's answers, parsed from buffers (etcd_parse.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_parse.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out, *o;
	size_t i;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *out_len)
{
	size_t i, pad = 0, n = 0;
	char *o;

	*out = NULL;
	*out_len = 0;
	if (slen % 4)
		return -EPROTO;
	if (slen && s[slen - 1] == '=')
		pad = slen >= 2 && s[slen - 2] == '=' ? 2 : 1;
	o = malloc(slen / 4 * 3 + 1);
	if (!o)
		return -ENOMEM;
	for (i = 0; i < slen; i += 4) {
		int v[4], k;
		bool last = i + 4 == slen;

		for (k = 0; k < 4; k++) {
			/* '=' only as the padding of the last quantum */
			if (last && s[i + k] == '=' && k >= 4 - (int)pad)
				v[k] = 0;
			else if ((v[k] = b64_val(s[i + k])) < 0) {
				free(o);
				return -EPROTO;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		o[n++] = (char)(w >> 16);
		if (!last || pad < 2)
			o[n++] = (char)(w >> 8);
		if (!last || pad < 1)
			o[n++] = (char)w;
	}
	o[n] = '\0';
	*out = o;
	*out_len = n;
	return 0;
}

/* etcd's reason (a gRPC status code and its message) as one errno of etcd.h. */
static int etcd_errno(json_int_t code, const char *msg)
{
	if (strstr(msg, "compacted"))
		return -ESTALE;
	if (strstr(msg, "future revision"))
		return -ERANGE;
	switch (code) {
	case 16: /* Unauthenticated: "invalid auth token" */
		return -ETCD_ETOKEN;
	case 7: /* PermissionDenied */
		return -EACCES;
	case 3: /* InvalidArgument: also what a wrong password or no user is */
		return strstr(msg, "auth") || strstr(msg, "user") || strstr(msg, "password") ? -EACCES : -EINVAL;
	case 9: /* FailedPrecondition: "authentication is not enabled", "root user ..." */
		return strstr(msg, "auth") || strstr(msg, "user") ? -EACCES : -EIO;
	case 5: /* NotFound: "requested lease not found" */
		return -ENOENT;
	case 14: /* Unavailable: "no leader", "request timed out", "leader changed" */
		if (!strcmp(msg, "etcdserver: no leader"))
			return -ETCD_ENOLEADER;
		return -ETIMEDOUT;
	case 4: /* DeadlineExceeded */
		return -ETIMEDOUT;
	case 8: /* ResourceExhausted: the space quota, or too many requests */
		return strstr(msg, "space") ? -ENOSPC : -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int etcd_parse_answer(const char *buf, size_t len, long http_status, json_t **root, char *err,
		      size_t errlen)
{
	json_error_t jerr;
	json_t *j, *e, *r;

	*root = NULL;
	j = json_loadb(buf, len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		if (http_status < 200 || http_status > 299)
			snprintf(err, errlen, "HTTP status %ld and no etcd answer", http_status);
		else
			snprintf(err, errlen, "not an etcd answer: %s", j ? "not an object" : jerr.text);
		json_decref(j);
		return http_status >= 200 && http_status <= 299 ? -EPROTO : -EIO;
	}
	e = json_object_get(j, "error");
	if (e) {
		/* Unary calls: {"error": "...", "message": "...", "code": N}; streams: {"error": {...}}. */
		const json_t *holder = json_is_object(e) ? e : j;
		json_t *code = json_object_get(holder, "code");
		const char *msg = json_string_value(json_object_get(holder, "message"));
		int rc;

		if (!code)
			code = json_object_get(holder, "grpc_code");
		if (!msg)
			msg = json_is_string(e) ? json_string_value(e) : "no reason given";
		rc = etcd_errno(json_is_integer(code) ? json_integer_value(code) : -1, msg);
		snprintf(err, errlen, "etcd: %s", msg);
		json_decref(j);
		return rc;
	}
	if (http_status < 200 || http_status > 299) {
		snprintf(err, errlen, "HTTP status %ld", http_status);
		json_decref(j);
		return -EIO;
	}
	r = json_object_get(j, "result");
	if (r) {
		if (!json_is_object(r)) {
			snprintf(err, errlen, "not an etcd answer: \"result\" is not an object");
			json_decref(j);
			return -EPROTO;
		}
		json_incref(r);
		json_decref(j);
		j = r;
	}
	*root = j;
	return 0;
}

int etcd_parse_i64(const json_t *obj, const char *field, int64_t *out)
{
	const json_t *v = json_object_get(obj, field);
	const char *s;
	char *end;
	long long x;

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EPROTO;
	s = json_string_value(v);
	if (!*s || json_string_length(v) != strlen(s) || (*s != '-' && (*s < '0' || *s > '9')))
		return -EPROTO;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end)
		return -EPROTO;
	*out = x;
	return 0;
}

int etcd_parse_revision(const json_t *root, int64_t *revision)
{
	const json_t *h = json_object_get(root, "header");

	*revision = 0;
	if (h && !json_is_object(h))
		return -EPROTO;
	return h ? etcd_parse_i64(h, "revision", revision) : 0;
}

static int b64_field(const json_t *o, const char *field, char **out, size_t *len)
{
	const json_t *v = json_object_get(o, field);

	if (!v)
		return etcd_b64_decode("", 0, out, len);
	if (!json_is_string(v))
		return -EPROTO;
	return etcd_b64_decode(json_string_value(v), json_string_length(v), out, len);
}

void etcd_kv_free(struct keel_etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int etcd_parse_kv(const json_t *o, struct keel_etcd_kv *kv)
{
	size_t klen;
	int rc;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(o))
		return -EPROTO;
	rc = b64_field(o, "key", &kv->key, &klen);
	if (!rc && strlen(kv->key) != klen)
		rc = -EPROTO; /* Keel's keys are text */
	if (!rc)
		rc = b64_field(o, "value", &kv->value, &kv->value_len);
	if (!rc)
		rc = etcd_parse_i64(o, "create_revision", &kv->create_revision);
	if (!rc)
		rc = etcd_parse_i64(o, "mod_revision", &kv->mod_revision);
	if (!rc)
		rc = etcd_parse_i64(o, "version", &kv->version);
	if (!rc)
		rc = etcd_parse_i64(o, "lease", &kv->lease);
	if (rc)
		etcd_kv_free(kv);
	return rc;
}

int etcd_parse_range(const json_t *root, struct keel_etcd_range *out)
{
	const json_t *kvs = json_object_get(root, "kvs");
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = etcd_parse_revision(root, &out->revision);
	if (!rc)
		rc = etcd_parse_i64(root, "count", &out->count);
	if (rc)
		return rc;
	if (!kvs || json_is_null(kvs))
		return 0;
	if (!json_is_array(kvs))
		return -EPROTO;
	if (json_array_size(kvs)) {
		out->kvs = calloc(json_array_size(kvs), sizeof(*out->kvs));
		if (!out->kvs)
			return -ENOMEM;
	}
	for (i = 0; i < json_array_size(kvs); i++) {
		rc = etcd_parse_kv(json_array_get(kvs, i), &out->kvs[out->n]);
		if (rc) {
			keel_etcd_range_free(out);
			return rc;
		}
		out->n++;
	}
	return 0;
}

void keel_etcd_range_free(struct keel_etcd_range *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		etcd_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

void etcd_watch_msg_free(struct etcd_watch_msg *m)
{
	size_t i;

	for (i = 0; i < m->n_events; i++)
		etcd_kv_free(&m->events[i].kv);
	free(m->events);
	memset(m, 0, sizeof(*m));
}

int etcd_parse_watch(const json_t *root, struct etcd_watch_msg *m)
{
	const json_t *evs = json_object_get(root, "events");
	const char *reason = json_string_value(json_object_get(root, "cancel_reason"));
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	m->created = json_is_true(json_object_get(root, "created"));
	m->canceled = json_is_true(json_object_get(root, "canceled"));
	snprintf(m->reason, sizeof(m->reason), "%s", reason ? reason : "");
	rc = etcd_parse_revision(root, &m->revision);
	if (!rc)
		rc = etcd_parse_i64(root, "compact_revision", &m->compact_revision);
	if (rc)
		return rc;
	if (!evs || json_is_null(evs))
		return 0;
	if (!json_is_array(evs))
		return -EPROTO;
	if (json_array_size(evs)) {
		m->events = calloc(json_array_size(evs), sizeof(*m->events));
		if (!m->events)
			return -ENOMEM;
	}
	for (i = 0; i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i);
		const json_t *type = json_object_get(ev, "type");
		struct keel_etcd_event *e = &m->events[m->n_events];

		/* PUT is the enum's zero, so the gateway leaves it out. */
		if (!json_is_object(ev) || (type && (!json_is_string(type) ||
				(strcmp(json_string_value(type), "PUT") && strcmp(json_string_value(type), "DELETE"))))) {
			rc = -EPROTO;
			break;
		}
		e->is_delete = type && !strcmp(json_string_value(type), "DELETE");
		rc = etcd_parse_kv(json_object_get(ev, "kv"), &e->kv);
		if (rc)
			break;
		m->n_events++;
	}
	if (rc)
		etcd_watch_msg_free(m);
	return rc;
}

int etcd_lines_feed(struct etcd_lines *l, const char *data, size_t n,
		    int (*line)(void *arg, const char *s, size_t len), void *arg)
{
	size_t start = 0, i;
	int rc = 0;

	/* Bounded: what stays without a newline after this chunk is at most max bytes. */
	if (n > SIZE_MAX / 4 - l->len)
		return -E2BIG;
	if (l->len + n > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *b;

		while (cap < l->len + n)
			cap *= 2;
		b = realloc(l->buf, cap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, data, n);
	l->len += n;
	for (i = 0; i < l->len && !rc; i++) {
		if (l->buf[i] != '\n')
			continue;
		rc = line(arg, l->buf + start, i - start);
		start = i + 1;
	}
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	if (!rc && l->len > l->max)
		return -E2BIG;
	return rc;
}

void etcd_lines_free(struct etcd_lines *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}
