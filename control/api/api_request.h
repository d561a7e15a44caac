/* Management API requests, free of I/O and of libmicrohttpd: routes, path segments, query, bounded bodies. */
#ifndef KEEL_CONTROL_API_REQUEST_H
#define KEEL_CONTROL_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "config_model.h"

/*
 * Everything here is pure so that the unit tests and the libFuzzer harness
 * (tests/fuzz/fuzz_api.c) reach it without a socket. api.c feeds it what
 * libmicrohttpd hands over: the method, the raw path (still %-encoded: api.c
 * turns MHD's unescaping off so that a %2F cannot create a path segment),
 * raw query values and the body as it arrives.
 */

#define API_BODY_EDIT_MAX (64u * 1024)   /* JSON edits of one backend */
#define API_BODY_CONFIG_MAX (16u << 20)  /* whole configurations (= CONFIG_MAX_FILE_BYTES) */
#define API_PATH_SEGMENTS_MAX 8
#define API_SEGMENT_MAX 256              /* raw bytes of one path segment */

enum api_route {
	API_ROUTE_NONE = 0,
	API_ROUTE_STATUS,         /* GET /v1/status */
	API_ROUTE_CONFIG,         /* GET /v1/config */
	API_ROUTE_CONFIG_CHECK,   /* POST /v1/config/check */
	API_ROUTE_CONFIG_DIFF,    /* POST /v1/config/diff */
	API_ROUTE_CONFIG_APPLY,   /* POST /v1/config/apply */
	API_ROUTE_VIPS,           /* GET /v1/vips */
	API_ROUTE_VIP,            /* GET /v1/vips/{vip} */
	API_ROUTE_VIP_TABLE,      /* GET /v1/vips/{vip}/table */
	API_ROUTE_BACKEND_ADD,    /* POST /v1/vips/{vip}/backends */
	API_ROUTE_BACKEND_DEL,    /* DELETE /v1/vips/{vip}/backends/{addr} */
	API_ROUTE_BACKEND_WEIGHT, /* PUT /v1/vips/{vip}/backends/{addr}/weight */
	API_ROUTE_BACKEND_DRAIN,  /* POST /v1/vips/{vip}/backends/{addr}/drain */
	API_ROUTE_BACKEND_UNDRAIN,
	API_ROUTE_BACKEND_DISABLE,
	API_ROUTE_BACKEND_FLUSH,
	API_ROUTE_HEALTH,         /* GET /v1/health */
	API_ROUTE_STATS,          /* GET /v1/stats */
	API_ROUTE_LOOKUP,         /* GET /v1/lookup?vip=&src=&sport=[&dport=] */
	API_ROUTE_BGP,            /* GET /v1/bgp */
	API_ROUTE_HOST_DRAIN,     /* POST /v1/host/drain {"wait": "5s"} */
	API_ROUTE_HOST_UNDRAIN,   /* POST /v1/host/undrain */
	API_ROUTE_TABLE_DIGEST,   /* GET /v1/table/digest */
	API_ROUTE_FLEET,          /* GET /v1/fleet: every host of the fleet (fleet mode) */
	API_ROUTE_FLEET_HEALTH,   /* GET /v1/fleet/health: own and fleet verdicts per backend (fleet mode) */
	API_ROUTE_BACKEND_DRAIN_ALL,   /* POST /v1/backends/{addr}/drain: in every VIP */
	API_ROUTE_BACKEND_UNDRAIN_ALL, /* POST /v1/backends/{addr}/undrain */
	API_ROUTE_TRACE,          /* GET /v1/trace: the current or last trace and its records */
	API_ROUTE_TRACE_ARM,      /* POST /v1/trace {filter}: arm a packet trace */
	API_ROUTE_TRACE_STOP,     /* DELETE /v1/trace */
	API_ROUTE_HISTORY,        /* GET /v1/history: the audit log's last changes */
	API_ROUTE_COUNT,
};

/* A resolved request target: the route and its path parameters, decoded. */
struct api_target {
	enum api_route route;
	char vip[CONFIG_NAME_MAX];
	char addr[INET6_ADDRSTRLEN]; /* canonical inet_ntop form */
};

/*
 * Resolve method and raw path. 0, or
 *   -ENOENT      no such resource (404): unknown path, or a VIP name that no
 *                configuration could hold;
 *   -EINVAL      malformed path or backend address (400);
 *   -EOPNOTSUPP  the resource exists but not with this method (405), *allow
 *                gets the value of the Allow header.
 * why (when not NULL) gets the reason.
 */
