/* Management API resources: each route turned into a keel_control call, its errors into HTTP statuses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api_routes.h"
#include "api_status.h"
#include "config.h"
#include "control.h"

void api_routes_error(struct api_reply *rp, unsigned int status, const char *fmt, ...)
{
	char why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	json_decref(rp->body);
	rp->status = status;
	rp->body = json_pack("{s:s}", "error", why);
}

/* The configuration's generation as the ETag: what the next If-Match should carry. */
static void etag(struct keel_control *c, struct api_reply *rp)
{
	rp->has_etag = true;
	rp->etag = control_config_generation(c);
}

static void refused(struct keel_control *c, struct api_reply *rp, int err, const char *why,
		       json_t *report)
{
	/* Every errno of the control layer through the one table (api_status.c). */
	api_routes_error(rp, api_status_of(err), "%s", why && *why ? why : api_status_message(err));
	if (report && rp->body)
		json_object_set(rp->body, "report", report);
	json_decref(report);
	/* A 412 says where the configuration is now: the client reads it again from there. */
	if (err == ESTALE) {
		etag(c, rp);
		if (rp->body)
			json_object_set_new(rp->body, "config_generation", json_integer((json_int_t)rp->etag));
	}
}

bool api_routes_precondition(struct keel_control *c, const struct api_request *rq,
			     struct api_reply *rp)
{
	char why[256];
	uint64_t g;

	if (rq->if_match == API_IF_ANY)
		return true;
	g = control_config_generation(c);
	if (g == rq->if_match)
		return true;
	snprintf(why, sizeof(why),
		 "the configuration changed: it is at generation %llu, not %llu (If-Match); read it "
		 "again and retry",
		 (unsigned long long)g, (unsigned long long)rq->if_match);
	refused(c, rp, ESTALE, why, NULL);
	return false;
}

/* A read-only view: NULL with errno from control.h's accessors. */
static void view(struct api_reply *rp, json_t *j, const char *what)
{
	int err = errno;

	if (j) {
		rp->status = 200;
		rp->body = j;
		return;
	}
	err = err ? err : ENOMEM;
	if (err == ENOENT)
		api_routes_error(rp, api_status_of(err), "no VIP named \"%s\"", what ? what : "");
	else
		api_routes_error(rp, api_status_of(err), "%s", api_status_message(err));
}

static unsigned int apply_flags(const struct api_query *q)
{
	return (q->dry_run ? CONTROL_APPLY_DRY_RUN : 0) | (q->force ? CONTROL_APPLY_FORCE : 0) |
	       (q->no_wait ? CONTROL_APPLY_NO_WAIT : 0);
}

/* The body as a configuration (YAML or JSON by Content-Type). 0, or rp is set. */
static int body_config(const struct api_request *rq, struct keel_config **cfg,
		       struct api_reply *rp)
{
	struct config_error err = { .msg = "" };
	char why[256];
	json_t *root;
	int rc;

	switch (rq->content) {
	case API_CONTENT_JSON:
		if (api_request_json(rq->body, rq->body_len, &root, why, sizeof(why))) {
			api_routes_error(rp, 400, "%s", why);
			return -EINVAL;
		}
		rc = config_from_json(root, "api", cfg, &err);
		json_decref(root);
		break;
	case API_CONTENT_YAML:
		rc = config_load_buffer(rq->body, rq->body_len, "api", cfg, &err);
		break;
	default:
		api_routes_error(rp, 415, "Content-Type must be application/json or application/yaml");
		return -EINVAL;
	}
	if (rc)
		api_routes_error(rp, api_status_of(-rc), "%s",
				 err.msg[0] ? err.msg : api_status_message(-rc));
	return rc;
}

static json_t *warnings_json(const struct keel_config *cfg)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < cfg->n_warnings; i++)
		json_array_append_new(a, json_string(cfg->warnings[i]));
	return a;
}

static void config_check(struct keel_control *c, const struct api_request *rq,
			 struct api_reply *rp)
{
	struct keel_config *cfg;
	json_t *diff;

