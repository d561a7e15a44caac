/* keelctl trace: arm a packet trace in the dataplane's workers, wait for its packets, print one block per packet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keelctl.h"

#define TRACE_POLL_MS 100

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *jstr_or(json_t *o, const char *key, const char *none)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : none;
}

/* One packet, as VPP's trace prints one: what came in, each stage's decision, what went out. */
static void print_record(json_t *r, size_t i)
{
	json_t *t = json_object_get(r, "tuple"), *o = json_object_get(r, "outer");

	printf("Packet %zu\n", i + 1);
	printf("  rx: port %lld queue %lld (worker %lld), %lld bytes, worker clock %lld ms\n",
	       (long long)jint(r, "port"), (long long)jint(r, "queue"), (long long)jint(r, "worker"),
	       (long long)jint(r, "in_len"), (long long)jint(r, "time_ms"));
	if (json_is_object(t))
		printf("  tuple: %s %s:%lld -> %s:%lld\n", jstr(t, "proto"), jstr(t, "src"),
		       (long long)jint(t, "sport"), jstr(t, "dst"), (long long)jint(t, "dport"));
	else
		printf("  tuple: none (the parser refused the frame)\n");
	printf("  vip: %s\n", jstr_or(r, "vip", "none"));
	printf("  flow: %s\n", jstr(r, "flow"));
	if (json_object_get(r, "slot"))
		printf("  maglev: slot %lld, hash 0x%08llx\n", (long long)jint(r, "slot"),
		       (unsigned long long)jint(r, "hash"));
	printf("  backend: %s\n", jstr_or(r, "backend", "none"));
	if (json_is_true(json_object_get(r, "second_chance")))
		printf("  second chance: previous owner %s named\n", jstr_or(r, "previous_owner", "?"));
	if (!strcmp(jstr(r, "verdict"), "drop"))
		printf("  verdict: drop (%s)\n", jstr(r, "drop_reason"));
	else
		printf("  verdict: %s\n", jstr(r, "verdict"));
	if (json_is_object(o)) {
		printf("  out: %lld bytes, outer %s %s -> %s ttl %lld", (long long)jint(r, "out_len"),
		       jstr(o, "proto"), jstr(o, "src"), jstr(o, "dst"), (long long)jint(o, "ttl"));
		if (json_object_get(o, "dport"))
			printf(" dport %lld", (long long)jint(o, "dport"));
		printf("\n");
	}
}

static int trace_print(struct ctl *c, json_t *r)
{
	json_t *recs = json_object_get(r, "records"), *x;
	size_t i;

	if (c->json) {
		json_print(r);
		return KEELCTL_OK;
	}
	json_array_foreach(recs, i, x) {
		if (i)
			printf("\n");
		print_record(x, i);
	}
	if (json_array_size(recs) == 0)
		printf("no packet matched (trace %lld: %s)\n", (long long)jint(r, "trace"),
		       json_is_true(json_object_get(r, "armed")) ? "still armed" : "ended");
	return KEELCTL_OK;
}

static int set_port(json_t *body, const char *key, const char *s)
{
	uint32_t v;
	int rc = ctl_parse_u32(&trace_object, key, s, 65535, &v);

	if (rc || v == 0)
		return rc ? rc : ctl_usage_error(&trace_object, "trace: --%s is 1 to 65535", key);
	json_object_set_new(body, key, json_integer(v));
	return 0;
}

