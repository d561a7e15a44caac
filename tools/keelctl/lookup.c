/* keelctl lookup: which backend a client's flow hits, and why (the dataplane's own lookup on its active snapshot). */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

static int lookup(struct ctl *c, int argc, char **argv)
{
	const char *src = NULL, *sport = NULL, *dport = NULL, *proto = NULL;
	const struct ctl_opt opts[] = {
		{ "src", 's', true, &src, NULL },
		{ "sport", 'p', true, &sport, NULL },
		{ "dport", 'd', true, &dport, NULL },
		{ "proto", 0, true, &proto, NULL },
		{ 0 },
	};
	struct keel_api_query q = { .has_vip = true, .has_src = true, .has_sport = true };
	uint32_t port, dp;
	json_t *r, *v;
	char *pos[1];
	int n, rc;

	if ((rc = ctl_parse(c, &lookup_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1 || !src || !sport)
		return ctl_usage_error(&lookup_object, "lookup: needs VIP --src ADDRESS --sport PORT");
	if (!ctl_address(src, &q.src))
		return ctl_usage_error(&lookup_object, "lookup: \"%s\" is not an IP address", src);
	if ((rc = ctl_parse_u32(&lookup_object, "--sport", sport, 65535, &port)))
		return rc;
	if (dport) {
		/* An all-ports VIP hashes the destination port too; keel-control refuses a lookup without it. */
		if ((rc = ctl_parse_u32(&lookup_object, "--dport", dport, 65535, &dp)))
			return rc;
		q.has_dport = true;
		q.dport = (uint16_t)dp;
	}
	if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return ctl_usage_error(&lookup_object, "lookup: --proto is tcp or udp");
	if (!api_arg_fits(pos[0]) || !api_arg_fits(src))
		return ctl_usage_error(&lookup_object, "lookup: argument too long");
	if (strlen(pos[0]) >= sizeof(q.vip)) {
		/* No configuration holds such a name: what keel-control would answer (400). */
		fprintf(stderr, "keelctl: lookup: vip: \"%.64s\" is not a VIP name\n", pos[0]);
		return KEELCTL_DATAERR;
	}
	strcpy(q.vip, pos[0]);
	q.sport = (uint16_t)port;
	if (proto) {
		/* A VIP has one protocol: the API takes the VIP's; a mismatch is a wrong question. */
		if ((rc = api_get(c, KEEL_API_ROUTE_VIP, pos[0], NULL, &v)))
			return rc;
		rc = strcmp(jstr(v, "protocol"), proto) ? KEELCTL_DATAERR : KEELCTL_OK;
		if (rc)
			fprintf(stderr, "keelctl: lookup: VIP %s is %s, not %s\n", pos[0],
				jstr(v, "protocol"), proto);
		json_decref(v);
		if (rc)
			return rc;
	}
	if ((rc = api_get(c, KEEL_API_ROUTE_LOOKUP, NULL, &q, &r)))
		return rc;
	if (c->json) {
		json_print(r);
	} else {
		json_t *b = json_object_get(r, "backend");

		printf("%s %s port %lld to port %lld -> %s\n", jstr(r, "vip"), jstr(r, "source"),
		       (long long)jint(r, "source_port"), (long long)jint(r, "destination_port"),
		       json_is_string(b) ? json_string_value(b) : "no backend (dropped: no_backend)");
		printf("why: %s, hash 0x%08llx, slot %lld of the table of generation %lld\n",
		       jstr(r, "reason"), (unsigned long long)jint(r, "hash"),
		       (long long)jint(r, "slot"), (long long)jint(r, "generation"));
		b = json_object_get(r, "previous_owner");
		if (json_is_string(b))
			printf("previous owner: %s (the slot moved recently: on a GUE VIP, an untracked TCP "
			       "packet goes to %s naming it)\n",
			       json_string_value(b), jstr(r, "maglev_backend"));
		if (*jstr(r, "note"))
			printf("note: %s\n", jstr(r, "note"));
	}
	json_decref(r);
	return KEELCTL_OK;
}

static const struct ctl_verb lookup_verbs[] = {
	{ "", "VIP --src ADDRESS --sport PORT [--dport PORT] [--proto tcp|udp]",
	  "which backend a flow from ADDRESS:PORT to the VIP (on --dport, needed for an "
	  "all-ports VIP) goes to, and why", lookup },
	{ 0 },
};

const struct ctl_object lookup_object = { "lookup", "where a client's flow goes", lookup_verbs, true };
