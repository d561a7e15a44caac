/* keelctl backend: a backend is VIP + address; list, and the edits of the API (each answered with a preview). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keelctl.h"

/* Slow start's ramp: "40% until 12:00:05Z" (UTC), or "" while the backend has its whole weight. */
static void ramp_text(const struct keel_api_backend_view *b, char *out, size_t n)
{
	time_t t = (time_t)(b->slow_start_until_ms / 1000);
	char when[16] = "?";
	struct tm tm;

	out[0] = '\0';
	if (!b->has_slow_start)
		return;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%SZ", &tm);
	snprintf(out, n, "%lld%% until %s", (long long)b->slow_start_percent, when);
}

static int backend_list(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "BACKEND", "WEIGHT", "STATE", "HEALTH", "LAST", "LATENCY",
					     "RAMP" };
	bool quiet = false;
	const struct ctl_opt opts[] = { { "quiet", 'q', false, NULL, &quiet }, { 0 } };
	struct keel_api_backend_view *bv = NULL;
	char w[16], lat[24], ramp[48];
	struct table *t;
	json_t *v;
	char *pos[1];
	size_t i, nb = 0;
	int n, rc;

	if ((rc = ctl_parse(c, &backend_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&backend_object, "backend list: which VIP?");
	if (!api_arg_fits(pos[0]))
		return ctl_usage_error(&backend_object, "backend list: name too long");
	if ((rc = api_get(c, KEEL_API_ROUTE_VIP, pos[0], NULL, &v)))
		return rc;
	if (c->json) {
		json_print(json_object_get(v, "backends"));
		json_decref(v);
		return KEELCTL_OK;
	}
	if (keel_api_backends_decode(v, &bv, &nb)) {
		json_decref(v);
		fprintf(stderr, "keelctl: backend list: out of memory\n");
		return KEELCTL_UNAVAILABLE;
	}
	if (quiet) {
		for (i = 0; i < nb; i++)
			puts(bv[i].addr);
	} else {
		t = table_new(7, heads);
		table_right(t, 1);
		table_right(t, 5);
		table_flex(t, 4);
		for (i = 0; i < nb; i++) {
			snprintf(w, sizeof(w), "%lld", (long long)bv[i].weight);
			lat[0] = '\0';
			if (bv[i].has_latency)
				snprintf(lat, sizeof(lat), "%.1f ms", (double)bv[i].latency_us / 1000);
			ramp_text(&bv[i], ramp, sizeof(ramp));
			table_add(t, bv[i].addr, w, bv[i].state, bv[i].health, dash(bv[i].health_last),
				  dash(lat), dash(ramp));
		}
		table_print(c, t);
		table_free(t);
	}
	free(bv);
	json_decref(v);
	return KEELCTL_OK;
}

/* drain|undrain --all ADDRESS: the server in every VIP, one API call, one generation. */
static int backend_all(struct ctl *c, const char *verb, int n, char **pos, bool dry, bool force)
{
	const struct keel_api_query q = { .dry_run = dry, .force = force };
	struct keel_api_report r;
	struct keel_api_addr a;
	char what[256];
	json_t *out;
	int rc, status = 0;

	if (n != 1)
		return ctl_usage_error(&backend_object, "backend %s --all: needs ADDRESS (no VIP)", verb);
	if (!ctl_address(pos[0], &a))
		return ctl_usage_error(&backend_object, "backend %s --all: \"%s\" is not an IP address",
				       verb, pos[0]);
	if (!api_arg_fits(pos[0]))
		return ctl_usage_error(&backend_object, "backend %s --all: argument too long", verb);
	rc = api_call(c, !strcmp(verb, "drain") ? KEEL_API_ROUTE_BACKEND_DRAIN_ALL
						: KEEL_API_ROUTE_BACKEND_UNDRAIN_ALL,
		      NULL, a.text, &q, NULL, "", 0, &status, &out);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "backend %s --all %s", verb, pos[0]);
	rc = report_change(c, what, status, out);
	if (!rc && !c->json && !keel_api_report_decode(out, &r)) {
		/* Which VIPs it touched: the preview lists every VIP, changed or not. */
		printf("%s in:", dry ? "would change" : "changed");
		for (size_t i = 0; i < r.n_vips; i++)
			printf(" %s", r.vips[i]);
		printf("%s\n", r.n_vips ? "" : " no VIP (already so)");
		keel_api_report_free(&r);
	}
	json_decref(out);
	return rc;
}

/* The route of each edit verb (api/keel_api.h). */
static const struct {
	const char *verb;
	enum keel_api_route route;
} edit_routes[] = {
	{ "add", KEEL_API_ROUTE_BACKEND_ADD },		{ "del", KEEL_API_ROUTE_BACKEND_DEL },
	{ "weight", KEEL_API_ROUTE_BACKEND_WEIGHT },	{ "drain", KEEL_API_ROUTE_BACKEND_DRAIN },
	{ "undrain", KEEL_API_ROUTE_BACKEND_UNDRAIN },	{ "disable", KEEL_API_ROUTE_BACKEND_DISABLE },
	{ "flush", KEEL_API_ROUTE_BACKEND_FLUSH },
};

/*
 * Every edit: VIP ADDR [extra positional], --dry-run/--force where the API
 * takes them. verb is argv[0]; its route is edit_routes'.
 */
