/* keelctl backend: a backend is VIP + address; list, and the edits of the API (each answered with a preview). */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

static int backend_list(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "BACKEND", "WEIGHT", "STATE", "HEALTH", "LAST", "LATENCY" };
	bool quiet = false;
	const struct ctl_opt opts[] = { { "quiet", 'q', false, NULL, &quiet }, { 0 } };
	char path[256], name[200], w[16], lat[24];
	struct table *t;
	json_t *v, *b;
	char *pos[1];
	size_t i;
	int n, rc;

	if ((rc = ctl_parse(c, &backend_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&backend_object, "backend list: which VIP?");
	if (api_escape(name, sizeof(name), pos[0]))
		return ctl_usage_error(&backend_object, "backend list: name too long");
	snprintf(path, sizeof(path), "/v1/vips/%s", name);
	if ((rc = api_get(c, path, &v)))
		return rc;
	if (c->json) {
		json_print(json_object_get(v, "backends"));
	} else if (quiet) {
		json_array_foreach(json_object_get(v, "backends"), i, b)
			puts(jstr(b, "address"));
	} else {
		t = table_new(6, heads);
		table_right(t, 1);
		table_right(t, 5);
		table_flex(t, 4);
		json_array_foreach(json_object_get(v, "backends"), i, b) {
			json_t *h = json_object_get(b, "health");

			snprintf(w, sizeof(w), "%lld", (long long)jint(b, "weight"));
			lat[0] = '\0';
			if (json_object_get(h, "latency_us"))
				snprintf(lat, sizeof(lat), "%.1f ms", (double)jint(h, "latency_us") / 1000);
			table_add(t, jstr(b, "address"), w, jstr(b, "state"), jstr(h, "state"),
				  dash(jstr(h, "last")), dash(lat));
		}
		table_print(c, t);
		table_free(t);
	}
	json_decref(v);
	return KEELCTL_OK;
}

/* drain|undrain --all ADDRESS: the server in every VIP, one API call, one generation. */
static int backend_all(struct ctl *c, const char *verb, int n, char **pos, bool dry, bool force)
{
	char path[256], addr[200], what[256];
	json_t *out, *v;
	int rc, status = 0;
	size_t i;

	if (n != 1)
		return ctl_usage_error(&backend_object, "backend %s --all: needs ADDRESS (no VIP)", verb);
	if (!ctl_is_address(pos[0]))
		return ctl_usage_error(&backend_object, "backend %s --all: \"%s\" is not an IP address",
				       verb, pos[0]);
	if (api_escape(addr, sizeof(addr), pos[0]))
		return ctl_usage_error(&backend_object, "backend %s --all: argument too long", verb);
	snprintf(path, sizeof(path), "/v1/backends/%s/%s%s%s%s%s", addr, verb,
		 dry || force ? "?" : "", dry ? "dry_run=1" : "", dry && force ? "&" : "",
		 force ? "force=1" : "");
	if ((rc = api_call(c, "POST", path, NULL, "", 0, &status, &out)))
		return rc;
	snprintf(what, sizeof(what), "backend %s --all %s", verb, pos[0]);
	rc = report_change(c, what, status, out);
	if (!rc && !c->json) {
		/* Which VIPs it touched: the preview lists every VIP, changed or not. */
		printf("%s in:", dry ? "would change" : "changed");
		json_array_foreach(json_object_get(out, "vips"), i, v)
			printf(" %s", json_string_value(v));
		printf("%s\n", json_array_size(json_object_get(out, "vips")) ? "" : " no VIP (already so)");
	}
	json_decref(out);
	return rc;
}

/*
 * Every edit: VIP ADDR [extra positional], --dry-run/--force where the API
 * takes them. verb is argv[0]; the API path segment has the same name except
 * for add (POST .../backends), del (DELETE) and weight (PUT).
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
	char path[512], vip[200], addr[200], what[256], body[160] = "";
	const char *method = "POST", *ctype = NULL;
	uint32_t weight = 1, sid = 0;
	int n, rc, status = 0;
	char *pos[3];
	json_t *out;

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
	if (!ctl_is_address(pos[1]))
		return ctl_usage_error(&backend_object, "backend %s: \"%s\" is not an IP address",
				       verb, pos[1]);
	if ((weight_opt && !add) || (wt && (weight_opt = pos[2]) == NULL))
		return ctl_usage_error(&backend_object, "backend %s: --weight is for add", verb);
	if (weight_opt && (rc = ctl_parse_u32(&backend_object, "weight", weight_opt, 65535, &weight)))
		return rc;
	if (sid_opt && !add)
		return ctl_usage_error(&backend_object, "backend %s: --server-id is for add", verb);
	if (sid_opt && ((rc = ctl_parse_u32(&backend_object, "server-id", sid_opt, 65535, &sid)) || !sid))
		return rc ? rc : ctl_usage_error(&backend_object, "backend add: --server-id is 1..65535");
	if (api_escape(vip, sizeof(vip), pos[0]) || api_escape(addr, sizeof(addr), pos[1]))
		return ctl_usage_error(&backend_object, "backend %s: argument too long", verb);
	if (add) {
		snprintf(path, sizeof(path), "/v1/vips/%s/backends", vip);
		if (sid)
			snprintf(body, sizeof(body), "{\"address\": \"%s\", \"weight\": %u, \"server_id\": %u}",
				 pos[1], weight, sid);
		else
			snprintf(body, sizeof(body), "{\"address\": \"%s\", \"weight\": %u}", pos[1], weight);
	} else if (!strcmp(verb, "del")) {
		method = "DELETE";
		snprintf(path, sizeof(path), "/v1/vips/%s/backends/%s", vip, addr);
	} else if (wt) {
		method = "PUT";
		snprintf(path, sizeof(path), "/v1/vips/%s/backends/%s/weight", vip, addr);
		snprintf(body, sizeof(body), "{\"weight\": %u}", weight);
	} else {
		snprintf(path, sizeof(path), "/v1/vips/%s/backends/%s/%s", vip, addr, verb);
	}
	if (dry || force)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "?%s%s%s",
			 dry ? "dry_run=1" : "", dry && force ? "&" : "", force ? "force=1" : "");
	if (*body)
		ctype = "application/json";
	rc = api_call(c, method, path, ctype, body, strlen(body), &status, &out);
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
	{ "weight", "VIP ADDRESS N [--dry-run] [--force]", "set the weight 0..65535 (its share of the Maglev table)", backend_edit },
	{ "drain", "VIP ADDRESS | --all ADDRESS [--dry-run] [--force]", "no new flows; tracked flows go on (--all: in every VIP, one change)", backend_edit },
	{ "undrain", "VIP ADDRESS | --all ADDRESS [--dry-run] [--force]", "back to active (--all: where it is draining)", backend_edit },
	{ "disable", "VIP ADDRESS [--dry-run] [--force]", "out of the table; its flows are re-chosen", backend_edit },
	{ "flush", "VIP ADDRESS", "drop the backend's tracked flows in every worker now", backend_edit },
	{ 0 },
};

const struct ctl_object backend_object = { "backend", "backends of a VIP (VIP + address)", backend_verbs, false };
