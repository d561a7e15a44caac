/* keelctl fleet health: per checked backend this host's verdict, the fleet's, how many live hosts
 * see it down of those that check it, and for how long the two have disagreed (GET /v1/fleet/health). */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

int fleet_health_cmd(struct ctl *c, int argc, char **argv);

int fleet_health_cmd(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "VIP", "BACKEND", "OWN", "FLEET", "DOWN/CHECKING", "SINCE" };
	json_t *f, *b;
	struct table *t;
	size_t i;
	int n, rc, shown = 0;

	if ((rc = ctl_parse(c, &fleet_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_FLEET_HEALTH, NULL, NULL, &f)))
		return rc;
	if (c->json) {
		json_print(f);
		json_decref(f);
		return KEELCTL_OK;
	}
	if (!strcmp(jstr(f, "verdicts"), "own"))
		printf("verdicts: OWN (the fleet store is lost for %lld ms, more than %lld ms): tables "
		       "follow this host's checks\n", (long long)jint(f, "store_lost_ms"),
		       (long long)jint(f, "fallback_after_ms"));
	else
		printf("verdicts: fleet (store revision %lld, %lld live host%s with verdicts)\n",
		       (long long)jint(f, "revision"), (long long)jint(f, "hosts_with_verdicts"),
		       jint(f, "hosts_with_verdicts") == 1 ? "" : "s");
	t = table_new(6, heads);
	json_array_foreach(json_object_get(f, "backends"), i, b) {
		char dc[32], since[32] = "";
		int64_t ms = jint(b, "disagree_for_ms");

		snprintf(dc, sizeof(dc), "%lld/%lld", (long long)jint(b, "hosts_down"),
			 (long long)jint(b, "hosts_checking"));
		/* A disagreement is flagged once it lasted the bound; before that it is only timed. */
		if (ms)
			snprintf(since, sizeof(since), "%s%lld.%llds", json_is_true(json_object_get(b,
				 "disagreement")) ? "DISAGREE " : "", (long long)(ms / 1000),
				 (long long)(ms % 1000 / 100));
		table_add(t, jstr(b, "vip"), jstr(b, "backend"), jstr(b, "own"), jstr(b, "fleet"), dc,
			  since);
		shown++;
	}
	if (shown)
		table_print(c, t);
	else
		printf("no checked backends\n");
	table_free(t);
	json_decref(f);
	return KEELCTL_OK;
}
