/* keelctl fleet status: every host of the fleet (its applied revision, lag, digests, liveness), from GET /v1/fleet. */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

/* The digests of a host equal the reference's: same VIPs, same digest each (a missing VIP differs). */
static bool same_digests(json_t *a, json_t *b)
{
	return a && b && json_equal(a, b);
}

static int fleet_status(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "HOST", "REVISION", "LAG", "DIGESTS", "DATAPLANE",
					     "ANNOUNCING", "VERSION", "LAST REFUSAL" };
	char r[24], l[24];
	json_t *f, *hosts, *h, *ref = NULL, *refh;
	const char *name;
	struct table *t;
	int64_t top;
	int n, rc;

	if ((rc = ctl_parse(c, &fleet_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, "/v1/fleet", &f)))
		return rc;
	if (c->json) {
		json_print(f);
		json_decref(f);
		return KEELCTL_OK;
	}
	hosts = json_object_get(f, "hosts");
	top = jint(f, "revision");
	/* The reference digests: this host's own if it runs the newest revision, else any host's that does. */
	json_object_foreach(json_object_get(f, "gone"), name, h)
		if (jint(h, "applied_revision") > top)
			top = jint(h, "applied_revision");
	json_object_foreach(hosts, name, h)
		if (jint(h, "applied_revision") > top)
			top = jint(h, "applied_revision");
	refh = json_object_get(hosts, jstr(f, "host"));
	if (refh && jint(refh, "applied_revision") == top)
		ref = json_object_get(refh, "digests");
	json_object_foreach(hosts, name, h)
		if (!ref && jint(h, "applied_revision") == top)
			ref = json_object_get(h, "digests");
	printf("fleet %s: spec revision %lld, store %s, %zu live host%s (this host: %s, revision %lld)\n",
	       jstr(f, "prefix"), (long long)top,
	       json_is_true(json_object_get(f, "store_up")) ? "up" : "DOWN", json_object_size(hosts),
	       json_object_size(hosts) == 1 ? "" : "s", jstr(f, "host"),
	       (long long)jint(f, "applied_revision"));
	if (!json_is_true(json_object_get(f, "store_up")))
		printf("store error: %s\n", jstr(f, "store_error"));
	if (json_is_true(json_object_get(f, "store_lost")))
		printf("this host is cut from the store past its lease: its BGP announcements are degraded\n");
	if (json_object_size(json_object_get(f, "gone")))
		printf("%zu host%s gone (lease expired; last-known record shown)\n",
		       json_object_size(json_object_get(f, "gone")),
		       json_object_size(json_object_get(f, "gone")) == 1 ? "" : "s");
	t = table_new(8, heads);
	json_object_foreach(hosts, name, h) {
		int64_t a = jint(h, "applied_revision");

		snprintf(r, sizeof(r), "%lld", (long long)a);
		snprintf(l, sizeof(l), "%lld", (long long)(top - a));
		table_add(t, name, r, l,
			  a != top ? "behind" : same_digests(json_object_get(h, "digests"), ref) ? "equal" : "DIFFER",
			  json_is_true(json_object_get(h, "dataplane_alive")) ? "alive" : "DOWN",
			  json_is_true(json_object_get(h, "announcing")) ? "yes" : "no", jstr(h, "version"),
			  *jstr(h, "last_refusal") ? jstr(h, "last_refusal") : NULL);
	}
	/* Hosts whose lease expired (dead, or cut from the store): their last-known record. */
	json_object_foreach(json_object_get(f, "gone"), name, h) {
		int64_t a = jint(h, "applied_revision");

		snprintf(r, sizeof(r), "%lld", (long long)a);
		snprintf(l, sizeof(l), "%lld", (long long)(top - a));
		table_add(t, name, r, l, a != top ? "behind" : "?", "GONE", "?", jstr(h, "version"),
			  *jstr(h, "last_refusal") ? jstr(h, "last_refusal") : NULL);
	}
	table_print(c, t);
	table_free(t);
	json_decref(f);
	return KEELCTL_OK;
}

static const struct ctl_verb fleet_verbs[] = {
	{ "status", "", "every host of the fleet: applied revision, lag, digests equal, liveness", fleet_status },
	{ 0 },
};

const struct ctl_object fleet_object = { "fleet", "the fleet's hosts and the spec in the store (etcd)", fleet_verbs, true };
