/* keelctl bgp, keelctl host drain|undrain: what this host announces and why, its BGP peers, the planned drain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl.h"

static const char *yes(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key)) ? "yes" : "no";
}

void steer_print(json_t *s)
{
	json_t *v;
	size_t i;

	if (!s)
		return;
	if (!json_is_true(json_object_get(s, "required"))) {
		printf("steering     none: no steering program on the dataplane's interfaces\n");
		return;
	}
	if (!json_is_true(json_object_get(s, "maps_visible")))
		printf("steering     MAPS NOT VISIBLE (%s): %lld VIPs not steered, not announced\n",
		       jstr(s, "error"), (long long)jint(s, "vips_missing"));
	else if (jint(s, "vips_missing"))
		printf("steering     INCOMPLETE (%s): %lld VIPs without their entries, not announced\n",
		       jstr(s, "where"), (long long)jint(s, "vips_missing"));
	else
		printf("steering     ok: every VIP in the maps of %s\n", jstr(s, "where"));
	json_array_foreach(json_object_get(s, "missing"), i, v)
		printf("             not steered: %s\n", json_string_value(v));
}

void bgp_print(struct ctl *c, json_t *b)
{
	static const char *const vh[] = { "VIP", "ADDRESS", "ANNOUNCED", "EXPORTED", "PREFERENCE", "MED", "REASON", "FOR" };
	static const char *const ph[] = { "PEER", "BIRD PROTOCOL", "ASN", "SESSION", "EXPORTED", "INFO" };
	char med[16], age[32], asn[16], exp[32];
	size_t n_peers = json_array_size(json_object_get(b, "peers"));
	struct table *t;
	json_t *v;
	size_t i;

	if (!json_is_true(json_object_get(b, "enabled"))) {
		printf("bgp          disabled (no bgp: section)\n");
		return;
	}
	if (json_is_true(json_object_get(b, "speaker_up")))
		printf("bgp          BIRD up, table %lld, %lld announces, %lld withdraws\n",
		       (long long)jint(b, "table"), (long long)jint(b, "announces"),
		       (long long)jint(b, "withdraws"));
	else
		printf("bgp          BIRD DOWN (%s): routes stay in table %lld for when it is back\n",
		       jstr(b, "speaker_error"), (long long)jint(b, "table"));
	/* /v1/bgp carries it; keelctl status prints its own line. */
	steer_print(json_object_get(b, "steering"));
	if (json_is_true(json_object_get(b, "draining")))
		printf("drain        DRAINING: %s\n",
		       json_is_true(json_object_get(b, "forwarding_stopped")) ? "forwarding stopped" :
		       "withdrawn, forwarding until the wait is over");
	t = table_new(8, vh);
	table_right(t, 5);
	json_array_foreach(json_object_get(b, "vips"), i, v) {
		snprintf(med, sizeof(med), "%lld", (long long)jint(v, "metric"));
		/* ANNOUNCED: in keel's kernel table; EXPORTED: peers BIRD sends the route to. */
		snprintf(exp, sizeof(exp), "%lld/%zu", (long long)jint(v, "exported"), n_peers);
		table_add(t, jstr(v, "vip"), jstr(v, "address"), yes(v, "announced"), exp,
			  jstr(v, "preference"), jint(v, "metric") ? med : NULL, jstr(v, "reason"),
			  fmt_age(jint(v, "for_ms"), age, sizeof(age)));
	}
	putchar('\n');
	table_print(c, t);
	table_free(t);
	t = table_new(6, ph);
	json_array_foreach(json_object_get(b, "peers"), i, v) {
		json_t *er = json_object_get(v, "exported_routes");

		snprintf(asn, sizeof(asn), "%lld", (long long)jint(v, "asn"));
		snprintf(exp, sizeof(exp), "%lld routes", (long long)json_integer_value(er));
		table_add(t, jstr(v, "peer"), jstr(v, "protocol"), jint(v, "asn") ? asn : NULL,
			  json_is_true(json_object_get(v, "up")) ? "up" : "DOWN",
			  json_is_integer(er) ? exp : "unknown", jstr(v, "info"));
	}
	putchar('\n');
	table_print(c, t);
	table_free(t);
}

static int bgp_show(struct ctl *c, int argc, char **argv)
{
	extern const struct ctl_object bgp_object;
	json_t *b;
	int n, rc;

	if ((rc = ctl_parse(c, &bgp_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_BGP, NULL, NULL, &b)))
		return rc;
	if (c->json)
		json_print(b);
	else
		bgp_print(c, b);
	json_decref(b);
	return KEELCTL_OK;
}

static const struct ctl_verb bgp_verbs[] = {
	{ "", "", "per VIP: announced, preference (MED), reason; BGP peers and their sessions", bgp_show },
	{ 0 },
};

const struct ctl_object bgp_object = { "bgp", "what this host announces over BGP (BIRD)", bgp_verbs, true };

static int host_call(struct ctl *c, const char *verb, const char *body)
{
	char what[64];
	int status, rc;
	json_t *out;

	rc = api_call(c, !strcmp(verb, "drain") ? KEEL_API_ROUTE_HOST_DRAIN : KEEL_API_ROUTE_HOST_UNDRAIN,
		      NULL, NULL, NULL, "application/json", body, strlen(body), &status, &out);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "host %s", verb);
	if (status != 200)
		return api_fail(c, what, status, out);
	if (c->json)
		json_print(out);
	else if (!strcmp(verb, "drain"))
		printf("host drained: every VIP withdrawn; forwarding stops in %lld ms "
		       "(tracked flows go on until then)\n", (long long)jint(out, "drain_left_ms"));
	else
		printf("host undrained: forwarding resumes, VIPs are announced once the workers run them\n");
	json_decref(out);
	return KEELCTL_OK;
}

extern const struct ctl_object host_object;

static int host_drain(struct ctl *c, int argc, char **argv)
{
	const char *wait = NULL;
	const struct ctl_opt opts[] = { { "wait", 'w', true, &wait, NULL }, { 0 } };
	struct keel_api_host_drain d = { 0 };
	char *body;
	json_t *o;
	int n, rc;

	if ((rc = ctl_parse(c, &host_object, argc, argv, opts, NULL, 0, &n)))
		return rc;
	d.has_wait = wait != NULL;
	if (wait && (strlen(wait) >= sizeof(d.wait) || strpbrk(wait, "\"\\")))
		return ctl_usage_error(&host_object, "host drain: --wait takes a duration like 5s");
	if (wait)
		strcpy(d.wait, wait);
	o = keel_api_host_drain_encode(&d);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body) {
		fprintf(stderr, "keelctl: host drain: out of memory\n");
		return KEELCTL_UNAVAILABLE;
	}
	rc = host_call(c, "drain", body);
	free(body);
	return rc;
}

static int host_undrain(struct ctl *c, int argc, char **argv)
{
	int n, rc;

	if ((rc = ctl_parse(c, &host_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	return host_call(c, "undrain", "{}");
}

static const struct ctl_verb host_verbs[] = {
	{ "drain", "[--wait DURATION]", "withdraw every VIP, wait (bgp.drain_wait or DURATION), then stop forwarding; persisted", host_drain },
	{ "undrain", "", "forward and announce again", host_undrain },
	{ 0 },
};

const struct ctl_object host_object = { "host", "planned drain of this Keel host", host_verbs, false };
