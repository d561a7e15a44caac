/* The fleet: section and the split of the configuration into the fleet spec and host keys (config_fleet.h). */
#include "config_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_check.h"
#include "config_field.h"

/*
 * What must be equal on every host (the tables are built from it) is the fleet spec; the rest of
 * keel.yaml (instance, next_hop(s), encap_source, api, metrics, bgp, fleet) belongs to one host.
 */
static const char *const spec_keys[] = { "fleet_seed", "maglev_table_size", "mtu", "gue_port",
	"health_defaults", "panic_threshold", "vips", NULL };
static const char *const fleet_keys[] = { "endpoints", "prefix", "host", "credentials_file",
	"tls", "timeout", "lease_ttl", "watch_idle_timeout", "wait_timeout",
	"name", "forget_after", /* the fleet's identity, last-known records' age */
	NULL };
static const char *const tls_keys[] = { "ca", "cert", "key", NULL };
static const char *const host_keys[] = { "instance", "next_hop", "encap_source", "api", "metrics",
	"bgp", "fleet",
	"next_hops", /* several next hops (config_next_hop.c) */
	NULL };

static bool is_host_key(const char *key)
{
	for (size_t i = 0; host_keys[i]; i++)
		if (!strcmp(key, host_keys[i]))
			return true;
	return false;
}

void config_fleet_defaults(struct config_fleet *f)
{
	memset(f, 0, sizeof(*f));
	f->timeout_ms = 1500;
	f->lease_ttl_ms = 5000;
	f->watch_idle_ms = 10000;
	f->wait_ms = 10000;
	f->forget_after_ms = 24u * 3600 * 1000;
}

/* The prefix's last segment: "/keel/site1" is fleet "site1" unless fleet.name says otherwise. */
static void default_name(struct config_fleet *f)
{
	const char *s = strrchr(f->prefix, '/');

	snprintf(f->name, sizeof(f->name), "%s", s ? s + 1 : f->prefix);
}

bool config_fleet_is_spec_key(const char *key)
{
	for (size_t i = 0; spec_keys[i]; i++)
		if (!strcmp(key, spec_keys[i]))
			return true;
	return false;
}

/* http://host:port or https://..., printable ASCII without spaces. */
static bool url_ok(const char *s)
{
	const char *h;

	if (!strncmp(s, "http://", 7))
		h = s + 7;
	else if (!strncmp(s, "https://", 8))
		h = s + 8;
	else
		return false;
	if (!*h || *h == '/' || strlen(s) >= CONFIG_FLEET_URL_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* What a prefix segment may hold (the default name is one), below CONFIG_FLEET_HOST_MAX. */
static bool fleet_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= CONFIG_FLEET_HOST_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool prefix_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || s[0] != '/' || s[n - 1] == '/' || n >= CONFIG_FLEET_PREFIX_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.' || *s == '/'))
			return false;
	return !strstr(s - n, "//");
}

static int check_path(struct check *c, const struct loc *at, const json_t *o, const char *key,
		      char *out)
{
	struct loc l = LOC_KEY(at, o, key);
	const char *s = NULL;
	int rc;

	if ((rc = check_string(c, at, o, key, OPTIONAL, &s)) || !s)
		return rc;
	if (s[0] != '/' || strlen(s) >= CONFIG_FLEET_PATH_MAX)
		return check_bad(c, &l, "must be an absolute path shorter than %d bytes",
				 CONFIG_FLEET_PATH_MAX);
	strcpy(out, s);
	return 0;
}

static int check_endpoints(struct check *c, const struct loc *fat, const json_t *o,
			   struct config_fleet *f)
{
	const json_t *arr = json_object_get(o, "endpoints");
	struct loc at = LOC_KEY(fat, o, "endpoints");
	char d[64];
	size_t i;

	if (!arr)
		return check_bad(c, fat, "missing required key \"endpoints\"");
	if (!json_is_array(arr) || !json_array_size(arr))
		return check_bad(c, &at, "expected a list of etcd URLs (http://10.0.0.1:2379), got %s",
				 check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > CONFIG_FLEET_MAX_ENDPOINTS)
		return check_bad(c, &at, "too many endpoints: at most %d", CONFIG_FLEET_MAX_ENDPOINTS);
	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		struct loc l = LOC_IDX(&at, arr, i);

		if (!json_is_string(e) || !url_ok(json_string_value(e)))
			return check_bad(c, &l, "%s is not an etcd URL: http://host:port or https://host:port",
					 check_describe(e, d, sizeof(d)));
		strcpy(f->endpoints[f->n_endpoints++], json_string_value(e));
	}
	return 0;
}

