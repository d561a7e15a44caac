/* Management API resources: each route turned into a keel_control call, its errors into HTTP statuses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api_routes.h"
#include "config.h"
#include "config_field.h"
#include "control.h"
#include "pkt.h"

/* The route's {vip} is a configuration's name: the contract's limit is the model's. */
_Static_assert(KEEL_API_NAME_MAX == CONFIG_NAME_MAX, "VIP name limits differ");

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

void api_routes_fail(struct api_reply *rp, enum keel_api_layer layer, int err, const char *why)
{
	api_routes_error(rp, keel_api_error_status(layer, err), "%s",
			 why && *why ? why : keel_api_error_message(layer, err));
}

int api_routes_body(const struct api_request *rq, json_t **o, struct api_reply *rp)
{
	char why[256];

	*o = NULL;
	if (!rq->body_len)
		return 0;
	if (api_request_json(rq->body, rq->body_len, o, why, sizeof(why))) {
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
		return -EINVAL;
	}
	return 0;
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
	/* Every errno of the control layer through the one table (api/keel_api.h). */
	api_routes_fail(rp, KEEL_API_CONTROL, err, why);
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
		api_routes_error(rp, keel_api_error_status(KEEL_API_CONTROL, err), "no VIP named \"%s\"",
				 what ? what : "");
	else
		api_routes_fail(rp, KEEL_API_CONTROL, err, NULL);
}

static unsigned int apply_flags(const struct keel_api_query *q)
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
			api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
			return -EINVAL;
		}
		rc = config_from_json(root, "api", cfg, &err);
		json_decref(root);
		break;
	case API_CONTENT_YAML:
		rc = config_load_buffer(rq->body, rq->body_len, "api", cfg, &err);
		break;
	default:
		api_routes_fail(rp, KEEL_API_REQUEST, EMEDIUMTYPE, NULL);
		return -EINVAL;
	}
	if (rc)
		api_routes_fail(rp, KEEL_API_CONTROL, -rc, err.msg);
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
	if (rq->t.route == KEEL_API_ROUTE_CONFIG_CHECK) {
		rp->body = json_pack("{s:b,s:o}", "valid", 1, "warnings", warnings_json(cfg));
	} else {
		diff = control_diff_json(c, cfg);
		if (!diff)
			api_routes_fail(rp, KEEL_API_CONTROL, errno ? errno : ENOMEM, NULL);
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
	int rc;

	if (api_routes_body(rq, &o, rp))
		return -EINVAL;
	rc = keel_api_empty_body_decode(o, why, sizeof(why));
	json_decref(o);
	if (rc)
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
	return rc;
}

/*
 * The request's address, parsed once by the contract (keel_api.h), in the
 * model's form. The model has one form per address: an IPv4-mapped IPv6
 * address is refused as the configuration refuses it. 0, or rp is set.
 */
static int edit_addr(struct keel_control *c, const struct keel_api_addr *a, struct config_edit *e,
		     struct api_reply *rp)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	char why[128];

	memset(e->addr, 0, sizeof(e->addr));
	if (a->family == AF_INET || (a->family == AF_INET6 && memcmp(a->bytes, mapped, 12))) {
		e->family = a->family == AF_INET ? KEEL_AF_INET4 : KEEL_AF_INET6;
		memcpy(e->addr, a->bytes, a->family == AF_INET ? 4 : 16);
		return 0;
	}
	snprintf(why, sizeof(why), "bad backend address %s", a->text);
	refused(c, rp, EINVAL, why, NULL);
	return -EINVAL;
}

static void backend_edit(struct keel_control *c, const struct api_request *rq,
			 struct api_reply *rp)
{
	/* Weight 1: the configuration's default weight (docs/config.md). */
	struct config_edit e = { .vip = rq->t.vip, .weight = KEEL_API_WEIGHT_DEFAULT };
	struct keel_api_backend_body body = { .weight = KEEL_API_WEIGHT_DEFAULT };
	const struct keel_api_addr *addr = &rq->t.addr;
	char why[512] = "";
	bool add = rq->t.route == KEEL_API_ROUTE_BACKEND_ADD;
	json_t *o, *report = NULL;
	int rc;

