/* keelctl vip: list, show, and add/del as configuration changes (fetch, edit, apply with a preview). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keelctl.h"

static int vip_list(struct ctl *c, int argc, char **argv)
{
	/* ACTIVE: admin state (active/total); HEALTHY: health checks up/total ("-": no check). */
	static const char *const heads[] = { "NAME", "ADDRESS", "PORT", "PROTO", "ENCAP",
					     "SLOTS", "ACTIVE", "HEALTHY", "PANIC" };
	bool quiet = false;
	const struct ctl_opt opts[] = { { "quiet", 'q', false, NULL, &quiet }, { 0 } };
	struct table *t;
	json_t *vips, *v, *b;
	size_t i, k;
	int n, rc;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, opts, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_VIPS, NULL, NULL, &vips)))
		return rc;
	if (c->json) {
		json_print(vips);
	} else if (quiet) { /* names only: for scripts and bash completion */
		json_array_foreach(vips, i, v)
			puts(jstr(v, "name"));
	} else {
		t = table_new(9, heads);
		table_right(t, 5);
		json_array_foreach(vips, i, v) {
			char port[16], slots[24], act[32], hl[32];
			unsigned active = 0, up = 0;
			bool checked = false;
			json_t *p = json_object_get(v, "port");
			size_t nb = json_array_size(json_object_get(v, "backends"));

			/* Admin state and health apart: "active" is what the operator set, "up" what the checks see. */
			json_array_foreach(json_object_get(v, "backends"), k, b) {
				const char *h = jstr(json_object_get(b, "health"), "state");

				active += !strcmp(jstr(b, "state"), "active");
				checked |= strcmp(h, "unchecked") != 0;
				up += !strcmp(h, "up");
			}
			if (json_is_string(p))
				snprintf(port, sizeof(port), "%s", json_string_value(p));
			else
				snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(p));
			snprintf(slots, sizeof(slots), "%lld", (long long)jint(v, "maglev_table_size"));
			snprintf(act, sizeof(act), "%u/%zu", active, nb);
			snprintf(hl, sizeof(hl), "%u/%zu", up, nb);
			table_add(t, jstr(v, "name"), jstr(v, "address"), port, jstr(v, "protocol"),
				  jstr(v, "encap"), slots, act, checked ? hl : NULL,
				  json_is_true(json_object_get(v, "panic")) ? "PANIC" : "no");
		}
		table_print(c, t);
		table_free(t);
	}
	json_decref(vips);
	return KEELCTL_OK;
}

static int vip_show(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "BACKEND", "WEIGHT", "STATE", "HEALTH", "SLOTS", "SHARE" };
	char w[16], sl[16], sh[16];
	json_t *v, *tab = NULL, *b, *tb;
	struct table *t;
	char *pos[1];
	size_t i, k;
	int n, rc, st;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&vip_object, "vip show: which VIP?");
	if (!api_arg_fits(pos[0]))
		return ctl_usage_error(&vip_object, "vip show: name too long");
	if ((rc = api_get(c, KEEL_API_ROUTE_VIP, pos[0], NULL, &v)))
		return rc;
	if (c->json) {
		json_print(v);
		json_decref(v);
		return KEELCTL_OK;
	}
	/* Slots come from the table the workers run; without a dataplane they are left out. */
	if (api_call(c, KEEL_API_ROUTE_VIP_TABLE, pos[0], NULL, NULL, NULL, NULL, 0, &st, &tab) ||
	    st != 200) {
		json_decref(tab);
		tab = NULL;
	}
	{
		json_t *p = json_object_get(v, "port");
		char port[16];

		if (json_is_string(p))
			snprintf(port, sizeof(port), "%s", json_string_value(p));
		else
			snprintf(port, sizeof(port), "%lld", (long long)json_integer_value(p));
		printf("vip %s: %s port %s/%s, encap %s, %lld slots%s%s\n", jstr(v, "name"),
		       jstr(v, "address"), port, jstr(v, "protocol"), jstr(v, "encap"),
		       (long long)jint(v, "maglev_table_size"),
		       json_is_true(json_object_get(v, "fragments")) ? ", fragments" : "",
		       json_is_true(json_object_get(v, "panic")) ? ", PANIC (every backend kept)" : "");
		if (tab)
			printf("table: generation %lld, digest %s\n", (long long)jint(tab, "generation"),
			       jstr(tab, "digest"));
	}
	t = table_new(6, heads);
	table_right(t, 1);
	table_right(t, 4);
	table_right(t, 5);
	json_array_foreach(json_object_get(v, "backends"), i, b) {
		const char *slots = NULL, *share = NULL;

		json_array_foreach(json_object_get(tab, "backends"), k, tb)
			if (!strcmp(jstr(tb, "backend"), jstr(b, "address"))) {
				snprintf(sl, sizeof(sl), "%lld", (long long)jint(tb, "slots"));
				slots = sl;
				share = fmt_share(jnum(tb, "share"), sh, sizeof(sh));
			}
		snprintf(w, sizeof(w), "%lld", (long long)jint(b, "weight"));
		table_add(t, jstr(b, "address"), w, jstr(b, "state"),
			  dash(jstr(json_object_get(b, "health"), "state")), slots, share);
	}
	table_print(c, t);
	table_free(t);
	json_decref(tab);
	json_decref(v);
	return KEELCTL_OK;
}

