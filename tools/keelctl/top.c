/* keelctl top: a live view; rates from two samples of /v1/stats and /v1/status, redrawn every interval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keelctl.h"

struct sample {
	json_t *stats, *status;
	double t; /* CLOCK_MONOTONIC seconds: rates need the real interval, not the asked one */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int take(struct ctl *c, struct sample *s)
{
	int rc;

	s->t = now_s();
	if ((rc = api_get(c, KEEL_API_ROUTE_STATS, NULL, NULL, &s->stats)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_STATUS, NULL, NULL, &s->status))) {
		json_decref(s->stats);
		return rc;
	}
	return KEELCTL_OK;
}

static void drop_sample(struct sample *s)
{
	json_decref(s->stats);
	json_decref(s->status);
	s->stats = s->status = NULL;
}

/* Per-second rate of integer field key between a and b; a counter that went back (restart) is 0. */
static double rate(json_t *a, json_t *b, const char *key, double dt)
{
	int64_t x = jint(a, key), y = jint(b, key);

	return y >= x && dt > 0 ? (double)(y - x) / dt : 0;
}

static json_t *backend_in(json_t *arr, json_t *like)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (!strcmp(jstr(v, "vip"), jstr(like, "vip")) &&
		    !strcmp(jstr(v, "backend"), jstr(like, "backend")))
			return v;
	return NULL;
}

static json_t *worker_in(json_t *st, int64_t w)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(st, "dataplane"), "workers"), i, v)
		if (jint(v, "worker") == w)
			return v;
	return NULL;
}

/* The rates of one interval as JSON: what -j prints, and what the human view is drawn from. */
static json_t *rates(struct sample *a, struct sample *b)
{
	double dt = b->t - a->t;
	json_t *o, *vips = json_object(), *bes = json_array(), *drops = json_object(), *wk = json_array();
	json_t *fa = json_object_get(a->stats, "flows"), *fb = json_object_get(b->stats, "flows");
	json_t *v, *w, *wa;
	const char *k;
	size_t i;

	json_object_foreach(json_object_get(b->stats, "vips"), k, v) {
		json_t *p = json_object_get(json_object_get(a->stats, "vips"), k);

		json_object_set_new(vips, k, json_pack("{s:f,s:f}", "pps", rate(p, v, "packets", dt),
						       "bytes_ps", rate(p, v, "bytes", dt)));
	}
	json_array_foreach(json_object_get(b->stats, "backends"), i, v) {
		json_t *p = backend_in(json_object_get(a->stats, "backends"), v);

		json_array_append_new(bes, json_pack("{s:s,s:s,s:f,s:f,s:f}", "vip", jstr(v, "vip"),
						     "backend", jstr(v, "backend"), "pps",
						     rate(p, v, "packets", dt), "bytes_ps",
						     rate(p, v, "bytes", dt), "new_flows_ps",
						     rate(p, v, "new_flows", dt)));
	}
	json_object_foreach(json_object_get(b->stats, "drops"), k, v)
		json_object_set_new(drops, k, json_pack("{s:f,s:I}", "pps",
							rate(json_object_get(a->stats, "drops"),
							     json_object_get(b->stats, "drops"), k, dt),
							"total", json_integer_value(v)));
	json_array_foreach(json_object_get(json_object_get(b->status, "dataplane"), "workers"), i, w) {
		json_t *x;

		wa = worker_in(a->status, jint(w, "worker"));
		x = json_pack("{s:I,s:I,s:I,s:f,s:b}", "worker", jint(w, "worker"), "lcore",
			      jint(w, "lcore"), "generation", jint(w, "generation"),
			      "busy_cycles_ps", rate(wa, w, "busy_cycles", dt), "heartbeat_moved",
			      jint(w, "heartbeat_ms") != jint(wa, "heartbeat_ms"));
		/* Load needs idle cycles too; used when the API reports them. */
		if (json_object_get(w, "idle_cycles")) {
			double busy = rate(wa, w, "busy_cycles", dt), idle = rate(wa, w, "idle_cycles", dt);

			json_object_set_new(x, "load", json_real(busy + idle > 0 ? busy / (busy + idle) : 0));
		}
		json_array_append_new(wk, x);
	}
	o = json_pack("{s:f,s:I,s:b,s:f,s:f,s:f,s:f,s:f,s:{s:I,s:f,s:f,s:f,s:f},s:o,s:o,s:o,s:o}",
		      "interval_s", dt, "generation", jint(b->status, "generation"), "dataplane",
		      json_is_true(json_object_get(json_object_get(b->status, "dataplane"), "alive")),
		      "rx_pps", rate(a->stats, b->stats, "rx_packets", dt), "rx_bytes_ps",
		      rate(a->stats, b->stats, "rx_bytes", dt), "forwarded_pps",
		      rate(a->stats, b->stats, "forwarded_packets", dt), "forwarded_bytes_ps",
		      rate(a->stats, b->stats, "forwarded_bytes", dt), "dropped_pps",
		      rate(a->stats, b->stats, "dropped_packets", dt), "flows", "entries",
		      jint(fb, "entries"), "hits_ps", rate(fa, fb, "hits", dt), "misses_ps",
		      rate(fa, fb, "misses", dt), "inserts_ps", rate(fa, fb, "inserts", dt),
		      "evictions_ps", rate(fa, fb, "evictions", dt), "vips", vips, "backends", bes,
		      "drops", drops, "workers", wk);
	return o;
}

