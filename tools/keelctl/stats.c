/* keelctl stats: the dataplane's counters summed over workers, as a summary or per VIP, backend, worker, drop reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl.h"

static int fetch(struct ctl *c, int argc, char **argv, json_t **out)
{
	int n, rc;

	if ((rc = ctl_parse(c, &stats_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	return api_get(c, KEEL_API_ROUTE_STATS, NULL, NULL, out);
}

static void line(const char *what, double pkts, double bytes)
{
	char p[32], b[32];

	printf("%-12s %10s packets", what, fmt_count(pkts, p, sizeof(p)));
	if (bytes >= 0)
		printf("  %10s", fmt_bytes(bytes, b, sizeof(b)));
	putchar('\n');
}

static int stats_summary(struct ctl *c, int argc, char **argv)
{
	json_t *s, *f;
	char a[32], b[32], e[32], h[32];
	int rc;

	if ((rc = fetch(c, argc, argv, &s)))
		return rc;
	if (c->json) {
		json_print(s);
		json_decref(s);
		return KEELCTL_OK;
	}
	if (!json_is_true(json_object_get(s, "dataplane")))
		puts("dataplane   not attached: every counter is 0");
	line("received", (double)jint(s, "rx_packets"), (double)jint(s, "rx_bytes"));
	line("forwarded", (double)jint(s, "forwarded_packets"), (double)jint(s, "forwarded_bytes"));
	line("answered", (double)jint(s, "answered_packets"), -1);
	line("to kernel", (double)jint(s, "kernel_packets"), -1);
	line("dropped", (double)jint(s, "dropped_packets"), -1);
	line("tx refused", (double)jint(s, "tx_refused"), -1);
	f = json_object_get(s, "flows");
	printf("%-12s %10s entries  hits %s  misses %s  evictions %s\n", "flows",
	       fmt_count((double)jint(f, "entries"), e, sizeof(e)),
	       fmt_count((double)jint(f, "hits"), h, sizeof(h)),
	       fmt_count((double)jint(f, "misses"), a, sizeof(a)),
	       fmt_count((double)jint(f, "evictions"), b, sizeof(b)));
	json_decref(s);
	return KEELCTL_OK;
}

static int stats_vip(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "VIP", "PACKETS", "BYTES", "SOURCE DENIED" };
	char p[32], b[32], d[32];
	struct table *t;
	const char *k;
	json_t *s, *v;
	bool lists = false;
	int rc;

	if ((rc = fetch(c, argc, argv, &s)))
		return rc;
	/* Source lists: the SOURCE DENIED column only when some VIP has a list ("-" for the others). */
	json_object_foreach(json_object_get(s, "vips"), k, v)
		lists = lists || json_object_get(v, "source_denied");
	if (c->json) {
		json_print(json_object_get(s, "vips"));
	} else {
		t = table_new(lists ? 4 : 3, heads);
		table_right(t, 1);
		table_right(t, 2);
		if (lists)
			table_right(t, 3);
		json_object_foreach(json_object_get(s, "vips"), k, v)
			table_add(t, k, fmt_count((double)jint(v, "packets"), p, sizeof(p)),
				  fmt_bytes((double)jint(v, "bytes"), b, sizeof(b)),
				  json_object_get(v, "source_denied") ?
				  fmt_count((double)jint(v, "source_denied"), d, sizeof(d)) : "-");
		table_print(c, t);
		table_free(t);
	}
	json_decref(s);
	return KEELCTL_OK;
}

