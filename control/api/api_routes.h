/* The management API's resources: a decoded request in, a status and a JSON body out (no HTTP here). */
#ifndef KEEL_CONTROL_API_ROUTES_H
#define KEEL_CONTROL_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api_request.h"

struct keel_control;

/* A request that passed routing, access and size checks (api.c). */
struct api_request {
	struct keel_api_target t;  /* route, {vip}, {addr} (api/keel_api.h) */
	struct keel_api_query q;
	enum api_content content;
	const char *body; /* NUL-terminated, body_len bytes before the NUL */
	size_t body_len;
	uint64_t if_match; /* If-Match of a change: API_IF_ANY when none */
};

struct api_reply {
	unsigned int status;
	json_t *body; /* owned by the reply; NULL only when out of memory */
	bool has_etag; /* ETag: the configuration's generation (GET /v1/config, changes) */
	uint64_t etag;
};

/*
 * Routes that change something but not the configuration (flush, host
 * drain): their If-Match is checked here, before the change. false: 412 set.
 */
bool api_routes_precondition(struct keel_control *c, const struct api_request *rq,
			     struct api_reply *rp);

/* Serve one request: every path sets rp (errors as {"error": "reason"}). */
void api_routes_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp);

/* The BGP, host drain and table digest routes (api_bgp.c); false: not one of them. */
bool api_bgp_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp);

/* The packet trace routes (api_trace.c); false: not one of them. */
bool api_trace_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp);

/* rp = the status of err in layer (api/keel_api.h's error table) + {"error": why, or its message}. */
void api_routes_fail(struct api_reply *rp, enum keel_api_layer layer, int err, const char *why);

/* The body as a JSON object (NULL when there is none). 0, or -EINVAL with rp set (400). */
int api_routes_body(const struct api_request *rq, json_t **o, struct api_reply *rp);

/* rp = status + {"error": reason}. */
void api_routes_error(struct api_reply *rp, unsigned int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
