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
	if ((rc = api_get(c, "/v1/vips", &vips)))
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
	char path[256], name[200], w[16], sl[16], sh[16];
	json_t *v, *tab = NULL, *b, *tb;
	struct table *t;
	char *pos[1];
	size_t i, k;
	int n, rc, st;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&vip_object, "vip show: which VIP?");
	if (api_escape(name, sizeof(name), pos[0]))
		return ctl_usage_error(&vip_object, "vip show: name too long");
	snprintf(path, sizeof(path), "/v1/vips/%s", name);
	if ((rc = api_get(c, path, &v)))
		return rc;
	if (c->json) {
		json_print(v);
		json_decref(v);
		return KEELCTL_OK;
	}
	/* Slots come from the table the workers run; without a dataplane they are left out. */
	snprintf(path, sizeof(path), "/v1/vips/%s/table", name);
	if (api_call(c, "GET", path, NULL, NULL, 0, &st, &tab) || st != 200) {
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
	json_t *v;
	size_t i;
	int rc;

	/* In a fleet: the revision first, then the configuration (never newer than it), and the
	 * apply is guarded by it: a concurrent edit makes it fail (412) and the caller retries. */
	json_t *st = NULL;

	c->revision = 0;
	if (!api_get(c, "/v1/status", &st) && json_object_get(st, "fleet"))
		c->revision = jint(json_object_get(st, "fleet"), "applied_revision");
	json_decref(st);
	if ((rc = api_get(c, "/v1/config", cfg)))
		return rc;
	*idx = -1;
	json_array_foreach(json_object_get(*cfg, "vips"), i, v)
		if (!strcmp(jstr(v, "name"), name))
			*idx = (int)i;
	return KEELCTL_OK;
}

static int apply_json(struct ctl *c, const char *what, json_t *cfg, bool dry, bool force)
{
	char *body = json_dumps(cfg, JSON_COMPACT);
	int rc;

	if (!body) {
		fprintf(stderr, "keelctl: out of memory\n");
		return KEELCTL_UNAVAILABLE;
	}
	rc = config_post_apply(c, what, "application/json", body, strlen(body), dry, force);
	free(body);
	return rc;
}

/*
 * vip add/del write the whole configuration back: in a fleet it is guarded by the revision it was
 * read at, and a concurrent edit (412) is answered by reading it again, a bounded number of times.
 */
static int retry_conflicts(struct ctl *c, int (*fn)(struct ctl *, int, char **), int argc,
			   char **argv)
{
	int rc;

	for (int i = 0;; i++) {
		c->quiet_conflict = i < 7;
		rc = fn(c, argc, argv);
		if (rc != KEELCTL_CONFLICT || i >= 7)
			return rc;
		/* Two racing keelctls fall apart; a host behind the store gets time to catch up. */
		usleep((useconds_t)(20000 * (i + 1) + rand() % 20000));
	}
}

