/* The schema of a VIP's backends: each one, then duplicates across the list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "config_schema_internal.h"
#include "keel_api.h"
#include "pkt.h"
#include "snapshot.h"

static int check_backend(struct check *c, const struct loc *at, const json_t *o,
			 struct config_backend *be)
{
	struct loc l = LOC_KEY(at, o, "address");
	const struct keel_config *cfg = c->cfg;
	uint64_t weight = KEEL_API_WEIGHT_DEFAULT;
	int rc;

	if ((rc = check_object(c, at, o, "a backend", config_schema_backend_keys)) ||
	    (rc = check_addr(c, at, o, "address", REQUIRED, be->addr, &be->family)) ||
	    (rc = config_schema_check_usable(c, at, o, "address", be->addr, be->family, "a backend",
					     false)) ||
	    (rc = check_uint(c, at, o, "weight", OPTIONAL, 0, KEEL_API_WEIGHT_MAX, &weight)) ||
	    (rc = check_enum(c, at, o, "state", OPTIONAL, config_schema_backend_states, &be->state)))
		return rc;
	be->weight = (uint32_t)weight;
	/* The outer header has the backend's family (4in6 and 6in4 are fine); it needs a source. */
	if ((be->family == KEEL_AF_INET4 && !cfg->has_src4) ||
	    (be->family == KEEL_AF_INET6 && !cfg->has_src6))
		return check_bad(c, &l, "%s backend but encap_source has no %s prefix to send from",
				 config_schema_fam_name(be->family), be->family == KEEL_AF_INET4 ? "ipv4" : "ipv6");
	return 0;
}

static int same_backend(const struct config_backend *a, const struct config_backend *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16);
}

static int cmp_backend(const void *pa, const void *pb)
{
	const struct config_backend *a = *(const struct config_backend *const *)pa;
	const struct config_backend *b = *(const struct config_backend *const *)pb;
	int d = memcmp(a->addr, b->addr, 16);

	if (d)
		return d;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return a < b ? -1 : a > b; /* file order among equals */
}

/*
 * A backend twice in one VIP would get two sets of Maglev turns under one key
 * (maglev_build refuses it). Sorted, so 16384 backends cost n log n; the one
 * reported is the earliest second occurrence in the file.
 */
static int check_backend_dups(struct check *c, const struct loc *at, const json_t *arr,
			      const struct config_vip *v)
{
	const struct config_backend **s, *dup = NULL, *first = NULL, *head;
	char t[CONFIG_TEXT_MAX];
	uint32_t i;

	if (v->n_backends < 2)
		return 0;
	s = malloc(v->n_backends * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < v->n_backends; i++)
		s[i] = &v->backends[i];
	qsort(s, v->n_backends, sizeof(*s), cmp_backend);
	for (i = 1, head = s[0]; i < v->n_backends; i++) {
		if (!same_backend(s[i - 1], s[i])) {
			head = s[i];
			continue;
		}
		if (s[i - 1] == head && (!dup || s[i] < dup))
			dup = s[i], first = head;
	}
	free(s);
	if (!dup)
		return 0;
	struct loc b = LOC_IDX(at, arr, (size_t)(dup - v->backends));
	struct loc l = LOC_KEY(&b, json_array_get(arr, b.index), "address");

	config_format_addr(dup->addr, dup->family, t);
	return check_bad(c, &l, "duplicate backend %s in VIP %s (first as backends[%zu])", t,
			 v->name, (size_t)(first - v->backends));
}

int config_schema_check_backends(struct check *c, const struct loc *vat, const json_t *o,
				 struct config_vip *v)
{
	const json_t *arr = json_object_get(o, "backends");
	struct loc at = LOC_KEY(vat, o, "backends");
	char d[64];
	size_t i;
	int rc;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return check_bad(c, &at, "expected a list of backends, got %s",
				 check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > CONFIG_MAX_BACKENDS - c->n_backends)
		return check_bad(c, &at, "too many backends: more than %u over all VIPs",
				 CONFIG_MAX_BACKENDS);
	c->n_backends += (uint32_t)json_array_size(arr);
	v->backends = calloc(json_array_size(arr) + 1, sizeof(*v->backends));
	if (!v->backends)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		struct loc l = LOC_IDX(&at, arr, i);

		rc = check_backend(c, &l, json_array_get(arr, i), &v->backends[i]);
		if (rc)
			return rc;
		v->n_backends++;
	}
	return check_backend_dups(c, &at, arr, v);
}

/* Table size against the backends: maglev_build needs M >= N; the paper wants M >> N. */
