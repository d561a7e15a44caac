/* What the contract's files share and keelctl/keel-control never see: the answers' field names
 * (written once, for encoders and decoders alike), JSON member readers and path/query writers. */
#ifndef KEEL_API_PRIV_H
#define KEEL_API_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Append s to out at *o (NUL kept); s %-encoded by the second (routes and the query both build text). */
int keel_api_put(char *out, size_t n, size_t *o, const char *s);
int keel_api_put_escaped(char *out, size_t n, size_t *o, const char *s);

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

static inline int64_t get_int(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static inline bool get_true(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* A string member as it is in o ("" when absent or not a string). */
static inline const char *get_str(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

static inline char *get_dup(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) && *json_string_value(v) ? strdup(json_string_value(v)) : NULL;
}

#endif