static int vip_add_once(struct ctl *c, int argc, char **argv)
{
	const char *proto = "tcp", *encap = NULL, *size = NULL;
	bool dry = false, force = false, frags = false;
	const struct ctl_opt opts[] = {
		{ "proto", 0, true, &proto, NULL },	   { "encap", 0, true, &encap, NULL },
		{ "table-size", 0, true, &size, NULL }, { "fragments", 0, false, NULL, &frags },
		{ "dry-run", 0, false, NULL, &dry },	   { "force", 0, false, NULL, &force },
		{ 0 },
	};
	json_t *cfg, *vip;
	char *pos[3], what[128];
	uint32_t port = 0, ts = 0;
	int n, rc, idx;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, opts, pos, 3, &n)))
		return rc;
	if (n != 3)
		return ctl_usage_error(&vip_object, "vip add: needs NAME ADDRESS PORT|all");
	if (!ctl_is_address(pos[1]))
		return ctl_usage_error(&vip_object, "vip add: \"%s\" is not an IP address", pos[1]);
	if (strcmp(pos[2], "all") && (rc = ctl_parse_u32(&vip_object, "port", pos[2], 65535, &port)))
		return rc;
	/* Every port is asked for by name: a 0 from a script's empty variable must not mean "all". */
	if (strcmp(pos[2], "all") && !port)
		return ctl_usage_error(&vip_object, "vip add: port must be 1..65535, or \"all\" for "
				       "every port (not 0)");
	if (size && (rc = ctl_parse_u32(&vip_object, "--table-size", size, 1048573, &ts)))
		return rc;
	if ((rc = running_config(c, pos[0], &cfg, &idx)))
		return rc;
	if (idx >= 0) {
		fprintf(stderr, "keelctl: vip add: VIP %s already exists\n", pos[0]);
		json_decref(cfg);
		return KEELCTL_DATAERR;
	}
	/* The validator (in keel-control) judges every field; keelctl only assembles them. */
	vip = json_pack("{s:s,s:s,s:o,s:s,s:b,s:[]}", "name", pos[0], "address", pos[1], "port",
			port ? json_integer(port) : json_string("all"), "protocol", proto, "fragments",
			frags, "backends");
	if (encap)
		json_object_set_new(vip, "encap", json_string(encap));
	if (ts)
		json_object_set_new(vip, "maglev_table_size", json_integer(ts));
	if (!json_object_get(cfg, "vips"))
		json_object_set_new(cfg, "vips", json_array());
	json_array_append_new(json_object_get(cfg, "vips"), vip);
	snprintf(what, sizeof(what), "vip add %s", pos[0]);
	rc = apply_json(c, what, cfg, dry, force);
	json_decref(cfg);
	return rc;
}

static int vip_add(struct ctl *c, int argc, char **argv)
{
	srand((unsigned)getpid());
	return retry_conflicts(c, vip_add_once, argc, argv);
}

static int vip_del_once(struct ctl *c, int argc, char **argv)
{
	bool dry = false, force = false;
	const struct ctl_opt opts[] = {
		{ "dry-run", 0, false, NULL, &dry }, { "force", 0, false, NULL, &force }, { 0 },
	};
	char *pos[1], what[128];
	json_t *cfg;
	int n, rc, idx;
	size_t nb;

	if ((rc = ctl_parse(c, &vip_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&vip_object, "vip del: which VIP?");
	if ((rc = running_config(c, pos[0], &cfg, &idx)))
		return rc;
	if (idx < 0) {
		fprintf(stderr, "keelctl: vip del: no VIP named \"%s\"\n", pos[0]);
		json_decref(cfg);
		return KEELCTL_DATAERR;
	}
	snprintf(what, sizeof(what), "vip del %s", pos[0]);
	/* Its backends go with it: as for emptying a VIP, the operator says so with --force. */
	nb = json_array_size(json_object_get(json_array_get(json_object_get(cfg, "vips"),
							      (size_t)idx), "backends"));
	if (nb && !force && !dry) {
		fprintf(stderr, "keelctl: %s: VIP %s has %zu backend%s: --force removes it with them "
			"(--dry-run shows the preview)\n", what, pos[0], nb, nb == 1 ? "" : "s");
		json_decref(cfg);
		return KEELCTL_DATAERR;
	}
	json_array_remove(json_object_get(cfg, "vips"), (size_t)idx);
	rc = apply_json(c, what, cfg, dry, force);
	if (!rc && dry && nb && !force)
		fprintf(stderr, "keelctl: %s: VIP %s has %zu backend%s: the real run needs --force\n",
			what, pos[0], nb, nb == 1 ? "" : "s");
	json_decref(cfg);
	return rc;
}

static int vip_del(struct ctl *c, int argc, char **argv)
{
	srand((unsigned)getpid());
	return retry_conflicts(c, vip_del_once, argc, argv);
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