static int trace(struct ctl *c, int argc, char **argv)
{
	const char *vip = NULL, *src = NULL, *dst = NULL, *sport = NULL, *dport = NULL, *proto = NULL,
		   *drop = NULL, *count = "10", *secs = "10";
	bool no_wait = false;
	const struct ctl_opt opts[] = {
		{ "vip", 0, true, &vip, NULL },
		{ "src", 's', true, &src, NULL },
		{ "dst", 'd', true, &dst, NULL },
		{ "sport", 0, true, &sport, NULL },
		{ "dport", 0, true, &dport, NULL },
		{ "proto", 0, true, &proto, NULL },
		{ "drop", 0, true, &drop, NULL },
		{ "count", 'c', true, &count, NULL },
		{ "time", 't', true, &secs, NULL },
		{ "no-wait", 0, false, NULL, &no_wait },
		{ 0 },
	};
	uint32_t n, t;
	json_t *body, *out = NULL;
	char *text;
	int rc, status, n_pos;
	long waited = 0;

	if ((rc = ctl_parse(c, &trace_object, argc, argv, opts, NULL, 0, &n_pos)))
		return rc;
	if ((rc = ctl_parse_u32(&trace_object, "--count", count, 256, &n)))
		return rc;
	if ((rc = ctl_parse_u32(&trace_object, "--time", secs, 600, &t)))
		return rc;
	if (n == 0 || t == 0)
		return ctl_usage_error(&trace_object, "trace: --count is 1 to 256, --time 1 to 600 seconds");
	body = json_pack("{s:i,s:i}", "count", (int)n, "duration_ms", (int)(t * 1000));
	if (vip)
		json_object_set_new(body, "vip", json_string(vip));
	if (src)
		json_object_set_new(body, "src", json_string(src));
	if (dst)
		json_object_set_new(body, "dst", json_string(dst));
	if (proto) {
		char *end;
		long p = strtol(proto, &end, 10);

		json_object_set_new(body, "proto", *end || end == proto ? json_string(proto) : json_integer(p));
	}
	if (drop)
		json_object_set_new(body, "drop", json_string(drop));
	if ((sport && (rc = set_port(body, "sport", sport))) || (dport && (rc = set_port(body, "dport", dport)))) {
		json_decref(body);
		return rc;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return KEELCTL_UNAVAILABLE;
	rc = api_call(c, KEEL_API_ROUTE_TRACE_ARM, NULL, NULL, NULL, "application/json", text,
		      strlen(text), &status, &out);
	free(text);
	if (rc)
		return rc;
	if (status != 200)
		return api_fail(c, "trace", status, out);
	json_decref(out);
	if (no_wait) {
		if (!c->json)
			printf("trace armed: %u packets, %u s (keelctl trace show)\n", n, t);
		return KEELCTL_OK;
	}
	/* Until the workers took the count or the time ran out (each worker stops on its own). */
	for (;;) {
		if ((rc = api_get(c, KEEL_API_ROUTE_TRACE, NULL, NULL, &out)))
			return rc;
		if (json_is_true(json_object_get(out, "done")) || waited >= (long)t * 1000 + 500)
			break;
		json_decref(out);
		sleep_ms(TRACE_POLL_MS);
		waited += TRACE_POLL_MS;
	}
	rc = trace_print(c, out);
	json_decref(out);
	return rc;
}

static int trace_show(struct ctl *c, int argc, char **argv)
{
	json_t *out;
	int rc, n;

	if ((rc = ctl_parse(c, &trace_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_TRACE, NULL, NULL, &out)))
		return rc;
	rc = trace_print(c, out);
	json_decref(out);
	return rc;
}

static int trace_stop(struct ctl *c, int argc, char **argv)
{
	json_t *out = NULL;
	int rc, n, status;

	if ((rc = ctl_parse(c, &trace_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_call(c, KEEL_API_ROUTE_TRACE_STOP, NULL, NULL, NULL, NULL, "", 0, &status, &out)))
		return rc;
	if (status != 200)
		return api_fail(c, "trace stop", status, out);
	if (c->json)
		json_print(out);
	json_decref(out);
	return KEELCTL_OK;
}

static const struct ctl_verb trace_verbs[] = {
	{ "", "[--vip NAME] [--src ADDR[/LEN]] [--dst ADDR[/LEN]] [--sport N] [--dport N] [--proto P] "
	      "[--drop REASON|any] [-c N] [-t SECONDS] [--no-wait]",
	  "trace up to N packets (10) matching the filter through the workers, for at most SECONDS (10)", trace },
	{ "show", "", "the current or last trace's packets", trace_show },
	{ "stop", "", "disarm the trace", trace_stop },
	{ 0 },
};

const struct ctl_object trace_object = { "trace", "follow packets through the dataplane's stages", trace_verbs,
					 true };
