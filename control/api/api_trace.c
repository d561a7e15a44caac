/* The packet trace routes: GET /v1/trace (records), POST /v1/trace (arm a filter), DELETE /v1/trace (stop); and GET /v1/history (the audit log). */
#include <errno.h>
#include <stdio.h>

#include "api_routes.h"
#include "control.h"
#include "trace_filter.h"

static void trace_error(struct api_reply *rp, int err, const char *why)
{
	/* A bad filter is a malformed request (400), not a refused change: the table's trace layer. */
	api_routes_fail(rp, KEEL_API_TRACE, err, why);
}

bool api_trace_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	char why[512] = "", vip[64];
	struct keel_trace_filter f;
	json_t *body = NULL, *j;

	switch (rq->t.route) {
	case KEEL_API_ROUTE_HISTORY: /* the audit log (audit.c): small enough to share this file */
		j = control_history_json(c, 200);
		if (!j) {
			trace_error(rp, ENOMEM, why);
			return true;
		}
		rp->status = 200;
		rp->body = j;
		return true;
	case KEEL_API_ROUTE_TRACE:
		errno = 0;
		j = control_trace_json(c, why, sizeof(why));
		if (!j) {
			trace_error(rp, errno ? errno : ENOMEM, why);
			return true;
		}
		rp->status = 200;
		rp->body = j;
		return true;
	case KEEL_API_ROUTE_TRACE_ARM:
		if (rq->body_len && api_request_json(rq->body, rq->body_len, &body, why, sizeof(why))) {
			api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
			return true;
		}
		if (trace_filter_parse(body, &f, vip, sizeof(vip), why, sizeof(why))) {
			json_decref(body);
			api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
			return true;
		}
		json_decref(body);
		errno = 0;
		j = control_trace_arm(c, &f, vip, why, sizeof(why));
		if (!j) {
			trace_error(rp, errno ? errno : ENOMEM, why);
			return true;
		}
		rp->status = 200;
		rp->body = j;
		return true;
	case KEEL_API_ROUTE_TRACE_STOP:
		if (control_trace_stop(c, why, sizeof(why))) {
			trace_error(rp, ENOTCONN, why);
			return true;
		}
		rp->status = 200;
		rp->body = json_pack("{s:b}", "armed", 0);
		return true;
	default:
		return false;
	}
}
