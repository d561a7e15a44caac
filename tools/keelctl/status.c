/* keelctl status: is the dataplane alive, which generation each worker runs, NUMA placement warnings. */
#include <stdio.h>
#include <stdlib.h>

#include "keelctl.h"

static int status(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "WORKER", "LCORE", "SOCKET", "GENERATION", "ACTIVATIONS",
					     "REFUSED", "NUMA" };
	char w[16], l[16], s[16], g[24], a[24], r[24];
	struct keel_api_worker_status *ws = NULL;
	json_t *st, *dp, *nh;
	bool has;
	int64_t gen;
	struct table *t;
	size_t i, n_w = 0;
	int n, rc;

	if ((rc = ctl_parse(c, &status_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_STATUS, NULL, NULL, &st)))
		return rc;
	if (c->json) {
		json_print(st);
		json_decref(st);
		return KEELCTL_OK;
	}
	dp = json_object_get(st, "dataplane");
	gen = jint(st, "generation");
	nh = json_object_get(st, "next_hop");
	if (json_is_true(json_object_get(dp, "alive")))
		printf("dataplane    alive: instance %s, pid %lld, %lld ports, epoch %s\n",
		       jstr(dp, "instance"), (long long)jint(dp, "pid"), (long long)jint(dp, "ports"),
		       jstr(dp, "epoch"));
	else
		printf("dataplane    NOT RUNNING (instance %s): changes are persisted and published when it starts\n",
		       jstr(dp, "instance"));
	printf("generation   %lld (applies %lld, refused %lld, publishes %lld, failed %lld)\n",
	       (long long)gen, (long long)jint(st, "applies"), (long long)jint(st, "refused_changes"),
	       (long long)jint(st, "publishes"), (long long)jint(st, "publish_failures"));
	if (json_array_size(json_object_get(st, "next_hops")) > 1) {
		/* Several next hops: each one, whether flows go by it, and how many packets did. */
		json_t *h;
		size_t k;

		json_array_foreach(json_object_get(st, "next_hops"), k, h)
			printf("%-12s %s %s %s, %lld packets\n", k ? "" : "next hops", jstr(h, "next_hop"),
			       jstr(h, "mac"),
			       json_is_true(json_object_get(h, "usable")) ? "usable" :
			       json_is_true(json_object_get(h, "resolved")) ? "NOT USABLE (neighbour failed or port down)" :
									       "NOT RESOLVED",
			       (long long)jint(h, "packets"));
	} else {
		printf("next hop     %s%s\n", jstr(nh, "mac"),
		       json_is_true(json_object_get(nh, "resolved")) ? "" : " (NOT RESOLVED)");
	}
	printf("config       %s\nstate dir    %s\n", jstr(st, "config"), jstr(st, "state_dir"));
	if (json_object_get(dp, "capture")) {
		json_t *cap = json_object_get(dp, "capture");

		if (json_is_true(json_object_get(cap, "available")))
			printf("capture      dpdk-dumpcap --file-prefix=%s (keelctl capture)\n",
			       jstr(cap, "file_prefix"));
		else
			printf("capture      unavailable: %s\n", jstr(cap, "reason"));
	}
	if (*jstr(st, "publish_error"))
		printf("publish      FAILING: %s\n", jstr(st, "publish_error"));
	steer_print(json_object_get(st, "steering"));
	if (json_object_get(st, "bgp"))
		bgp_print(c, json_object_get(st, "bgp"));
	if (keel_api_workers_decode(st, &ws, &n_w, &has) || !n_w) {
		free(ws);
		json_decref(st);
		return KEELCTL_OK;
	}
	putchar('\n');
	t = table_new(7, heads);
	for (int k = 0; k < 6; k++)
		table_right(t, k);
	for (i = 0; i < n_w; i++) {
		snprintf(w, sizeof(w), "%lld", (long long)ws[i].worker);
		snprintf(l, sizeof(l), "%lld", (long long)ws[i].lcore);
		snprintf(s, sizeof(s), "%lld", (long long)ws[i].socket);
		snprintf(g, sizeof(g), "%lld%s", (long long)ws[i].generation,
			 ws[i].generation == gen ? "" : " (behind)");
		snprintf(a, sizeof(a), "%lld", (long long)ws[i].activations);
		snprintf(r, sizeof(r), "%lld", (long long)ws[i].refused);
		table_add(t, w, l, s, g, a, r, ws[i].numa_mismatch ? "REMOTE PORT" : "ok");
	}
	table_print(c, t);
	for (i = 0; i < n_w; i++)
		if (ws[i].numa_mismatch)
			printf("warning: worker %lld (lcore %lld, socket %lld) polls a port on another NUMA "
			       "socket: every packet crosses the interconnect\n",
			       (long long)ws[i].worker, (long long)ws[i].lcore, (long long)ws[i].socket);
	table_free(t);
	free(ws);
	json_decref(st);
	return KEELCTL_OK;
}

static const struct ctl_verb status_verbs[] = {
	{ "", "", "dataplane alive, epoch, generation per worker, NUMA placement warnings", status },
	{ 0 },
};

const struct ctl_object status_object = { "status", "keel-control and dataplane status", status_verbs, true };