/* The running configuration in canonical JSON, and the index of VIP name in its vips (or -1). */
static int running_config(struct ctl *c, const char *name, json_t **cfg, int *idx)
{
	json_t *v, *st = NULL;
	size_t i;
	int rc;

	/*
	 * In a fleet: the revision first, then the configuration (never newer than
	 * it); the apply is guarded by that revision in the store as it is by the
	 * ETag on one host. Status first: the ETag kept is the configuration's.
	 */
	c->revision = 0;
	if (!api_get(c, KEEL_API_ROUTE_STATUS, NULL, NULL, &st) && json_object_get(st, "fleet"))
		c->revision = jint(json_object_get(st, "fleet"), "applied_revision");
	json_decref(st);
	if ((rc = api_get(c, KEEL_API_ROUTE_CONFIG, NULL, NULL, cfg)))
		return rc;
	*idx = -1;
	json_array_foreach(json_object_get(*cfg, "vips"), i, v)
		if (!strcmp(jstr(v, "name"), name))
			*idx = (int)i;
	return KEELCTL_OK;
}

/*
 * vip add and del edit the whole configuration: read it, change one VIP,
 * apply it. The apply carries If-Match with the ETag of what was read, so a
 * change made by anyone in between (another keelctl, a backend weight) is
 * never overwritten: keel-control answers 412 and the edit is made again on
 * the newer configuration, a bounded number of times (issue 21 item 6).
 */
#define VIP_EDIT_TRIES 20

/* Make the edit on cfg: KEELCTL_OK, or an exit code after saying why. */
typedef int (*vip_edit_fn)(struct ctl *c, json_t *cfg, int idx, void *arg);

static int vip_edit(struct ctl *c, const char *name, const char *what, vip_edit_fn edit, void *arg,
		    bool dry, bool force)
{
	const struct keel_api_query q = { .dry_run = dry, .force = force };
	int rc = KEELCTL_OK, status = 0, idx, attempt;
	char etag[sizeof(c->etag)];
	json_t *cfg, *out = NULL;
	char *body;

	for (attempt = 1; attempt <= VIP_EDIT_TRIES; attempt++) {
		c->if_match = NULL;
		if ((rc = running_config(c, name, &cfg, &idx)))
			return rc;
		memcpy(etag, c->etag, sizeof(etag));
		if ((rc = edit(c, cfg, idx, arg))) {
			json_decref(cfg);
			return rc;
		}
		body = json_dumps(cfg, JSON_COMPACT);
		json_decref(cfg);
		if (!body) {
			fprintf(stderr, "keelctl: out of memory\n");
			return KEELCTL_UNAVAILABLE;
		}
		/* A daemon without ETags (older) gets no precondition: the edit is as before. */
		c->if_match = etag[0] ? etag : NULL;
		rc = api_call(c, KEEL_API_ROUTE_CONFIG_APPLY, NULL, NULL, &q, "application/json", body,
			      strlen(body), &status, &out);
		c->if_match = NULL;
		free(body);
		if (rc)
			return rc;
		if (status != 412 || attempt == VIP_EDIT_TRIES)
			break;
		/* Changed since it was read: read it again, make the edit again. */
		json_decref(out);
		out = NULL;
		usleep((useconds_t)(1000 * (attempt < 10 ? attempt : 10)));
	}
	if (status == 412)
		fprintf(stderr, "keelctl: %s: the configuration kept changing under it (%d tries); "
			"nothing of this change was applied, run it again\n", what, VIP_EDIT_TRIES);
	rc = report_change(c, what, status, out);
	json_decref(out);
	return rc;
}

struct vip_add_arg {
	char **pos;
	uint32_t port, ts;
	const char *proto, *encap;
	bool frags;
};

static int vip_add_edit(struct ctl *c, json_t *cfg, int idx, void *arg)
{
	struct vip_add_arg *a = arg;
	json_t *vip;

	(void)c;
	if (idx >= 0) {
		fprintf(stderr, "keelctl: vip add: VIP %s already exists\n", a->pos[0]);
		return KEELCTL_DATAERR;
	}
	/* The validator (in keel-control) judges every field; keelctl only assembles them. */
	vip = json_pack("{s:s,s:s,s:o,s:s,s:b,s:[]}", "name", a->pos[0], "address", a->pos[1],
			"port", a->port ? json_integer(a->port) : json_string("all"), "protocol",
			a->proto, "fragments", a->frags, "backends");
	if (a->encap)
		json_object_set_new(vip, "encap", json_string(a->encap));
	if (a->ts)
		json_object_set_new(vip, "maglev_table_size", json_integer(a->ts));
	if (!json_object_get(cfg, "vips"))
		json_object_set_new(cfg, "vips", json_array());
	json_array_append_new(json_object_get(cfg, "vips"), vip);
	return KEELCTL_OK;
}