	if (body_config(rq, &cfg, rp))
		return;
	rp->status = 200;
	if (rq->t.route == API_ROUTE_CONFIG_CHECK) {
		rp->body = json_pack("{s:b,s:o}", "valid", 1, "warnings", warnings_json(cfg));
	} else {
		diff = control_diff_json(c, cfg);
		if (!diff)
			api_routes_error(rp, api_status_of(errno ? errno : ENOMEM), "%s",
					 api_status_message(errno ? errno : ENOMEM));
		else if (!json_object_get(diff, "warnings"))
			json_object_set_new(diff, "warnings", warnings_json(cfg));
		if (diff)
			rp->body = diff;
	}
	config_free(cfg);
}

static void config_apply(struct keel_control *c, const struct api_request *rq,
			 struct api_reply *rp)
{
	struct keel_config *cfg;
	json_t *report = NULL;
	char why[512] = "";
	int rc;

	if (body_config(rq, &cfg, rp))
		return;
	rc = control_config_apply(c, cfg, apply_flags(&rq->q), rq->q.revision, rq->if_match, &report,
				  why, sizeof(why));
	if (rc) {
		refused(c, rp, -rc, why, report);
		return;
	}
	etag(c, rp);
	rp->status = 200;
	rp->body = report ? report : json_pack("{s:b}", "applied", !rq->q.dry_run);
}

/* Body of drain/undrain/disable/flush: none, or an empty object. */
static int empty_body(const struct api_request *rq, struct api_reply *rp)
{
	char why[256];
	json_t *o;

	if (!rq->body_len)
		return 0;
	if (api_request_json(rq->body, rq->body_len, &o, why, sizeof(why))) {
		api_routes_error(rp, 400, "%s", why);
		return -EINVAL;
	}
	if (json_object_size(o)) {
		json_decref(o);
		api_routes_error(rp, 400, "this call takes no body (or {})");
		return -EINVAL;
	}
	json_decref(o);
	return 0;
}

static void backend_edit(struct keel_control *c, const struct api_request *rq,
			 struct api_reply *rp)
{
	enum control_backend_op op;
	char addr[INET6_ADDRSTRLEN], why[512] = "";
	uint32_t weight = 1; /* the configuration's default weight (docs/config.md) */
	uint16_t server_id = 0; /* QUIC VIPs: checked by api_request_backend_body */
	bool has_weight, add = rq->t.route == API_ROUTE_BACKEND_ADD;
	json_t *o, *report = NULL;
	int rc;

	strcpy(addr, rq->t.addr);
	switch (rq->t.route) {
	case API_ROUTE_BACKEND_ADD:
	case API_ROUTE_BACKEND_WEIGHT:
		op = add ? CONTROL_BACKEND_ADD : CONTROL_BACKEND_WEIGHT;
		if (api_request_json(rq->body, rq->body_len, &o, why, sizeof(why))) {
			api_routes_error(rp, 400, "%s", why);
			return;
		}
		rc = api_request_backend_body(o, add, !add, addr, sizeof(addr), &weight,
					      &has_weight, why, sizeof(why));
		if (!rc && add && json_object_get(o, "server_id"))
			server_id = (uint16_t)json_integer_value(json_object_get(o, "server_id"));
		json_decref(o);
		if (rc) {
			api_routes_error(rp, 400, "%s", why);
			return;
		}
		break;
	case API_ROUTE_BACKEND_DEL:
		op = CONTROL_BACKEND_DEL;
		break;
	case API_ROUTE_BACKEND_DRAIN:
		op = CONTROL_BACKEND_DRAIN;
		break;
	case API_ROUTE_BACKEND_UNDRAIN:
		op = CONTROL_BACKEND_UNDRAIN;
		break;
	default:
		op = CONTROL_BACKEND_DISABLE;
		break;
	}
	if (op >= CONTROL_BACKEND_DRAIN && empty_body(rq, rp))
		return;
	rc = control_backend_if(c, rq->t.vip, addr, op, weight, server_id, apply_flags(&rq->q), rq->if_match,
				&report, why, sizeof(why));
	if (rc) {
		refused(c, rp, -rc, why, report);
		return;
	}
	etag(c, rp);
	rp->status = add && !rq->q.dry_run ? 201 : 200;
	rp->body = report ? report : json_pack("{s:b}", "applied", !rq->q.dry_run);
}

/* POST /v1/backends/{addr}/drain|undrain: the server in every VIP, one change. */
static void backend_all(struct keel_control *c, const struct api_request *rq,
			struct api_reply *rp)
{
	char why[512] = "";
	json_t *report = NULL;
	int rc;

