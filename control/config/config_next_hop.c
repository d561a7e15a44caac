/* The next_hop / next_hops keys (config_next_hop.h): each entry a gateway or a MAC, optionally the port it is on. */
#include "config_next_hop.h"

#include <errno.h>
#include <string.h>

#include "config_field.h"

static const char *const nh_keys[] = { "gateway", "mac", "interface", NULL };

/* A kernel interface name (IFNAMSIZ - 1 characters, no '/', no space, not "." or ".."). */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONFIG_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s <= ' ' || *s == 0x7f || *s == ':')
			return false;
	return true;
}

static int check_one(struct check *c, const struct loc *at, const json_t *o, struct config_next_hop *nh)
{
	struct loc ml = LOC_KEY(at, o, "mac"), gl = LOC_KEY(at, o, "gateway"), il = LOC_KEY(at, o, "interface");
	const char *mac = NULL, *ifname = NULL, *why;
	char t[CONFIG_TEXT_MAX];
	int rc;

	if ((rc = check_object(c, at, o, "the next hop", nh_keys)) ||
	    (rc = check_addr(c, at, o, "gateway", OPTIONAL, nh->gateway, &nh->gateway_family)) ||
	    (rc = check_string(c, at, o, "mac", OPTIONAL, &mac)) ||
	    (rc = check_string(c, at, o, "interface", OPTIONAL, &ifname)))
		return rc;
	nh->has_gateway = json_object_get(o, "gateway") != NULL;
	/* A next hop on the link may be link-local (fe80::1, 169.254.1.1 on unnumbered links). */
	if (nh->has_gateway && (why = config_addr_special(nh->gateway, nh->gateway_family, true)))
		return check_bad(c, &gl, "%s is %s: it cannot be the next hop",
				 config_format_addr(nh->gateway, nh->gateway_family, t), why);
	if (mac && nh->has_gateway)
		return check_bad_key(c, &ml, "give the gateway or its MAC, not both");
	if (!mac && !nh->has_gateway)
		return check_bad(c, at, "missing required key \"gateway\" (or \"mac\")");
	if (mac && config_parse_mac(mac, nh->mac, &why))
		return check_bad(c, &ml, "\"%.40s\": %s", mac, why);
	nh->has_mac = mac != NULL;
	if (ifname && !ifname_ok(ifname))
		return check_bad(c, &il, "\"%.40s\" is not an interface name (1..%d characters, no '/', ':' "
				 "or spaces)", ifname, CONFIG_IFNAME_MAX - 1);
	if (ifname)
		strcpy(nh->interface, ifname);
	return 0;
}

static bool same_hop(const struct config_next_hop *a, const struct config_next_hop *b)
{
	if (a->has_gateway && b->has_gateway)
		return a->gateway_family == b->gateway_family && !memcmp(a->gateway, b->gateway, 16);
	return a->has_mac && b->has_mac && !memcmp(a->mac, b->mac, 6);
}

int config_next_hop_check(struct check *c, const struct loc *root, const json_t *top)
{
	struct keel_config *cfg = c->cfg;
	const json_t *one = json_object_get(top, "next_hop"), *list = json_object_get(top, "next_hops");
	struct loc at1 = LOC_KEY(root, top, "next_hop"), atn = LOC_KEY(root, top, "next_hops");
	char d[64];
	size_t i, j;
	int rc;

	memset(cfg->next_hops, 0, sizeof(cfg->next_hops));
	cfg->n_next_hops = 0;
	if (one && list)
		return check_bad_key(c, &atn, "give next_hop (one) or next_hops (a list), not both");
	if (one) {
		if ((rc = check_one(c, &at1, one, &cfg->next_hops[0])))
			return rc;
		cfg->n_next_hops = 1;
		return 0;
	}
	if (!list)
		return check_bad(c, root, "missing required key \"next_hop\" (or \"next_hops\")");
	if (!json_is_array(list))
		return check_bad(c, &atn, "expected a list of next hops, found %s",
				 check_describe(list, d, sizeof(d)));
	if (json_array_size(list) == 0 || json_array_size(list) > CONFIG_MAX_NEXT_HOPS)
		return check_bad(c, &atn, "%zu next hops: give 1 to %d", json_array_size(list),
				 CONFIG_MAX_NEXT_HOPS);
	for (i = 0; i < json_array_size(list); i++) {
		struct loc l = LOC_IDX(&atn, list, i);

		if ((rc = check_one(c, &l, json_array_get(list, i), &cfg->next_hops[i])))
			return rc;
		for (j = 0; j < i; j++)
			if (same_hop(&cfg->next_hops[j], &cfg->next_hops[i]))
				return check_bad(c, &l, "the same next hop as next_hops[%zu]", j);
		cfg->n_next_hops = (uint32_t)i + 1;
	}
	return 0;
}

bool config_next_hops_equal(const struct keel_config *a, const struct keel_config *b)
{
	uint32_t i;

	if (a->n_next_hops != b->n_next_hops)
		return false;
	for (i = 0; i < a->n_next_hops; i++) {
		const struct config_next_hop *x = &a->next_hops[i], *y = &b->next_hops[i];

		if (x->has_gateway != y->has_gateway || x->gateway_family != y->gateway_family ||
		    memcmp(x->gateway, y->gateway, 16) || x->has_mac != y->has_mac ||
		    memcmp(x->mac, y->mac, 6) || strcmp(x->interface, y->interface))
			return false;
	}
	return true;
}

static json_t *hop_to_json(const struct config_next_hop *nh)
{
	json_t *o = json_object();
	char t[CONFIG_TEXT_MAX];
	int bad = !o;

	if (o && nh->has_gateway)
		bad |= json_object_set_new(o, "gateway",
					   json_string(config_format_addr(nh->gateway, nh->gateway_family, t)));
	if (o && nh->has_mac) {
		config_format_mac(nh->mac, t);
		bad |= json_object_set_new(o, "mac", json_string(t));
	}
	if (o && nh->interface[0])
		bad |= json_object_set_new(o, "interface", json_string(nh->interface));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int config_next_hops_put(json_t *obj, const struct keel_config *cfg)
{
	json_t *arr;
	uint32_t i;

	if (cfg->n_next_hops == 1)
		return json_object_set_new(obj, "next_hop", hop_to_json(&cfg->next_hops[0])) ? -ENOMEM : 0;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < cfg->n_next_hops; i++)
		if (json_array_append_new(arr, hop_to_json(&cfg->next_hops[i]))) {
			json_decref(arr);
			return -ENOMEM;
		}
	return json_object_set_new(obj, "next_hops", arr) ? -ENOMEM : 0;
}
