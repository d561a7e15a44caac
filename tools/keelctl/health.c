/* keelctl health: per backend, the health check's state, last result, latency and since when. */
#include <stdio.h>
#include <time.h>

#include "keelctl.h"

/* The daemon stamps results with CLOCK_REALTIME milliseconds (control/health/health.c). */
static int64_t now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int health(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "VIP", "BACKEND", "CHECK", "STATE", "LAST", "LATENCY",
					     "SINCE", "CHECKS" };
	char lat[24], since[32], checks[24];
	int64_t now = now_real_ms();
	json_t *arr, *v, *h;
	struct table *t;
	size_t i;
	int n, rc;

	if ((rc = ctl_parse(c, &health_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_HEALTH, NULL, NULL, &arr)))
		return rc;
	if (c->json) {
		json_print(arr);
		json_decref(arr);
		return KEELCTL_OK;
	}
	t = table_new(8, heads);
	table_right(t, 5);
	table_right(t, 7);
	table_flex(t, 4);
	json_array_foreach(arr, i, v) {
		h = json_object_get(v, "health");
		lat[0] = since[0] = checks[0] = '\0';
		if (json_object_get(h, "latency_us"))
			snprintf(lat, sizeof(lat), "%.1f ms", (double)jint(h, "latency_us") / 1000);
		if (jint(h, "since_ms") > 0) {
			char age[24];

			snprintf(since, sizeof(since), "%s ago",
				 fmt_age(now - jint(h, "since_ms"), age, sizeof(age)));
		}
		if (json_object_get(h, "checks"))
			snprintf(checks, sizeof(checks), "%lld", (long long)jint(h, "checks"));
		table_add(t, jstr(v, "vip"), jstr(v, "backend"), jstr(v, "check"), jstr(h, "state"),
			  dash(jstr(h, "last")), dash(lat), dash(since), dash(checks));
	}
	table_print(c, t);
	table_free(t);
	json_decref(arr);
	return KEELCTL_OK;
}

static const struct ctl_verb health_verbs[] = {
	{ "", "", "per backend: check type, state, last result, latency, since when", health },
	{ 0 },
};

const struct ctl_object health_object = { "health", "health checks of the backends", health_verbs, true };