static int backend_edit(struct ctl *c, int argc, char **argv)
{
	const char *verb = argv[0], *weight_opt = NULL, *sid_opt = NULL;
	bool dry = false, force = false, add = !strcmp(verb, "add"), wt = !strcmp(verb, "weight");
	bool flush = !strcmp(verb, "flush"), all = false;
	bool can_all = !strcmp(verb, "drain") || !strcmp(verb, "undrain");
	/* --all exists only for drain and undrain: elsewhere it is an unknown option. */
	const struct ctl_opt opts[] = {
		{ "weight", 'w', true, &weight_opt, NULL }, { "dry-run", 0, false, NULL, &dry },
		{ "server-id", 0, true, &sid_opt, NULL }, /* add to a QUIC VIP (docs/quic.md) */
		{ "force", 'f', false, NULL, &force },	    { can_all ? "all" : NULL, 0, false, NULL, &all },
		{ 0 },
	};
	const struct ctl_opt flush_opts[] = { { 0 } }; /* flush has no dry run (docs/api.md) */
	struct keel_api_backend_body bb = { .weight = KEEL_API_WEIGHT_DEFAULT };
	enum keel_api_route route = KEEL_API_ROUTE_NONE;
	struct keel_api_query q = { 0 };
	const char *ctype = NULL;
	char what[256], *body = NULL;
	int n, rc, status = 0;
	char *pos[3];
	json_t *out, *jb;

	rc = ctl_parse(c, &backend_object, argc, argv, flush ? flush_opts : opts, pos, wt ? 3 : 2, &n);
	if (rc)
		return rc;
	if (all && weight_opt)
		return ctl_usage_error(&backend_object, "backend %s: --weight is for add", verb);
	if (all)
		return backend_all(c, verb, n, pos, dry, force);
	if (n != (wt ? 3 : 2))
		return ctl_usage_error(&backend_object, "backend %s: needs VIP ADDRESS%s", verb,
				       wt ? " WEIGHT" : "");
	if (!ctl_address(pos[1], &bb.addr))
		return ctl_usage_error(&backend_object, "backend %s: \"%s\" is not an IP address",
				       verb, pos[1]);
	if ((weight_opt && !add) || (wt && (weight_opt = pos[2]) == NULL))
		return ctl_usage_error(&backend_object, "backend %s: --weight is for add", verb);
	if (weight_opt && (rc = ctl_parse_u32(&backend_object, "weight", weight_opt,
					      KEEL_API_WEIGHT_MAX, &bb.weight)))
		return rc;
	if (sid_opt && !add)
		return ctl_usage_error(&backend_object, "backend %s: --server-id is for add", verb);
	if (sid_opt && ((rc = ctl_parse_u32(&backend_object, "server-id", sid_opt, 65535, &bb.server_id)) || !bb.server_id))
		return rc ? rc : ctl_usage_error(&backend_object, "backend add: --server-id is 1..65535");
	if (!api_arg_fits(pos[0]) || !api_arg_fits(pos[1]))
		return ctl_usage_error(&backend_object, "backend %s: argument too long", verb);
	for (size_t i = 0; i < sizeof(edit_routes) / sizeof(edit_routes[0]); i++)
		if (!strcmp(verb, edit_routes[i].verb))
			route = edit_routes[i].route;
	q.dry_run = dry;
	q.force = force;
	if (add || wt) {
		/* add: {"address", "weight"}; weight: {"weight"} (the contract's encoder). */
		bb.has_addr = add;
		bb.has_weight = true;
		jb = keel_api_backend_body_encode(&bb);
		body = jb ? json_dumps(jb, JSON_COMPACT) : NULL;
		json_decref(jb);
		if (!body) {
			fprintf(stderr, "keelctl: backend %s: out of memory\n", verb);
			return KEELCTL_UNAVAILABLE;
		}
		ctype = "application/json";
	}
	rc = api_call(c, route, pos[0], add ? NULL : bb.addr.text, &q, ctype, body ? body : "",
		      body ? strlen(body) : 0, &status, &out);
	free(body);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "backend %s %s %s", verb, pos[0], pos[1]);
	if (flush && status == 200) {
		if (c->json)
			json_print(out);
		else
			printf("%s: tracked flows dropped; their next packets are re-hashed\n", what);
		rc = KEELCTL_OK;
	} else if (flush) {
		rc = api_fail(c, what, status, out);
	} else {
		rc = report_change(c, what, status, out);
	}
	json_decref(out);
	return rc;
}

static const struct ctl_verb backend_verbs[] = {
	{ "list", "VIP [-q]", "backends of a VIP: weight, state, health (-q: addresses only)", backend_list },
	{ "add", "VIP ADDRESS [--weight N] [--server-id N] [--dry-run] [--force]", "add a backend (weight 1 by default; --server-id: a QUIC VIP's, docs/quic.md)", backend_edit },
	{ "del", "VIP ADDRESS [--dry-run] [--force]", "remove a backend (its tracked flows are re-chosen)", backend_edit },
	{ "weight", "VIP ADDRESS N [--dry-run] [--force]", "set the weight " KEEL_API_WEIGHT_RANGE " (its share of the Maglev table)", backend_edit },
	{ "drain", "VIP ADDRESS | --all ADDRESS [--dry-run] [--force]", "no new flows; tracked flows go on (--all: in every VIP, one change)", backend_edit },
	{ "undrain", "VIP ADDRESS | --all ADDRESS [--dry-run] [--force]", "back to active (--all: where it is draining)", backend_edit },
	{ "disable", "VIP ADDRESS [--dry-run] [--force]", "out of the table; its flows are re-chosen", backend_edit },
	{ "flush", "VIP ADDRESS", "drop the backend's tracked flows in every worker now", backend_edit },
	{ 0 },
};

const struct ctl_object backend_object = { "backend", "backends of a VIP (VIP + address)", backend_verbs, false };
