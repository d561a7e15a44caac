/* Management API resources of the announcements: GET /v1/bgp, POST /v1/host/drain|undrain, GET /v1/table/digest. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "api_routes.h"
#include "config_field.h"
#include "control.h"
#include "control_bgp.h"

static void view(struct api_reply *rp, json_t *j)
{
	if (j) {
		rp->status = 200;
		rp->body = j;
		return;
	}
	api_routes_error(rp, 500, "%s", strerror(errno ? errno : ENOMEM));
}

/* {} or {"wait": "5s"} (api/keel_api.h): the drain's wait, instead of bgp.drain_wait. */
static int drain_wait(const struct api_request *rq, struct api_reply *rp, uint32_t *wait_ms)
{
	struct keel_api_host_drain d;
	const char *why = NULL;
	char err[256];
	uint64_t ms;
	json_t *o;
	int rc;

	*wait_ms = UINT32_MAX;
	if (api_routes_body(rq, &o, rp))
		return -EINVAL;
	rc = keel_api_host_drain_decode(o, &d, err, sizeof(err));
	json_decref(o);
	if (rc) {
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, err);
		return -EINVAL;
	}
	if (!d.has_wait)
		return 0;
	if (config_parse_duration(d.wait, &ms, &why) || ms > KEEL_API_DRAIN_WAIT_MAX_MS) {
		snprintf(err, sizeof(err), "wait: %s", why ? why : "a duration up to 10m, like \"5s\"");
		api_routes_fail(rp, KEEL_API_REQUEST, EINVAL, err);
		return -EINVAL;
	}
	*wait_ms = (uint32_t)ms;
	return 0;
}

static void drain(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	char why[512] = "";
	uint32_t wait_ms;
	int rc;

	if (drain_wait(rq, rp, &wait_ms) || !api_routes_precondition(c, rq, rp))
		return;
	rc = rq->t.route == KEEL_API_ROUTE_HOST_DRAIN ? control_host_drain(c, wait_ms, why, sizeof(why))
						       : control_host_undrain(c, why, sizeof(why));
	if (rc) {
		/* EINVAL: no bgp: section (409); the rest is ours (500): the table's host layer. */
		api_routes_error(rp, keel_api_error_status(KEEL_API_HOST, -rc), "%s",
				 why[0] ? why : strerror(-rc));
		return;
	}
	view(rp, control_bgp_view(c));
}

bool api_bgp_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	switch (rq->t.route) {
	case KEEL_API_ROUTE_BGP:
		view(rp, control_bgp_view(c));
		return true;
	case KEEL_API_ROUTE_TABLE_DIGEST:
		view(rp, control_digest_json(c));
		return true;
	case KEEL_API_ROUTE_FLEET: {
		json_t *j = control_fleet_json(c);

		if (!j && errno == ENOENT)
			api_routes_error(rp, keel_api_error_status(KEEL_API_CONTROL, ENOENT),
					 "not in a fleet: keel.yaml has no fleet: section");
		else
			view(rp, j);
		return true;
	}
	case KEEL_API_ROUTE_FLEET_HEALTH: {
		json_t *j = control_fleet_health_view(c);

		if (!j && errno == ENOENT)
			api_routes_error(rp, keel_api_error_status(KEEL_API_CONTROL, ENOENT),
					 "not in a fleet: keel.yaml has no fleet: section");
		else
			view(rp, j);
		return true;
	}
	case KEEL_API_ROUTE_FLEET_FORGET: { /* a gone host's last-known record (control_fleet_forget.c) */
		char why[512] = "";
		json_t *j = NULL;
		int rc = control_fleet_forget(c, rq->t.vip, &j, why, sizeof(why));

		if (rc)
			api_routes_fail(rp, KEEL_API_CONTROL, -rc, why);
		else
			view(rp, j);
		return true;
	}
	case KEEL_API_ROUTE_HOST_DRAIN:
	case KEEL_API_ROUTE_HOST_UNDRAIN:
		drain(c, rq, rp);
		return true;
	default:
		return false;
	}
}
