/* keelctl table show: the Maglev table the workers run for a VIP (slots per backend, digest, generation). */
#include <stdio.h>

#include "keelctl.h"

static int table_show(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "BACKEND", "STATE", "SLOTS", "SHARE" };
	char sl[24], sh[16];
	struct table *t;
	json_t *tab, *b;
	char *pos[1];
	size_t i;
	int n, rc;

	if ((rc = ctl_parse(c, &table_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&table_object, "table show: which VIP?");
	if (!api_arg_fits(pos[0]))
		return ctl_usage_error(&table_object, "table show: name too long");
	if ((rc = api_get(c, KEEL_API_ROUTE_VIP_TABLE, pos[0], NULL, &tab)))
		return rc;
	if (c->json) {
		json_print(tab);
		json_decref(tab);
		return KEELCTL_OK;
	}
	printf("vip %s: %lld slots, generation %lld, digest %s\n", jstr(tab, "vip"),
	       (long long)jint(tab, "size"), (long long)jint(tab, "generation"), jstr(tab, "digest"));
	t = table_new(4, heads);
	table_right(t, 2);
	table_right(t, 3);
	json_array_foreach(json_object_get(tab, "backends"), i, b) {
		snprintf(sl, sizeof(sl), "%lld", (long long)jint(b, "slots"));
		table_add(t, jstr(b, "backend"), jstr(b, "state"), sl,
			  fmt_share(jnum(b, "share"), sh, sizeof(sh)));
	}
	table_print(c, t);
	table_free(t);
	json_decref(tab);
	return KEELCTL_OK;
}

/* keelctl table digest: every VIP's digest and the seed fingerprint, one line each, for scripts comparing hosts. */
static int table_digest(struct ctl *c, int argc, char **argv)
{
	json_t *d, *v;
	size_t i;
	int n, rc;

	if ((rc = ctl_parse(c, &table_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_TABLE_DIGEST, NULL, NULL, &d)))
		return rc;
	if (c->json) {
		json_print(d);
		json_decref(d);
		return KEELCTL_OK;
	}
	printf("fleet_seed %s\n", jstr(d, "fleet_seed_fingerprint"));
	json_array_foreach(json_object_get(d, "vips"), i, v)
		printf("%s %s\n", jstr(v, "vip"), jstr(v, "digest"));
	if (!json_is_true(json_object_get(d, "dataplane")))
		fprintf(stderr, "keelctl: no dataplane running: no table to digest\n");
	rc = json_is_true(json_object_get(d, "dataplane")) ? KEELCTL_OK : KEELCTL_UNAVAILABLE;
	json_decref(d);
	return rc;
}

static const struct ctl_verb table_verbs[] = {
	{ "show", "VIP", "slots per backend, digest and generation of the table the workers run", table_show },
	{ "digest", "", "every VIP's table digest and the fleet seed fingerprint (compare across hosts)", table_digest },
	{ 0 },
};

const struct ctl_object table_object = { "table", "Maglev tables", table_verbs, false };