static void draw(struct ctl *c, json_t *r)
{
	static const char *const vh[] = { "VIP", "RATE", "THROUGHPUT" };
	static const char *const bh[] = { "VIP", "BACKEND", "RATE", "THROUGHPUT", "NEW FLOWS" };
	static const char *const dh[] = { "DROP REASON", "RATE", "TOTAL" };
	static const char *const wh[] = { "WORKER", "LCORE", "GENERATION", "BUSY", "LOAD", "HEARTBEAT" };
	char x[32], y[32], z[32];
	json_t *f = json_object_get(r, "flows"), *v;
	struct table *t;
	const char *k;
	size_t i;

	printf("keel top: generation %lld, dataplane %s, every %.1f s\n",
	       (long long)jint(r, "generation"),
	       json_is_true(json_object_get(r, "dataplane")) ? "alive" : "NOT RUNNING",
	       jnum(r, "interval_s"));
	{
		char r1[32], r2[32], f1[32], f2[32], d1[32];

		printf("rx %s  %s   forwarded %s  %s   dropped %s\n",
		       fmt_rate(jnum(r, "rx_pps"), "pps", r1, sizeof(r1)),
		       fmt_rate(jnum(r, "rx_bytes_ps"), "B/s", r2, sizeof(r2)),
		       fmt_rate(jnum(r, "forwarded_pps"), "pps", f1, sizeof(f1)),
		       fmt_rate(jnum(r, "forwarded_bytes_ps"), "B/s", f2, sizeof(f2)),
		       fmt_rate(jnum(r, "dropped_pps"), "pps", d1, sizeof(d1)));
	}
	printf("flow table: %s entries", fmt_count((double)jint(f, "entries"), x, sizeof(x)));
	printf(", hits %s", fmt_rate(jnum(f, "hits_ps"), "/s", y, sizeof(y)));
	printf(", inserts %s", fmt_rate(jnum(f, "inserts_ps"), "/s", z, sizeof(z)));
	printf(", evictions %s\n\n", fmt_rate(jnum(f, "evictions_ps"), "/s", x, sizeof(x)));

	t = table_new(3, vh);
	table_right(t, 1);
	table_right(t, 2);
	json_object_foreach(json_object_get(r, "vips"), k, v)
		table_add(t, k, fmt_rate(jnum(v, "pps"), "pps", x, sizeof(x)),
			  fmt_rate(jnum(v, "bytes_ps"), "B/s", y, sizeof(y)));
	table_print(c, t);
	table_free(t);
	putchar('\n');
	t = table_new(5, bh);
	for (int n = 2; n < 5; n++)
		table_right(t, n);
	json_array_foreach(json_object_get(r, "backends"), i, v)
		table_add(t, jstr(v, "vip"), jstr(v, "backend"),
			  fmt_rate(jnum(v, "pps"), "pps", x, sizeof(x)),
			  fmt_rate(jnum(v, "bytes_ps"), "B/s", y, sizeof(y)),
			  fmt_rate(jnum(v, "new_flows_ps"), "/s", z, sizeof(z)));
	table_print(c, t);
	table_free(t);
	putchar('\n');
	if (json_object_size(json_object_get(r, "drops"))) {
		t = table_new(3, dh);
		table_right(t, 1);
		table_right(t, 2);
		json_object_foreach(json_object_get(r, "drops"), k, v)
			table_add(t, k, fmt_rate(jnum(v, "pps"), "pps", x, sizeof(x)),
				  fmt_count((double)jint(v, "total"), y, sizeof(y)));
		table_print(c, t);
		table_free(t);
	} else {
		puts("no drops");
	}
	putchar('\n');
	t = table_new(6, wh);
	for (int n = 0; n < 5; n++)
		table_right(t, n);
	json_array_foreach(json_object_get(r, "workers"), i, v) {
		char w[16], l[16], g[24], ld[16] = "";

		snprintf(w, sizeof(w), "%lld", (long long)jint(v, "worker"));
		snprintf(l, sizeof(l), "%lld", (long long)jint(v, "lcore"));
		snprintf(g, sizeof(g), "%lld", (long long)jint(v, "generation"));
		if (json_object_get(v, "load"))
			fmt_share(jnum(v, "load"), ld, sizeof(ld));
		table_add(t, w, l, g, fmt_rate(jnum(v, "busy_cycles_ps"), "cyc/s", x, sizeof(x)), dash(ld),
			  json_is_true(json_object_get(v, "heartbeat_moved")) ? "ok" : "STALLED");
	}
	table_print(c, t);
	table_free(t);
}