	if (empty_body(rq, rp))
		return;
	rc = control_backend_all_if(c, rq->t.addr, rq->t.route == API_ROUTE_BACKEND_DRAIN_ALL,
				    apply_flags(&rq->q), rq->if_match, &report, why, sizeof(why));
	if (rc) {
		refused(c, rp, -rc, why, report);
		return;
	}
	etag(c, rp);
	rp->status = 200;
	rp->body = report ? report : json_pack("{s:b}", "applied", !rq->q.dry_run);
}

static void backend_flush(struct keel_control *c, const struct api_request *rq,
			  struct api_reply *rp)
{
	char why[512] = "";
	int rc;

	if (rq->q.dry_run) {
		api_routes_error(rp, 400, "flush has no dry run");
		return;
	}
	if (empty_body(rq, rp) || !api_routes_precondition(c, rq, rp))
		return;
	rc = control_flush(c, rq->t.vip, rq->t.addr, why, sizeof(why));
	if (rc) {
		refused(c, rp, -rc, why, NULL);
		return;
	}
	rp->status = 200;
	rp->body = json_pack("{s:b,s:s,s:s}", "flushed", 1, "vip", rq->t.vip, "backend",
			     rq->t.addr);
}

static void lookup(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	char why[512] = "";
	json_t *j;

	if (!rq->q.has_vip || !rq->q.has_src || !rq->q.has_sport) {
		api_routes_error(rp, 400, "lookup needs vip, src and sport");
		return;
	}
	errno = 0;
	j = control_lookup_json(c, rq->q.vip, rq->q.src, rq->q.sport,
				rq->q.has_dport ? (int)rq->q.dport : -1, why, sizeof(why));
	if (j) {
		rp->status = 200;
		rp->body = j;
		return;
	}
	refused(c, rp, errno ? errno : ENOMEM, why, NULL);
}

void api_routes_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	const char *vip = rq->t.vip;

	rp->status = 500;
	rp->body = NULL;
	rp->has_etag = false;
	errno = 0;
	switch (rq->t.route) {
	case API_ROUTE_STATUS:
		view(rp, control_status_json(c), NULL);
		break;
	case API_ROUTE_CONFIG: {
		uint64_t g;

		/* The body and its ETag read together: If-Match of this ETag guards edits of this body. */
		view(rp, control_config_json_at(c, &g), NULL);
		rp->has_etag = rp->status == 200;
		rp->etag = g;
		break;
	}
	case API_ROUTE_VIPS:
		view(rp, control_vips_json(c, NULL), NULL);
		break;
	case API_ROUTE_VIP:
		view(rp, control_vips_json(c, vip), vip);
		break;
	case API_ROUTE_VIP_TABLE:
		view(rp, control_table_json(c, vip), vip);
		break;
	case API_ROUTE_HEALTH:
		view(rp, control_health_json(c), NULL);
		break;
	case API_ROUTE_STATS:
		view(rp, control_stats_json(c), NULL);
		break;
	case API_ROUTE_LOOKUP:
		lookup(c, rq, rp);
		break;
	case API_ROUTE_CONFIG_CHECK:
	case API_ROUTE_CONFIG_DIFF:
		config_check(c, rq, rp);
		break;
	case API_ROUTE_CONFIG_APPLY:
		config_apply(c, rq, rp);
		break;
	case API_ROUTE_BACKEND_ADD:
	case API_ROUTE_BACKEND_DEL:
	case API_ROUTE_BACKEND_WEIGHT:
	case API_ROUTE_BACKEND_DRAIN:
	case API_ROUTE_BACKEND_UNDRAIN:
	case API_ROUTE_BACKEND_DISABLE:
		backend_edit(c, rq, rp);
		break;
	case API_ROUTE_BACKEND_FLUSH:
		backend_flush(c, rq, rp);
		break;
	case API_ROUTE_BACKEND_DRAIN_ALL:
	case API_ROUTE_BACKEND_UNDRAIN_ALL:
		backend_all(c, rq, rp);
		break;
	default:
		if (!api_bgp_handle(c, rq, rp) && /* announcements and fleet views (api_bgp.c) */
		    !api_trace_handle(c, rq, rp)) /* packet traces (api_trace.c) */
			api_routes_error(rp, 404, "no such resource");
		break;
	}
}
