/* Health targets: their names, validation, one canonical form per target, its hash and index. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "health.h"
#include "health_internal.h"
#include "health_probe.h"

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_STATE_UNKNOWN: return "unknown";
	case HEALTH_STATE_UP: return "up";
	case HEALTH_STATE_DOWN: return "down";
	}
	return "invalid";
}

const char *health_result_name(enum health_result r)
{
	switch (r) {
	case HEALTH_RESULT_NONE: return "none";
	case HEALTH_RESULT_OK: return "ok";
	case HEALTH_RESULT_REFUSED: return "refused";
	case HEALTH_RESULT_TIMEOUT: return "timeout";
	case HEALTH_RESULT_BAD_STATUS: return "bad_status";
	case HEALTH_RESULT_BAD_RESPONSE: return "bad_response";
	case HEALTH_RESULT_ERROR: return "error";
	case HEALTH_RESULT_LOCAL_ERROR: return "local_error";
	}
	return "invalid";
}

/* A request-target of visible ASCII only (RFC 9112 3.2): no SP, CR or LF to smuggle headers. */
static bool path_valid(const char *path)
{
	size_t len = strnlen(path, HEALTH_PATH_MAX);

	if (len == 0 || len == HEALTH_PATH_MAX || path[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if (path[i] < 0x21 || path[i] > 0x7e)
			return false;
	return true;
}

/* A DNS name as the config accepts it: labels of letters, digits, '-' and '_', 1..63 bytes each. */
static bool host_valid(const char *host, bool required)
{
	size_t len = strnlen(host, HEALTH_HOST_MAX), label = 0;

	if (len == 0)
		return !required;
	if (len == HEALTH_HOST_MAX || host[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (c == '.') {
			if (label == 0)
				return false; /* empty label */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_') || ++label > 63)
			return false;
	}
	return true;
}

bool health_target_valid(const struct health_target *t)
{
	if (t->family != HEALTH_AF_INET4 && t->family != HEALTH_AF_INET6)
		return false;
	if (t->port == 0)
		return false;
	switch (t->type) {
	case HEALTH_NONE:
		return true;
	case HEALTH_TCP:
		break;
	case HEALTH_HTTP:
	case HEALTH_HTTPS:
		if (!path_valid(t->path) || t->expect_status < 100 || t->expect_status > 599 ||
		    (t->expect_status_max &&
		     (t->expect_status_max < t->expect_status || t->expect_status_max > 599)) ||
		    !host_valid(t->host, false))
			return false;
		break;
	case HEALTH_UDP:
		if (t->payload_len < 1 || t->payload_len > HEALTH_PAYLOAD_MAX ||
		    t->expect_len > HEALTH_PAYLOAD_MAX)
			return false;
		break;
	case HEALTH_DNS:
		if (!host_valid(t->host, true) || t->qtype == 0)
			return false;
		break;
	default:
		return false;
	}
	/* Tunnel probes: a TCP SYN in IPv4 (health_tunnel.h), IPIP or GUE. */
	if (t->via > HEALTH_VIA_TUNNEL ||
	    (t->via == HEALTH_VIA_TUNNEL &&
	     (t->type != HEALTH_TCP || t->family != HEALTH_AF_INET4 || t->encap > 1)))
		return false;
	/* timeout <= interval: at most one probe per target is ever in flight. */
	return t->interval_ms >= 1 && t->timeout_ms >= 1 && t->timeout_ms <= t->interval_ms &&
	       t->rise >= 1 && t->fall >= 1;
}

/*
 * One canonical form per target: bytes the type ignores are zeroed, so a TCP
 * check with a stale path or an IPv4 address with junk past byte 4 still
 * matches the same target. Call only on valid targets.
 */
void health_target_normalise(struct health_target *dst, const struct health_target *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->family = src->family;
	memcpy(dst->addr, src->addr, src->family == HEALTH_AF_INET6 ? 16 : 4);
	dst->port = src->port;
	dst->type = src->type;
	if (src->type == HEALTH_NONE)
		return; /* never probed: the timing fields mean nothing */
	if (src->type == HEALTH_HTTP || src->type == HEALTH_HTTPS) {
		memcpy(dst->path, src->path, strnlen(src->path, HEALTH_PATH_MAX - 1));
		dst->expect_status = src->expect_status;
		/* One form per range: 200..200 is 200. */
		dst->expect_status_max = src->expect_status_max == src->expect_status ? 0
										     : src->expect_status_max;
	}
	if (src->type == HEALTH_HTTP || src->type == HEALTH_HTTPS || src->type == HEALTH_DNS)
		memcpy(dst->host, src->host, strnlen(src->host, HEALTH_HOST_MAX - 1));
	if (src->type == HEALTH_DNS)
		dst->qtype = src->qtype;
	if (src->type == HEALTH_UDP) {
		dst->payload_len = src->payload_len;
		dst->expect_len = src->expect_len;
		memcpy(dst->payload, src->payload, src->payload_len);
		memcpy(dst->expect, src->expect, src->expect_len);
	}
	dst->interval_ms = src->interval_ms;
	dst->timeout_ms = src->timeout_ms;
	dst->rise = src->rise;
	dst->fall = src->fall;
	if (src->via == HEALTH_VIA_TUNNEL) {
		dst->via = src->via;
		dst->encap = src->encap;
		memcpy(dst->vip, src->vip, 4);
	}
}

static bool target_equal(const struct health_target *a, const struct health_target *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 && a->port == b->port &&
	       a->type == b->type && strcmp(a->path, b->path) == 0 &&
	       a->expect_status == b->expect_status && a->expect_status_max == b->expect_status_max &&
	       strcmp(a->host, b->host) == 0 && a->qtype == b->qtype &&
	       a->payload_len == b->payload_len && a->expect_len == b->expect_len &&
	       memcmp(a->payload, b->payload, a->payload_len) == 0 &&
	       memcmp(a->expect, b->expect, a->expect_len) == 0 && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->via == b->via && a->encap == b->encap && memcmp(a->vip, b->vip, 16) == 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Field by field: struct padding is not part of a target. */
uint64_t health_target_hash(const struct health_target *t)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t type = (uint32_t)t->type;

	h = fnv1a(h, &t->family, sizeof(t->family));
	h = fnv1a(h, t->addr, sizeof(t->addr));
	h = fnv1a(h, &t->port, sizeof(t->port));
	h = fnv1a(h, &type, sizeof(type));
	h = fnv1a(h, t->path, strlen(t->path));
	h = fnv1a(h, &t->expect_status, sizeof(t->expect_status));
	h = fnv1a(h, &t->expect_status_max, sizeof(t->expect_status_max));
	h = fnv1a(h, t->host, strlen(t->host));
	h = fnv1a(h, &t->qtype, sizeof(t->qtype));
	h = fnv1a(h, t->payload, t->payload_len);
	h = fnv1a(h, t->expect, t->expect_len);
	h = fnv1a(h, &t->interval_ms, sizeof(t->interval_ms));
	h = fnv1a(h, &t->timeout_ms, sizeof(t->timeout_ms));
	h = fnv1a(h, &t->rise, sizeof(t->rise));
	h = fnv1a(h, &t->fall, sizeof(t->fall));
	h = fnv1a(h, &t->via, sizeof(t->via));
	h = fnv1a(h, &t->encap, sizeof(t->encap));
	h = fnv1a(h, t->vip, sizeof(t->vip));
	return h;
}

struct health_entry *health_index_find(struct health_entry **index, uint32_t mask,
				       const struct health_target *key, uint64_t hash)
{
	if (!index)
		return NULL;
	for (uint32_t i = (uint32_t)hash & mask; index[i]; i = (i + 1) & mask)
		if (index[i]->hash == hash && target_equal(&index[i]->key, key))
			return index[i];
	return NULL;
}

void health_index_insert(struct health_entry **index, uint32_t mask, struct health_entry *e)
{
	uint32_t i = (uint32_t)e->hash & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = e;
}
