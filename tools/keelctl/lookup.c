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
	char path[512], vip[200], a[200], vpath[256], dq[16] = "";
	uint32_t port, dp;
	json_t *r, *v;
	char *pos[1];
	int n, rc;

	if ((rc = ctl_parse(c, &lookup_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1 || !src || !sport)
		return ctl_usage_error(&lookup_object, "lookup: needs VIP --src ADDRESS --sport PORT");
	if (!ctl_is_address(src))
		return ctl_usage_error(&lookup_object, "lookup: \"%s\" is not an IP address", src);
	if ((rc = ctl_parse_u32(&lookup_object, "--sport", sport, 65535, &port)))
		return rc;
	if (dport) {
		/* An all-ports VIP hashes the destination port too; keel-control refuses a lookup without it. */
		if ((rc = ctl_parse_u32(&lookup_object, "--dport", dport, 65535, &dp)))
			return rc;
		snprintf(dq, sizeof(dq), "&dport=%u", dp);
	}
	if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return ctl_usage_error(&lookup_object, "lookup: --proto is tcp or udp");
	if (api_escape(vip, sizeof(vip), pos[0]) || api_escape(a, sizeof(a), src))
		return ctl_usage_error(&lookup_object, "lookup: argument too long");
	if (proto) {
		/* A VIP has one protocol: the API takes the VIP's; a mismatch is a wrong question. */
		snprintf(vpath, sizeof(vpath), "/v1/vips/%s", vip);
		if ((rc = api_get(c, vpath, &v)))
			return rc;
		rc = strcmp(jstr(v, "protocol"), proto) ? KEELCTL_DATAERR : KEELCTL_OK;
		if (rc)
			fprintf(stderr, "keelctl: lookup: VIP %s is %s, not %s\n", pos[0],
				jstr(v, "protocol"), proto);
		json_decref(v);
		if (rc)
			return rc;
	}
	snprintf(path, sizeof(path), "/v1/lookup?vip=%s&src=%s&sport=%u%s", vip, a, port, dq);
	if ((rc = api_get(c, path, &r)))
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
