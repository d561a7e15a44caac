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
	struct keel_api_fleet_status fs;
	char r[24], l[24];
	json_t *f, *ref = NULL;
	struct table *t;
	int64_t top;
	size_t i;
	int n, rc;

	if ((rc = ctl_parse(c, &fleet_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_FLEET, NULL, NULL, &f)))
		return rc;
	if (c->json) {
		json_print(f);
		json_decref(f);
		return KEELCTL_OK;
	}
	if (keel_api_fleet_decode(f, &fs)) {
		json_decref(f);
		fprintf(stderr, "keelctl: fleet status: malformed answer\n");
		return KEELCTL_UNAVAILABLE;
	}
	top = fs.revision;
	/* The reference digests: this host's own if it runs the newest revision, else any host's that does. */
	for (i = 0; i < fs.n_gone; i++)
		if (fs.gone[i].applied_revision > top)
			top = fs.gone[i].applied_revision;
	for (i = 0; i < fs.n_hosts; i++)
		if (fs.hosts[i].applied_revision > top)
			top = fs.hosts[i].applied_revision;
	for (i = 0; i < fs.n_hosts; i++)
		if (!strcmp(fs.hosts[i].name, fs.host) && fs.hosts[i].applied_revision == top)
			ref = fs.hosts[i].digests;
	for (i = 0; i < fs.n_hosts; i++)
		if (!ref && fs.hosts[i].applied_revision == top)
			ref = fs.hosts[i].digests;
	printf("fleet %s: spec revision %lld, store %s, %zu live host%s (this host: %s, revision %lld)\n",
	       fs.prefix, (long long)top, fs.store_up ? "up" : "DOWN", fs.n_hosts,
	       fs.n_hosts == 1 ? "" : "s", fs.host, (long long)fs.applied_revision);
	if (!fs.store_up)
		printf("store error: %s\n", fs.store_error);
	if (*jstr(f, "join_refused")) /* another fleet's prefix (docs/fleet.md, the fleet's identity) */
		printf("NOT JOINED: %s\n", jstr(f, "join_refused"));
	if (fs.store_lost)
		printf("this host is cut from the store past its lease: its BGP announcements are degraded\n");
	if (fs.n_gone)
		printf("%zu host%s gone (lease expired; last-known record shown)\n", fs.n_gone,
		       fs.n_gone == 1 ? "" : "s");
	t = table_new(8, heads);
	for (i = 0; i < fs.n_hosts; i++) {
		const struct keel_api_fleet_host *h = &fs.hosts[i];
		int64_t a = h->applied_revision;

		snprintf(r, sizeof(r), "%lld", (long long)a);
		snprintf(l, sizeof(l), "%lld", (long long)(top - a));
		table_add(t, h->name, r, l,
			  a != top ? "behind" : same_digests(h->digests, ref) ? "equal" : "DIFFER",
			  h->dataplane_alive ? "alive" : "DOWN", h->announcing ? "yes" : "no",
			  h->version, *h->last_refusal ? h->last_refusal : NULL);
	}
	/* Hosts whose lease expired (dead, or cut from the store): their last-known record. */
	for (i = 0; i < fs.n_gone; i++) {
		const struct keel_api_fleet_host *h = &fs.gone[i];
		int64_t a = h->applied_revision;

		snprintf(r, sizeof(r), "%lld", (long long)a);
		snprintf(l, sizeof(l), "%lld", (long long)(top - a));
		table_add(t, h->name, r, l, a != top ? "behind" : "?", "GONE", "?", h->version,
			  *h->last_refusal ? h->last_refusal : NULL);
	}
	table_print(c, t);
	table_free(t);
	keel_api_fleet_free(&fs);
	json_decref(f);
	return KEELCTL_OK;
}

/* keelctl fleet forget HOST: a gone host's last-known record out of the store (a live one is refused). */
static int fleet_forget(struct ctl *c, int argc, char **argv)
{
	char *pos[1];
	json_t *out = NULL;
	int n, rc, status = 0;

	if ((rc = ctl_parse(c, &fleet_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1 || !api_arg_fits(pos[0])) {
		fprintf(stderr, "keelctl: fleet forget: one host name expected\n");
		return KEELCTL_USAGE;
	}
	if ((rc = api_call(c, KEEL_API_ROUTE_FLEET_FORGET, pos[0], NULL, NULL, NULL, "", 0, &status,
			   &out)))
		return rc;
	if (status != 200) {
		rc = api_fail(c, "fleet forget", status, out);
		json_decref(out);
		return rc;
	}
	if (c->json)
		json_print(out);
	else
		printf("forgot host %s (store revision %lld)\n", pos[0],
		       (long long)json_integer_value(json_object_get(out, "revision")));
	json_decref(out);
	return KEELCTL_OK;
}

int fleet_health_cmd(struct ctl *c, int argc, char **argv); /* fleet_health.c */

static const struct ctl_verb fleet_verbs[] = {
	{ "status", "", "every host of the fleet: applied revision, lag, digests equal, liveness", fleet_status },
	{ "health", "", "per backend: own verdict, the fleet's, hosts down/checking, disagreement", fleet_health_cmd },
	{ "forget", "HOST", "take a gone host's last-known record out of the store (a live host is refused)", fleet_forget },
	{ 0 },
};

const struct ctl_object fleet_object = { "fleet", "the fleet's hosts and the spec in the store (etcd)", fleet_verbs, true };