	switch (rq->t.route) {
	case KEEL_API_ROUTE_BACKEND_ADD:
	case KEEL_API_ROUTE_BACKEND_WEIGHT:
		e.op = add ? CONFIG_EDIT_BACKEND_ADD : CONFIG_EDIT_BACKEND_WEIGHT;
		if (api_request_json(rq->body, rq->body_len, &o, why, sizeof(why))) {
			api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
			return;
		}
		rc = keel_api_backend_body_decode(o, add, &body, why, sizeof(why));
		json_decref(o);
		if (rc) {
			api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, why);
			return;
		}
		if (add)
			addr = &body.addr;
		break;
	case KEEL_API_ROUTE_BACKEND_DEL:
		e.op = CONFIG_EDIT_BACKEND_DEL;
		break;
	case KEEL_API_ROUTE_BACKEND_DRAIN:
		e.op = CONFIG_EDIT_BACKEND_DRAIN;
		break;
	case KEEL_API_ROUTE_BACKEND_UNDRAIN:
		e.op = CONFIG_EDIT_BACKEND_UNDRAIN;
		break;
	default:
		e.op = CONFIG_EDIT_BACKEND_DISABLE;
		break;
	}
	if (e.op >= CONFIG_EDIT_BACKEND_DRAIN && empty_body(rq, rp))
		return;
	e.weight = body.weight;
	e.server_id = body.server_id; /* a QUIC VIP's backend (docs/quic.md); 0: none */
	if (edit_addr(c, addr, &e, rp))
		return;
	rc = control_config_edit(c, &e, apply_flags(&rq->q), rq->if_match, &report, why, sizeof(why));
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
	struct config_edit e = { .op = rq->t.route == KEEL_API_ROUTE_BACKEND_DRAIN_ALL
					       ? CONFIG_EDIT_SERVER_DRAIN : CONFIG_EDIT_SERVER_UNDRAIN };

	if (empty_body(rq, rp) || edit_addr(c, &rq->t.addr, &e, rp))
		return;
	rc = control_config_edit(c, &e, apply_flags(&rq->q), rq->if_match, &report, why, sizeof(why));
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
	struct config_edit e = { .op = CONFIG_EDIT_BACKEND_DEL };
	char why[512] = "";
	int rc;

	if (rq->q.dry_run) {
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, "flush has no dry run");
		return;
	}
	if (empty_body(rq, rp) || !api_routes_precondition(c, rq, rp))
		return;
	if (edit_addr(c, &rq->t.addr, &e, rp))
		return;
	rc = control_flush(c, rq->t.vip, e.addr, e.family, why, sizeof(why));
	if (rc) {
		refused(c, rp, -rc, why, NULL);
		return;
	}
	rp->status = 200;
	rp->body = json_pack("{s:b,s:s,s:s}", "flushed", 1, "vip", rq->t.vip, "backend",
			     rq->t.addr.text);
}

static void lookup(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	char why[512] = "";
	json_t *j;

	if (!rq->q.has_vip || !rq->q.has_src || !rq->q.has_sport) {
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, "lookup needs vip, src and sport");
		return;
	}
	errno = 0;
	j = control_lookup_json(c, rq->q.vip, rq->q.src.text, rq->q.sport,
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
	case KEEL_API_ROUTE_STATUS:
		view(rp, control_status_json(c), NULL);
		break;
	case KEEL_API_ROUTE_CONFIG: {
		uint64_t g;

		/* The body and its ETag read together: If-Match of this ETag guards edits of this body. */
		view(rp, control_config_json_at(c, &g), NULL);
		rp->has_etag = rp->status == 200;
		rp->etag = g;
		break;
	}
	case KEEL_API_ROUTE_VIPS:
		view(rp, control_vips_json(c, NULL), NULL);
		break;
	case KEEL_API_ROUTE_VIP:
		view(rp, control_vips_json(c, vip), vip);
		break;
	case KEEL_API_ROUTE_VIP_TABLE:
		view(rp, control_table_json(c, vip), vip);
		break;
	case KEEL_API_ROUTE_HEALTH:
		view(rp, control_health_json(c), NULL);
		break;
	case KEEL_API_ROUTE_STATS:
		view(rp, control_stats_json(c), NULL);
		break;
	case KEEL_API_ROUTE_LOOKUP:
		lookup(c, rq, rp);
		break;
	case KEEL_API_ROUTE_CONFIG_CHECK:
	case KEEL_API_ROUTE_CONFIG_DIFF:
		config_check(c, rq, rp);
		break;
	case KEEL_API_ROUTE_CONFIG_APPLY:
		config_apply(c, rq, rp);
		break;
	case KEEL_API_ROUTE_BACKEND_ADD:
	case KEEL_API_ROUTE_BACKEND_DEL:
	case KEEL_API_ROUTE_BACKEND_WEIGHT:
	case KEEL_API_ROUTE_BACKEND_DRAIN:
	case KEEL_API_ROUTE_BACKEND_UNDRAIN:
	case KEEL_API_ROUTE_BACKEND_DISABLE:
		backend_edit(c, rq, rp);
		break;
	case KEEL_API_ROUTE_BACKEND_FLUSH:
		backend_flush(c, rq, rp);
		break;
	case KEEL_API_ROUTE_BACKEND_DRAIN_ALL:
	case KEEL_API_ROUTE_BACKEND_UNDRAIN_ALL:
		backend_all(c, rq, rp);
		break;
	default:
		if (!api_bgp_handle(c, rq, rp) && /* announcements and fleet views (api_bgp.c) */
		    !api_trace_handle(c, rq, rp)) /* packet traces (api_trace.c) */
			api_routes_fail(rp, KEEL_API_REQUEST, ENOENT, NULL);
		break;
	}
}
