/* Per-VIP source lists in the configuration: parsing and refusing (bad CIDRs, overlaps, too many), equality, JSON. */
#include "config_sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "config_model.h"

static const char *const sources_keys[] = { "allow", "deny", "mode", NULL };
static const char *const modes[] = { "enforce", "count", NULL }; /* enum keel_src_mode */

static const char *fam_name(uint8_t family)
{
	return family == KEEL_AF_INET4 ? "IPv4" : "IPv6";
}

uint32_t config_sources_total(const struct config_vip *vips, uint32_t n)
{
	uint32_t i, total = 0;

	for (i = 0; i < n; i++)
		if (vips[i].sources)
			total += vips[i].sources->n_allow + vips[i].sources->n_deny;
	return total;
}

/* One of the lists: each entry a CIDR of the VIP's family, host bits zero. */
static int check_list(struct check *c, const struct loc *at, const json_t *o, const char *key,
		      const struct config_vip *v, uint32_t used, struct keel_src_prefix **out,
		      uint32_t *n)
{
	const json_t *arr = json_object_get(o, key);
	struct loc l = LOC_KEY(at, o, key);
	char d[64];
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return check_bad(c, &l, "expected a list of prefixes (\"198.51.100.0/24\"), got %s",
				 check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > KEEL_SRC_MAX_PREFIXES - used)
		return check_bad(c, &l, "too many source prefixes: %zu here after %u before, at most "
				 "%u over all VIPs of a host", json_array_size(arr), used,
				 KEEL_SRC_MAX_PREFIXES);
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		struct loc el = LOC_IDX(&l, arr, i);
		const json_t *e = json_array_get(arr, i);
		struct keel_src_prefix *p = &(*out)[i];
		const char *why;
		uint8_t family;

		if (!json_is_string(e))
			return check_bad(c, &el, "expected a prefix (\"198.51.100.0/24\"), got %s",
					 check_describe(e, d, sizeof(d)));
		if (config_parse_prefix(json_string_value(e), p->addr, &family, &p->plen, &why))
			return check_bad(c, &el, "\"%.64s\": %s", json_string_value(e), why);
		if (family != v->family)
			return check_bad(c, &el, "\"%.64s\" is an %s prefix but VIP %s is %s: it would "
					 "never match", json_string_value(e), fam_name(family), v->name,
					 fam_name(v->family));
		(*n)++;
	}
	return 0;
}

/* A prefix's range as a 128-bit pair (IPv4 in the low bits), for the overlap sweep. */
struct span {
	uint64_t first_hi, first_lo, last_hi, last_lo;
	uint32_t index;
	uint8_t deny;
};

