/* Management API resources of the announcements: GET /v1/bgp, POST /v1/host/drain|undrain, GET /v1/table/digest. */
#include <errno.h>
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

/* {} or {"wait": "5s"}: the drain's wait, instead of bgp.drain_wait. */
static int drain_wait(const struct api_request *rq, struct api_reply *rp, uint32_t *wait_ms)
{
	static const char *const keys[] = { "wait", NULL };
	const char *why = NULL, *key;
	char err[256];
	uint64_t ms;
	json_t *o, *w, *x;

	*wait_ms = UINT32_MAX;
	if (!rq->body_len)
		return 0;
	if (api_request_json(rq->body, rq->body_len, &o, err, sizeof(err))) {
		api_routes_error(rp, 400, "%s", err);
		return -EINVAL;
	}
	json_object_foreach(o, key, x)
		if (strcmp(key, keys[0])) {
			json_decref(o);
			api_routes_error(rp, 400, "unknown key \"%.40s\" (known: wait)", key);
			return -EINVAL;
		}
	w = json_object_get(o, "wait");
	if (w && (!json_is_string(w) || config_parse_duration(json_string_value(w), &ms, &why) ||
		  ms > 600000)) {
		json_decref(o);
		api_routes_error(rp, 400, "wait: %s", why ? why : "a duration up to 10m, like \"5s\"");
		return -EINVAL;
	}
	if (w)
		*wait_ms = (uint32_t)ms;
	json_decref(o);
	return 0;
}

static void drain(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	char why[512] = "";
	uint32_t wait_ms;
	int rc;

	if (drain_wait(rq, rp, &wait_ms) || !api_routes_precondition(c, rq, rp))
		return;
	rc = rq->t.route == API_ROUTE_HOST_DRAIN ? control_host_drain(c, wait_ms, why, sizeof(why))
						  : control_host_undrain(c, why, sizeof(why));
	if (rc) {
		api_routes_error(rp, rc == -EINVAL ? 409 : 500, "%s", why[0] ? why : strerror(-rc));
		return;
	}
	view(rp, control_bgp_view(c));
}

bool api_bgp_handle(struct keel_control *c, const struct api_request *rq, struct api_reply *rp)
{
	switch (rq->t.route) {
	case API_ROUTE_BGP:
		view(rp, control_bgp_view(c));
		return true;
	case API_ROUTE_TABLE_DIGEST:
		view(rp, control_digest_json(c));
		return true;
	case API_ROUTE_FLEET: {
		json_t *j = control_fleet_json(c);

		if (!j && errno == ENOENT)
			api_routes_error(rp, 404, "not in a fleet: keel.yaml has no fleet: section");
		else
			view(rp, j);
		return true;
	}
	case API_ROUTE_FLEET_HEALTH: {
		json_t *j = control_fleet_health_view(c);

		if (!j && errno == ENOENT)
			api_routes_error(rp, 404, "not in a fleet: keel.yaml has no fleet: section");
		else
			view(rp, j);
		return true;
	}
	case API_ROUTE_HOST_DRAIN:
	case API_ROUTE_HOST_UNDRAIN:
		drain(c, rq, rp);
		return true;
	default:
		return false;
	}
}