int api_request_route(const char *method, const char *path, struct api_target *t,
		      const char **allow, char *why, size_t whylen);

/* Does the route change anything (needs the admin role)? */
bool api_request_mutates(enum api_route route);

/* Largest body the route takes (0: none). */
size_t api_request_body_limit(enum api_route route);

/* Decode %XX in place. -EINVAL on a bad escape or a decoded NUL. */
int api_request_decode(char *s);

/*
 * The raw path as the access log shows it: %XX of a printable ASCII character
 * other than '%' decoded, so that grep 2001:db8::1 finds
 * /v1/vips/web/backends/2001%3Adb8%3A%3A1/weight; anything else (a control
 * character, a byte >= 0x80, a bad escape) stays or becomes %XX, so the line
 * holds only printable ASCII. log.c quotes and escapes spaces and quotes.
 * Cut to n - 1 bytes.
 */
void api_request_log_path(const char *raw, char *out, size_t n);

/* An address (already decoded) into its canonical inet_ntop form. 0 or -EINVAL. */
int api_request_addr(const char *text, char *out, size_t n);

/* Query parameters the API knows; others are refused (a typo must not go unnoticed). */
struct api_query {
	bool dry_run, force;
	bool no_wait;          /* fleet: answer once the store committed the edit */
	int64_t revision;      /* fleet: config apply's precondition (the spec revision of its diff) */
	bool has_vip, has_src, has_sport, has_dport;
	char vip[CONFIG_NAME_MAX];
	char src[INET6_ADDRSTRLEN];
	uint16_t sport;
	uint16_t dport;          /* lookup: the destination port (all-ports VIPs need it) */
};

/* One key=value (both raw, value may be NULL for "?force"). 0 or -EINVAL with why. */
int api_request_query(struct api_query *q, const char *key, const char *value, char *why,
		      size_t whylen);

/*
 * If-Match of a change (docs/api.md "Preconditions"): one entity tag, the
 * ETag of GET /v1/config ("\"42\""; a bare 42 is taken too), or "*" (any:
 * no precondition). Weak tags (W/) and lists are refused: the configuration's
 * generation is one strong validator. 0 with *gen (API_IF_ANY for "*"), or
 * -EINVAL with why.
 */
#define API_IF_ANY UINT64_MAX
int api_request_if_match(const char *value, uint64_t *gen, char *why, size_t whylen);

enum api_content {
	API_CONTENT_NONE = 0, /* no Content-Type */
	API_CONTENT_JSON,
	API_CONTENT_YAML,
	API_CONTENT_OTHER,
};

/* application/json, application/yaml (also x-yaml, text/yaml), parameters ignored. */
enum api_content api_request_content(const char *content_type);

/*
 * A request body, bounded before it is buffered: the limit is checked against
 * Content-Length before any byte is read, and against each chunk before it
 * is copied. Memory grows to at most limit + 1 (a NUL for the parsers).
 */
struct api_body {
	char *buf;     /* NULL until the first byte; NUL-terminated after */
	size_t len, cap;
	size_t limit;  /* most bytes taken */
	size_t hint;   /* Content-Length + 1 when known: the first allocation */
};

/* content_length < 0: unknown (chunked). 0, or -EFBIG when it is over limit. */
int api_request_body_init(struct api_body *b, size_t limit, long long content_length);
/* 0, -EFBIG (nothing copied: the request is over its limit), -ENOMEM. */
int api_request_body_append(struct api_body *b, const char *data, size_t n);
void api_request_body_free(struct api_body *b);

/*
 * A JSON object body, duplicate keys refused (as in YAML). 0 or -EINVAL with
 * "line:column: reason" in why.
 */
int api_request_json(const char *buf, size_t len, json_t **out, char *why, size_t whylen);

/*
 * {"address": "...", "weight": N} of a backend edit: want_addr asks for the
 * address (add); weight is 0..65535, required when weight_required.
 * Unknown keys are refused. 0 or -EINVAL with why.
 */
int api_request_backend_body(const json_t *o, bool want_addr, bool weight_required,
			     char *addr, size_t addrlen, uint32_t *weight, bool *has_weight,
			     char *why, size_t whylen);

#endif
