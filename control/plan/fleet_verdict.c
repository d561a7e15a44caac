/* The fleet's health fold (fleet_verdict.h): one rule, applied the same way by every host. */
#include "fleet_verdict.h"

#include <errno.h>

/* Count one host's list (up or down) into the fold, each backend once per host (seen: this host's
 * backends of this VIP so far); false when out of memory. */
static bool count_list(json_t *fold_vip, json_t *seen, const json_t *list, bool down)
{
	const json_t *a;
	size_t i;

	if (!list)
		return true;
	if (!json_is_array(list))
		return false;
	json_array_foreach(list, i, a) {
		json_t *c;

		if (!json_is_string(a))
			return false;
		/* One host, one vote: a backend it lists twice (or as up and down) counts once. */
		if (json_object_get(seen, json_string_value(a)))
			continue;
		if (json_object_set_new(seen, json_string_value(a), json_true()))
			return false;
		c = json_object_get(fold_vip, json_string_value(a));
		if (!c) {
			c = json_pack("[ii]", 0, 0);
			if (!c || json_object_set_new(fold_vip, json_string_value(a), c))
				return false;
		}
		if (down)
			json_array_set_new(c, 0, json_integer(json_integer_value(json_array_get(c, 0)) + 1));
		json_array_set_new(c, 1, json_integer(json_integer_value(json_array_get(c, 1)) + 1));
	}
	return true;
}

/* A document is checked whole before any of it counts: a half-counted host would skew the fold. */
static bool doc_valid(const json_t *d)
{
	const json_t *vips = json_object_get(d, "vips"), *v, *l, *a;
	const char *name;
	size_t i;

	if (!json_is_object(d) || json_integer_value(json_object_get(d, "version")) != FLEET_VERDICT_VERSION ||
	    !json_is_object(vips))
		return false;
	json_object_foreach((json_t *)vips, name, v) {
		if (!json_is_object(v))
			return false;
		for (int k = 0; k < 2; k++) {
			l = json_object_get(v, k ? "down" : "up");
			if (!l)
				continue;
			if (!json_is_array(l))
				return false;
			json_array_foreach(l, i, a)
				if (!json_is_string(a))
					return false;
		}
	}
	return true;
}

json_t *fleet_verdict_fold(const struct fleet_verdict_doc *docs, size_t n, uint32_t *ignored)
{
	json_t *fold = json_object();
	uint32_t bad = 0;

	if (!fold)
		return NULL;
	for (size_t k = 0; k < n; k++) {
		json_t *d, *v;
		const char *name;

		if (!docs[k].lease) { /* a key without a lease outlives its host: not a live verdict */
			bad++;
			continue;
		}
		d = json_loadb(docs[k].value, docs[k].len, JSON_REJECT_DUPLICATES, NULL);
		if (!doc_valid(d)) {
			json_decref(d);
			bad++;
			continue;
		}
		json_object_foreach(json_object_get(d, "vips"), name, v) {
			json_t *fv = json_object_get(fold, name);

			if (!fv) {
				fv = json_object();
				if (!fv || json_object_set_new(fold, name, fv)) {
					json_decref(d);
					json_decref(fold);
					return NULL;
				}
			}
			json_t *seen = json_object();
			bool ok = seen && count_list(fv, seen, json_object_get(v, "up"), false) &&
				  count_list(fv, seen, json_object_get(v, "down"), true);

			json_decref(seen);
			if (!ok) {
				json_decref(d);
				json_decref(fold);
				return NULL;
			}
		}
		json_decref(d);
	}
	if (ignored)
		*ignored = bad;
	return fold;
}

bool fleet_verdict_counts(const json_t *fold, const char *vip, const char *addr, uint32_t *down,
			  uint32_t *checking)
{
	const json_t *c = json_object_get(json_object_get(fold, vip), addr);

	*down = c ? (uint32_t)json_integer_value(json_array_get(c, 0)) : 0;
	*checking = c ? (uint32_t)json_integer_value(json_array_get(c, 1)) : 0;
	return c && *checking > 0;
}

int fleet_verdict_routable(const json_t *fold, const char *vip, const char *addr)
{
	uint32_t down, checking;

	fleet_verdict_counts(fold, vip, addr, &down, &checking);
	return !fleet_verdict_down(down, checking);
}

json_t *fleet_verdict_doc_new(void)
{
	return json_pack("{s:i,s:{}}", "version", FLEET_VERDICT_VERSION, "vips");
}

int fleet_verdict_doc_add(json_t *doc, const char *vip, const char *addr, bool down)
{
	json_t *vips = json_object_get(doc, "vips"), *v = json_object_get(vips, vip), *l;

	if (!v) {
		v = json_pack("{s:[],s:[]}", "up", "down");
		if (!v || json_object_set_new(vips, vip, v))
			return -ENOMEM;
	}
	l = json_object_get(v, down ? "down" : "up");
	return json_array_append_new(l, json_string(addr)) ? -ENOMEM : 0;
}