static int vip_add(struct ctl *c, int argc, char **argv)
{
	const char *proto = "tcp", *encap = NULL, *size = NULL;
	bool dry = false, force = false, frags = false;
	const struct ctl_opt opts[] = {
		{ "proto", 0, true, &proto, NULL },	   { "encap", 0, true, &encap, NULL },
		{ "table-size", 0, true, &size, NULL }, { "fragments", 0, false, NULL, &frags },
		{ "dry-run", 0, false, NULL, &dry },	   { "force", 0, false, NULL, &force },
		{ 0 },
	};
	struct vip_add_arg a = { 0 };
	struct keel_api_addr vaddr;
	char *pos[3], what[128];
	uint32_t port = 0, ts = 0;
	int n, rc;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, opts, pos, 3, &n)))
		return rc;
	if (n != 3)
		return ctl_usage_error(&vip_object, "vip add: needs NAME ADDRESS PORT|all");
	if (!ctl_address(pos[1], &vaddr))
		return ctl_usage_error(&vip_object, "vip add: \"%s\" is not an IP address", pos[1]);
	if (strcmp(pos[2], "all") && (rc = ctl_parse_u32(&vip_object, "port", pos[2], 65535, &port)))
		return rc;
	/* Every port is asked for by name: a 0 from a script's empty variable must not mean "all". */
	if (strcmp(pos[2], "all") && !port)
		return ctl_usage_error(&vip_object, "vip add: port must be 1..65535, or \"all\" for "
				       "every port (not 0)");
	if (size && (rc = ctl_parse_u32(&vip_object, "--table-size", size, 1048573, &ts)))
		return rc;
	a = (struct vip_add_arg){ .pos = pos, .port = port, .ts = ts, .proto = proto,
				  .encap = encap, .frags = frags };
	snprintf(what, sizeof(what), "vip add %s", pos[0]);
	return vip_edit(c, pos[0], what, vip_add_edit, &a, dry, force);
}

struct vip_del_arg {
	const char *name, *what;
	bool dry, force;
	size_t nb; /* backends of the VIP removed */
};

static int vip_del_edit(struct ctl *c, json_t *cfg, int idx, void *arg)
{
	struct vip_del_arg *a = arg;

	(void)c;
	if (idx < 0) {
		fprintf(stderr, "keelctl: vip del: no VIP named \"%s\"\n", a->name);
		return KEELCTL_DATAERR;
	}
	/* Its backends go with it: as for emptying a VIP, the operator says so with --force. */
	a->nb = json_array_size(json_object_get(json_array_get(json_object_get(cfg, "vips"),
								(size_t)idx), "backends"));
	if (a->nb && !a->force && !a->dry) {
		fprintf(stderr, "keelctl: %s: VIP %s has %zu backend%s: --force removes it with them "
			"(--dry-run shows the preview)\n", a->what, a->name, a->nb, a->nb == 1 ? "" : "s");
		return KEELCTL_DATAERR;
	}
	json_array_remove(json_object_get(cfg, "vips"), (size_t)idx);
	return KEELCTL_OK;
}

static int vip_del(struct ctl *c, int argc, char **argv)
{
	bool dry = false, force = false;
	const struct ctl_opt opts[] = {
		{ "dry-run", 0, false, NULL, &dry }, { "force", 0, false, NULL, &force }, { 0 },
	};
	struct vip_del_arg a;
	char *pos[1], what[128];
	int n, rc;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&vip_object, "vip del: which VIP?");
	snprintf(what, sizeof(what), "vip del %s", pos[0]);
	a = (struct vip_del_arg){ .name = pos[0], .what = what, .dry = dry, .force = force };
	rc = vip_edit(c, pos[0], what, vip_del_edit, &a, dry, force);
	if (!rc && dry && a.nb && !force)
		fprintf(stderr, "keelctl: %s: VIP %s has %zu backend%s: the real run needs --force\n",
			what, pos[0], a.nb, a.nb == 1 ? "" : "s");
	return rc;
}

static const struct ctl_verb vip_verbs[] = {
	{ "list", "[-q]", "every VIP: address, port, protocol, table size, backends active and healthy (-q: names only)", vip_list },
	{ "show", "NAME", "one VIP and its backends: weight, state, health, Maglev slots", vip_show },
	{ "add", "NAME ADDRESS PORT|all [--proto tcp|udp] [--encap ipip|gue] [--table-size N] [--fragments] [--dry-run] [--force]",
	  "add a VIP without backends (a configuration change: shows the preview)", vip_add },
	{ "del", "NAME [--dry-run] [--force]",
	  "remove a VIP (a configuration change: shows the preview; --force when it has backends)", vip_del },
	{ 0 },
};

const struct ctl_object vip_object = { "vip", "virtual services", vip_verbs, false };