static int stats_backend(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "VIP", "BACKEND", "PACKETS", "BYTES", "NEW FLOWS" };
	char p[32], b[32], f[32];
	struct table *t;
	json_t *s, *v;
	size_t i;
	int rc;

	if ((rc = fetch(c, argc, argv, &s)))
		return rc;
	if (c->json) {
		json_print(json_object_get(s, "backends"));
	} else {
		t = table_new(5, heads);
		table_right(t, 2);
		table_right(t, 3);
		table_right(t, 4);
		json_array_foreach(json_object_get(s, "backends"), i, v)
			table_add(t, jstr(v, "vip"), jstr(v, "backend"),
				  fmt_count((double)jint(v, "packets"), p, sizeof(p)),
				  fmt_bytes((double)jint(v, "bytes"), b, sizeof(b)),
				  fmt_count((double)jint(v, "new_flows"), f, sizeof(f)));
		table_print(c, t);
		table_free(t);
	}
	json_decref(s);
	return KEELCTL_OK;
}

static int stats_drops(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "REASON", "PACKETS" };
	struct table *t;
	const char *k;
	json_t *s, *v;
	char p[32];
	int rc;

	if ((rc = fetch(c, argc, argv, &s)))
		return rc;
	if (c->json) {
		json_print(json_object_get(s, "drops"));
	} else if (!json_object_size(json_object_get(s, "drops"))) {
		puts("no drops");
	} else {
		t = table_new(2, heads);
		table_right(t, 1);
		json_object_foreach(json_object_get(s, "drops"), k, v)
			table_add(t, k, fmt_count((double)json_integer_value(v), p, sizeof(p)));
		table_print(c, t);
		table_free(t);
	}
	json_decref(s);
	return KEELCTL_OK;
}

/* Workers are in /v1/status (the seam's per-worker status), not in the summed counters. */
static int stats_worker(struct ctl *c, int argc, char **argv)
{
	static const char *const heads[] = { "WORKER", "LCORE", "SOCKET", "GENERATION", "ACTIVATIONS",
					     "REFUSED", "BUSY CYCLES", "NUMA" };
	char w[16], l[16], so[16], g[24], a[24], r[24], b[32];
	struct keel_api_worker_status *ws = NULL;
	json_t *st, *workers;
	struct table *t;
	size_t i, n_w = 0;
	bool has = false;
	int n, rc;

	if ((rc = ctl_parse(c, &stats_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_STATUS, NULL, NULL, &st)))
		return rc;
	workers = keel_api_status_workers(st);
	if (c->json) {
		json_t *o = workers ? json_incref(workers) : json_array();

		json_print(o);
		json_decref(o);
	} else if (keel_api_workers_decode(st, &ws, &n_w, &has) || !has) {
		puts("dataplane not running: no workers");
	} else {
		t = table_new(8, heads);
		for (int k = 0; k < 7; k++)
			table_right(t, k);
		for (i = 0; i < n_w; i++) {
			snprintf(w, sizeof(w), "%lld", (long long)ws[i].worker);
			snprintf(l, sizeof(l), "%lld", (long long)ws[i].lcore);
			snprintf(so, sizeof(so), "%lld", (long long)ws[i].socket);
			snprintf(g, sizeof(g), "%lld", (long long)ws[i].generation);
			snprintf(a, sizeof(a), "%lld", (long long)ws[i].activations);
			snprintf(r, sizeof(r), "%lld", (long long)ws[i].refused);
			table_add(t, w, l, so, g, a, r, fmt_count((double)ws[i].busy_cycles, b, sizeof(b)),
				  ws[i].numa_mismatch ? "REMOTE PORT" : "ok");
		}
		table_print(c, t);
		table_free(t);
	}
	free(ws);
	json_decref(st);
	return KEELCTL_OK;
}

static const struct ctl_verb stats_verbs[] = {
	{ "", "", "summary: packets and bytes received, forwarded, dropped; flow table", stats_summary },
	{ "vip", "", "packets and bytes per VIP", stats_vip },
	{ "backend", "", "packets, bytes and new flows per backend", stats_backend },
	{ "worker", "", "per worker: lcore, NUMA socket, generation, busy cycles", stats_worker },
	{ "drops", "", "drops by reason", stats_drops },
	{ 0 },
};

const struct ctl_object stats_object = { "stats", "counters (use top for rates)", stats_verbs, true };