static void span_of(const struct keel_src_prefix *p, uint8_t family, struct span *s)
{
	unsigned int bits = family == KEEL_AF_INET4 ? 32 : 128, i;
	uint8_t last[16];

	memcpy(last, p->addr, 16);
	for (i = p->plen; i < bits; i++)
		last[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	s->first_hi = s->first_lo = s->last_hi = s->last_lo = 0;
	for (i = 0; i < bits / 8; i++) {
		uint64_t *f = i < 8 && bits == 128 ? &s->first_hi : &s->first_lo;
		uint64_t *l = i < 8 && bits == 128 ? &s->last_hi : &s->last_lo;

		*f = *f << 8 | p->addr[i];
		*l = *l << 8 | last[i];
	}
}

static int cmp_first(const struct span *a, const struct span *b)
{
	if (a->first_hi != b->first_hi)
		return a->first_hi < b->first_hi ? -1 : 1;
	return a->first_lo < b->first_lo ? -1 : a->first_lo > b->first_lo;
}

/* Ties broken by list then position, so the entry reported is the same on every host. */
static int span_cmp(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	int r = cmp_first(a, b);

	if (r)
		return r;
	if (a->deny != b->deny)
		return a->deny ? 1 : -1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Whether a's last address is at or after b's first. */
static bool reaches(const struct span *a, const struct span *b)
{
	return a->last_hi > b->first_hi || (a->last_hi == b->first_hi && a->last_lo >= b->first_lo);
}

static bool ends_later(const struct span *a, const struct span *b)
{
	return a->last_hi > b->last_hi || (a->last_hi == b->last_hi && a->last_lo > b->last_lo);
}

/*
 * RFC-free but operator-proof: with allow and deny entries disjoint, the
 * order of entries never matters and the meaning is plain (a deny entry
 * refuses; with allow entries, what none covers is refused). Sorted by first
 * address, an entry overlaps an earlier one iff it starts no later than the
 * furthest-reaching earlier entry of the other list ends.
 */
static int check_overlap(struct check *c, const struct loc *at, const json_t *o,
			 const struct keel_src_spec *s, uint8_t family)
{
	uint32_t n = s->n_allow + s->n_deny, i;
	const struct span *far[2] = { NULL, NULL }; /* per list: the furthest-reaching so far */
	struct span *sp;
	int rc = 0;

	if (!s->n_allow || !s->n_deny)
		return 0;
	sp = malloc(n * sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		bool deny = i >= s->n_allow;

		span_of(deny ? &s->deny[i - s->n_allow] : &s->allow[i], family, &sp[i]);
		sp[i].deny = deny;
		sp[i].index = deny ? i - s->n_allow : i;
	}
	qsort(sp, n, sizeof(*sp), span_cmp);
	for (i = 0; i < n && !rc; i++) {
		const struct span *other = far[!sp[i].deny];

		if (other && reaches(other, &sp[i])) {
			const char *key = sp[i].deny ? "deny" : "allow", *okey = sp[i].deny ? "allow" : "deny";
			const json_t *arr = json_object_get(o, key);
			struct loc l = LOC_KEY(at, o, key);
			struct loc el = LOC_IDX(&l, arr, sp[i].index);

			rc = check_bad(c, &el, "\"%.64s\" overlaps \"%.64s\" (sources.%s[%u]): allow and "
				       "deny entries may not overlap, so that the order of entries never "
				       "matters", json_string_value(json_array_get(arr, sp[i].index)),
				       json_string_value(json_array_get(json_object_get(o, okey),
									other->index)),
				       okey, other->index);
			break;
		}
		if (!far[sp[i].deny] || ends_later(&sp[i], far[sp[i].deny]))
			far[sp[i].deny] = &sp[i];
	}
	free(sp);
	return rc;
}

int config_sources_check(struct check *c, const struct loc *vat, const json_t *vip,
			 struct config_vip *v)
{
	const json_t *o = json_object_get(vip, "sources");
	struct loc at = LOC_KEY(vat, vip, "sources");
	uint32_t used = config_sources_total(c->cfg->vips, (uint32_t)(v - c->cfg->vips));
	struct keel_src_spec *s;
	int rc;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the source lists", sources_keys)))
		return rc;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	v->sources = s; /* owned by the model from here, freed with it on refusal */
	if ((rc = check_enum(c, &at, o, "mode", OPTIONAL, modes, &s->mode)) ||
	    (rc = check_list(c, &at, o, "allow", v, used, &s->allow, &s->n_allow)) ||
	    (rc = check_list(c, &at, o, "deny", v, used + s->n_allow, &s->deny, &s->n_deny)))
		return rc;
	if (!s->n_allow && !s->n_deny)
		return check_bad(c, &at, "no allow or deny entry: leave \"sources\" out for none "
				 "(an empty allow list would refuse everyone)");
	if ((rc = check_overlap(c, &at, o, s, v->family)))
		return rc;
	if (s->n_allow && s->n_deny)
		return check_warn(c, &at, "deny entries next to allow entries change nothing: what no "
				  "allow entry covers is refused anyway");
	return 0;
}

void config_sources_describe(const struct keel_src_spec *s, char *buf, size_t n)
{
	if (!s)
		snprintf(buf, n, "none");
	else
		snprintf(buf, n, "%s, %u allow, %u deny", modes[s->mode], s->n_allow, s->n_deny);
}

struct keel_src_spec *config_sources_dup(const struct keel_src_spec *s)
{
	struct keel_src_spec *d;

	if (!s || !(d = calloc(1, sizeof(*d))))
		return NULL;
	*d = *s;
	d->allow = s->n_allow ? malloc(s->n_allow * sizeof(*d->allow)) : NULL;
	d->deny = s->n_deny ? malloc(s->n_deny * sizeof(*d->deny)) : NULL;
	if ((s->n_allow && !d->allow) || (s->n_deny && !d->deny)) {
		config_sources_free(d);
		return NULL;
	}
	if (s->n_allow)
		memcpy(d->allow, s->allow, s->n_allow * sizeof(*d->allow));
	if (s->n_deny)
		memcpy(d->deny, s->deny, s->n_deny * sizeof(*d->deny));
	return d;
}

void config_sources_free(struct keel_src_spec *s)
{
	if (!s)
		return;
	free(s->allow);
	free(s->deny);
	free(s);
}

static bool prefixes_equal(const struct keel_src_prefix *a, const struct keel_src_prefix *b,
			   uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i].plen != b[i].plen || memcmp(a[i].addr, b[i].addr, 16))
			return false;
	return true;
}

bool config_sources_equal(const struct keel_src_spec *a, const struct keel_src_spec *b)
{
	if (!a || !b)
		return a == b;
	return a->mode == b->mode && a->n_allow == b->n_allow && a->n_deny == b->n_deny &&
	       prefixes_equal(a->allow, b->allow, a->n_allow) &&
	       prefixes_equal(a->deny, b->deny, a->n_deny);
}

static json_t *list_to_json(const struct keel_src_prefix *p, uint32_t n, uint8_t family)
{
	json_t *arr = json_array();
	char t[CONFIG_TEXT_MAX + 8], a[CONFIG_TEXT_MAX];

	for (uint32_t i = 0; arr && i < n; i++) {
		snprintf(t, sizeof(t), "%s/%u", config_format_addr(p[i].addr, family, a), p[i].plen);
		if (json_array_append_new(arr, json_string(t))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *config_sources_to_json(const struct keel_src_spec *s, uint8_t family)
{
	return json_pack("{s:s, s:o, s:o}", "mode", modes[s->mode], "allow",
			 list_to_json(s->allow, s->n_allow, family), "deny",
			 list_to_json(s->deny, s->n_deny, family));
}