/* A keel.yaml of a fleet holds no spec key: the spec's one copy is in the store. */
static int refuse_spec_keys(struct check *c, const struct loc *root, const json_t *top)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)top, key, v) {
		struct loc l = LOC_KEY(root, top, key);

		(void)v;
		if (config_fleet_is_spec_key(key))
			return check_bad_key(c, &l, "a fleet spec key in a fleet-mode keel.yaml: \"%s\" "
					     "lives in the store (<prefix>/spec; docs/fleet.md)", key);
	}
	return 0;
}

int config_fleet_check(struct check *c, const struct loc *root, const json_t *top)
{
	struct config_fleet *f = &c->cfg->fleet;
	const json_t *o = json_object_get(top, "fleet"), *tls;
	struct loc at = LOC_KEY(root, top, "fleet");
	struct loc pl = LOC_KEY(&at, o, "prefix");
	struct loc hl = LOC_KEY(&at, o, "host");
	const char *s = NULL;
	int rc;

	if (!o)
		return 0;
	f->enabled = true;
	if ((rc = check_object(c, &at, o, "the fleet settings", fleet_keys)) ||
	    (rc = check_endpoints(c, &at, o, f)) ||
	    (rc = check_string(c, &at, o, "prefix", REQUIRED, &s)))
		return rc;
	if (!prefix_ok(s))
		return check_bad(c, &pl, "\"%.64s\" is not a key prefix: it starts with '/', does not end "
				 "with one, and holds letters, digits, '_', '-', '.', '/'", s);
	strcpy(f->prefix, s);
	s = NULL;
	if ((rc = check_string(c, &at, o, "host", OPTIONAL, &s)))
		return rc;
	if (s && !config_name_ok(s, CONFIG_FLEET_HOST_MAX))
		return check_bad(c, &hl, "\"%.64s\" is not a host name: letters, digits, '_', '.' or '-'",
				 s);
	snprintf(f->host, sizeof(f->host), "%s", s ? s : c->cfg->instance);
	s = NULL;
	if ((rc = check_string(c, &at, o, "name", OPTIONAL, &s)))
		return rc;
	if (s && !fleet_name_ok(s)) {
		struct loc nl = LOC_KEY(&at, o, "name");

		return check_bad(c, &nl, "\"%.64s\" is not a fleet name: 1 to %d letters, digits, "
				 "'_', '.' or '-'", s, CONFIG_FLEET_HOST_MAX - 1);
	}
	if (s)
		snprintf(f->name, sizeof(f->name), "%s", s);
	else
		default_name(f);
	if ((rc = check_path(c, &at, o, "credentials_file", f->credentials_file)))
		return rc;
	if ((tls = json_object_get(o, "tls"))) {
		struct loc tl = LOC_KEY(&at, o, "tls");

		if ((rc = check_object(c, &tl, tls, "the TLS files", tls_keys)) ||
		    (rc = check_path(c, &tl, tls, "ca", f->ca_file)) ||
		    (rc = check_path(c, &tl, tls, "cert", f->cert_file)) ||
		    (rc = check_path(c, &tl, tls, "key", f->key_file)))
			return rc;
		if (!f->cert_file[0] != !f->key_file[0])
			return check_bad(c, &tl, "give both \"cert\" and \"key\", or neither");
	}
	if ((rc = check_duration(c, &at, o, "timeout", 100, 60000, &f->timeout_ms)) ||
	    (rc = check_duration(c, &at, o, "lease_ttl", 2000, 600000, &f->lease_ttl_ms)) ||
	    (rc = check_duration(c, &at, o, "watch_idle_timeout", 1000, 600000, &f->watch_idle_ms)) ||
	    (rc = check_duration(c, &at, o, "wait_timeout", 0, 600000, &f->wait_ms)) ||
	    (rc = check_duration(c, &at, o, "forget_after", 0, 30u * 24 * 3600 * 1000,
				 &f->forget_after_ms)))
		return rc;
	/* A last-known record that went before the live key would hide a host that is only late. */
	if (f->forget_after_ms && f->forget_after_ms < f->lease_ttl_ms) {
		struct loc fl = LOC_KEY(&at, o, "forget_after");

		return check_bad(c, &fl, "must be 0 (never) or at least lease_ttl");
	}
	/* A host's keel.yaml (not an API body, which is a whole configuration whose spec keys go to
	 * the store). */
	if (c->host_file)
		return refuse_spec_keys(c, root, top);
	return 0;
}

bool config_fleet_equal(const struct config_fleet *a, const struct config_fleet *b)
{
	return !memcmp(a, b, sizeof(*a)); /* fixed size, zero-filled by config_fleet_defaults */
}