static int top(struct ctl *c, int argc, char **argv)
{
	const char *count = NULL, *delay = NULL;
	bool once = false;
	const struct ctl_opt opts[] = {
		{ "once", 0, false, NULL, &once },
		{ "iterations", 'n', true, &count, NULL },
		{ "delay", 'd', true, &delay, NULL },
		{ 0 },
	};
	bool clear = isatty(STDOUT_FILENO);
	struct sample a = { 0 }, b = { 0 };
	uint32_t iters = 0, done;
	double interval = 1.0;
	int n, rc;

	if ((rc = ctl_parse(c, &top_object, argc, argv, opts, NULL, 0, &n)))
		return rc;
	if (count && (rc = ctl_parse_u32(&top_object, "-n", count, 1000000, &iters)))
		return rc;
	if (delay) {
		char *end;

		interval = strtod(delay, &end);
		if (*end || end == delay || !(interval >= 0.1 && interval <= 3600))
			return ctl_usage_error(&top_object, "-d: seconds, 0.1..3600");
	}
	if (once)
		iters = 1;
	if ((rc = take(c, &a)))
		return rc;
	for (done = 0; !iters || done < iters; done++) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - floor(interval)) * 1e9) };
		json_t *r;

		nanosleep(&ts, NULL);
		if ((rc = take(c, &b)))
			break;
		r = rates(&a, &b);
		if (c->json) {
			/* One JSON document per line and refresh: jq -c and friends read a stream. */
			json_dumpf(r, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			if (clear && !once)
				fputs("\033[H\033[2J", stdout);
			c->cols = term_cols(); /* the terminal may have been resized */
			draw(c, r);
		}
		fflush(stdout);
		json_decref(r);
		drop_sample(&a);
		a = b;
		b.stats = b.status = NULL;
	}
	drop_sample(&a);
	drop_sample(&b);
	return rc;
}

static const struct ctl_verb top_verbs[] = {
	{ "", "[--once] [-n N] [-d SECONDS]",
	  "live rates per VIP and backend, drops by reason, flow table, workers (every second; -n: N refreshes)", top },
	{ 0 },
};

const struct ctl_object top_object = { "top", "live view of rates", top_verbs, true };
