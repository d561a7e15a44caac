/* keelctl history: the last changes keel-control made (or refused), from its audit log. */
#include <stdio.h>
#include <time.h>

#include "keelctl.h"

static int history(struct ctl *c, int argc, char **argv)
{
	const char *count = "20";
	const struct ctl_opt opts[] = {
		{ "count", 'n', true, &count, NULL },
		{ 0 },
	};
	json_t *r, *ev, *e, *d, *x;
	size_t total, i, j;
	uint32_t n;
	int rc, np;

	if ((rc = ctl_parse(c, &history_object, argc, argv, opts, NULL, 0, &np)))
		return rc;
	if ((rc = ctl_parse_u32(&history_object, "--count", count, 200, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_HISTORY, NULL, NULL, &r)))
		return rc;
	ev = json_object_get(r, "events");
	total = json_array_size(ev);
	/* The last n, newest last. */
	while (json_array_size(ev) > n)
		json_array_remove(ev, 0);
	if (c->json) {
		json_print(r);
		json_decref(r);
		return KEELCTL_OK;
	}
	json_array_foreach(ev, i, e) {
		char when[32] = "?";
		time_t t = (time_t)(jint(e, "time_ms") / 1000);
		struct tm tm;
		const char *name;

		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%s %s generation %lld by %s uid %lld pid %lld on %s\n", when, jstr(e, "result"),
		       (long long)jint(e, "generation"), jstr(e, "source"), (long long)jint(e, "uid"),
		       (long long)jint(e, "pid"), jstr(e, "host"));
		if (*jstr(e, "reason"))
			printf("  reason: %s\n", jstr(e, "reason"));
		json_object_foreach(json_object_get(e, "moved_share"), name, x)
			printf("  moved: %s %.1f%% of its slots\n", name, json_real_value(x) * 100);
		d = json_object_get(e, "diff");
		json_array_foreach(d, j, x)
			printf("  %s\n", json_string_value(x));
	}
	if (total == 0)
		printf("no change recorded\n");
	json_decref(r);
	return KEELCTL_OK;
}

static const struct ctl_verb history_verbs[] = {
	{ "", "[-n N]", "the last N changes (20) and refusals: who, generation, what moved, what changed", history },
	{ 0 },
};

const struct ctl_object history_object = { "history", "what changed, when and by whom (the audit log)",
					   history_verbs, true };