static int put_str(json_t *o, const char *key, const char *s)
{
	return json_object_set_new(o, key, json_string(s));
}

static int put_ms(json_t *o, const char *key, uint32_t ms)
{
	char t[32];

	config_format_duration(ms, t);
	return put_str(o, key, t);
}

json_t *config_fleet_to_json(const struct config_fleet *f)
{
	json_t *o = json_object(), *e = json_array(), *tls = json_object();
	int bad = !o || !e || !tls;

	for (uint32_t i = 0; !bad && i < f->n_endpoints; i++)
		bad |= json_array_append_new(e, json_string(f->endpoints[i]));
	if (!bad) {
		bad |= json_object_set(o, "endpoints", e);
		bad |= put_str(o, "prefix", f->prefix);
		bad |= put_str(o, "host", f->host);
		bad |= put_str(o, "name", f->name);
		if (f->credentials_file[0])
			bad |= put_str(o, "credentials_file", f->credentials_file);
		if (f->ca_file[0])
			bad |= put_str(tls, "ca", f->ca_file);
		if (f->cert_file[0])
			bad |= put_str(tls, "cert", f->cert_file);
		if (f->key_file[0])
			bad |= put_str(tls, "key", f->key_file);
		if (json_object_size(tls))
			bad |= json_object_set(o, "tls", tls);
		bad |= put_ms(o, "timeout", f->timeout_ms);
		bad |= put_ms(o, "lease_ttl", f->lease_ttl_ms);
		bad |= put_ms(o, "watch_idle_timeout", f->watch_idle_ms);
		bad |= put_ms(o, "wait_timeout", f->wait_ms);
		bad |= put_ms(o, "forget_after", f->forget_after_ms);
	}
	json_decref(e);
	json_decref(tls);
	if (bad) {
		json_decref(o);
		errno = ENOMEM;
		return NULL;
	}
	return o;
}

json_t *config_fleet_spec_json(const struct keel_config *cfg)
{
	json_t *all = config_to_json(cfg), *spec = json_object();
	const char *key;
	json_t *v;

	if (!all || !spec)
		goto fail;
	if (json_object_set_new(spec, "version", json_integer(CONFIG_FLEET_SPEC_VERSION)))
		goto fail;
	json_object_foreach(all, key, v)
		if (config_fleet_is_spec_key(key) && json_object_set(spec, key, v))
			goto fail;
	json_decref(all);
	return spec;
fail:
	json_decref(all);
	json_decref(spec);
	errno = ENOMEM;
	return NULL;
}

int config_fleet_merge(const struct keel_config *local, const json_t *spec, const char *origin,
		       struct keel_config **out, struct config_error *err)
{
	const json_t *ver = json_object_get(spec, "version");
	json_t *all, *v;
	const char *key;
	void *tmp;
	int rc;

	if (!json_is_object(spec)) {
		config_error_set(err, origin, 0, 0, "the fleet spec is not a JSON object");
		return -EINVAL;
	}
	if (!json_is_integer(ver)) {
		config_error_set(err, origin, 0, 0, "the fleet spec has no \"version\" (an integer)");
		return -EINVAL;
	}
	if (json_integer_value(ver) != CONFIG_FLEET_SPEC_VERSION) {
		config_error_set(err, origin, 0, 0, "the fleet spec's version %lld is not %d, the one "
				 "this keel-control reads (upgrade it first)",
				 (long long)json_integer_value(ver), CONFIG_FLEET_SPEC_VERSION);
		return -EINVAL;
	}
	json_object_foreach((json_t *)spec, key, v) {
		(void)v;
		if (strcmp(key, "version") && !config_fleet_is_spec_key(key)) {
			config_error_set(err, origin, 0, 0, "\"%.64s\" in the fleet spec: %s", key,
					 is_host_key(key) ?
					 "a host-local key belongs in each host's keel.yaml" :
					 "not a key of the configuration");
			return -EINVAL;
		}
	}
	all = config_to_json(local);
	if (!all) {
		config_error_set(err, origin, 0, 0, "out of memory");
		return -ENOMEM;
	}
	/* The host's own copy of spec keys (defaults) gives way to the spec's. */
	json_object_foreach_safe(all, tmp, key, v)
		if (config_fleet_is_spec_key(key))
			json_object_del(all, key);
	json_object_foreach((json_t *)spec, key, v)
		if (strcmp(key, "version") && json_object_set(all, key, v)) {
			json_decref(all);
			config_error_set(err, origin, 0, 0, "out of memory");
			return -ENOMEM;
		}
	rc = config_from_json(all, origin, out, err);
	json_decref(all);
	return rc;
}
