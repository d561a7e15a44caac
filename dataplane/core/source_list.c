/* Source lists: merging prefixes into sorted range boundaries for the snapshot, and checking them before use. */
#include "source_list.h"

#include <errno.h>
#include <stdlib.h>

/* An inclusive range of addresses as 128-bit numbers (IPv4 in the low 32 bits of lo). */
struct range {
	struct keel_src_key6 first, last;
};

static int key_cmp(const struct keel_src_key6 *a, const struct keel_src_key6 *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int range_cmp(const void *pa, const void *pb)
{
	return key_cmp(&((const struct range *)pa)->first, &((const struct range *)pb)->first);
}

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* The prefix's range, or -EINVAL for a bad length or host bits set. */
static int prefix_range(const struct keel_src_prefix *p, uint8_t family, struct range *r)
{
	unsigned int bits = family == KEEL_AF_INET4 ? 32 : 128;
	struct keel_src_key6 a, m; /* m: the host bits */

	if (p->plen > bits)
		return -EINVAL;
	if (family == KEEL_AF_INET4) {
		uint32_t v;

		memcpy(&v, p->addr, 4);
		a.hi = 0;
		a.lo = __builtin_bswap32(v);
		m.hi = 0;
		m.lo = p->plen == 32 ? 0 : 0xffffffffull >> p->plen;
	} else {
		a.hi = load_be64(p->addr);
		a.lo = load_be64(p->addr + 8);
		m.hi = p->plen >= 64 ? 0 : ~0ull >> p->plen;
		m.lo = p->plen == 128 ? 0 : p->plen <= 64 ? ~0ull : ~0ull >> (p->plen - 64);
	}
	if ((a.hi & m.hi) || (a.lo & m.lo))
		return -EINVAL;
	r->first = a;
	r->last.hi = a.hi | m.hi;
	r->last.lo = a.lo | m.lo;
	return 0;
}

/* The set the list stores: the allow entries when there are any (all else is refused), else the deny entries. */
static void chosen(const struct keel_src_spec *spec, const struct keel_src_prefix **set, uint32_t *n,
		   uint8_t *refuse_in)
{
	*refuse_in = spec->n_allow == 0;
	*set = spec->n_allow ? spec->allow : spec->deny;
	*n = spec->n_allow ? spec->n_allow : spec->n_deny;
}

size_t keel_src_list_size(const struct keel_src_spec *spec, uint8_t family)
{
	const struct keel_src_prefix *set;
	uint8_t refuse_in;
	size_t bounds, sz;
	uint32_t n;

	chosen(spec, &set, &n, &refuse_in);
	bounds = (size_t)n * 2;
	sz = sizeof(struct keel_src_list);
	sz += (bounds * (family == KEEL_AF_INET4 ? 4 : sizeof(struct keel_src_key6)) + 7) & ~(size_t)7;
	if (bounds >= KEEL_SRC_INDEX_MIN)
		sz += ((size_t)KEEL_SRC_INDEX_LEN * 4 + 7) & ~(size_t)7;
	return sz;
}

/* Whether a range starting at first overlaps t or begins right after it (t sorts first). */
static int touches(const struct range *t, const struct keel_src_key6 *first)
{
	struct keel_src_key6 next = t->last;

	if (next.hi == ~0ull && next.lo == ~0ull)
		return 1; /* t reaches the top of the IPv6 space (IPv4 sits in 64 bits: no wrap) */
	next.lo++;
	next.hi += next.lo == 0;
	return key_cmp(first, &next) <= 0;
}

static uint32_t top16(const struct keel_src_key6 *k, uint8_t family)
{
	return family == KEEL_AF_INET4 ? (uint32_t)(k->lo >> 16) : (uint32_t)(k->hi >> 48);
}

long keel_src_list_write(uint8_t *base, size_t off, const struct keel_src_spec *spec,
			 uint8_t family)
{
	struct keel_src_list *l = (struct keel_src_list *)(base + off);
	const struct keel_src_prefix *set;
	struct keel_src_key6 *keys;
	struct range *r;
	uint32_t n, i, nr = 0, nb = 0;
	size_t at;
	uint8_t refuse_in;

	if (family != KEEL_AF_INET4 && family != KEEL_AF_INET6)
		return -EINVAL;
	chosen(spec, &set, &n, &refuse_in);
	r = malloc((n ? n : 1) * sizeof(*r));
	keys = malloc((n ? n : 1) * 2 * sizeof(*keys));
	if (!r || !keys) {
		free(r);
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (prefix_range(&set[i], family, &r[i])) {
			free(r);
			free(keys);
			return -EINVAL;
		}
	qsort(r, n, sizeof(*r), range_cmp);
	/* Merge ranges that overlap or touch: the boundaries must be strictly ascending. */
	for (i = 0; i < n; i++) {
		if (nr && touches(&r[nr - 1], &r[i].first)) {
			if (key_cmp(&r[i].last, &r[nr - 1].last) > 0)
				r[nr - 1].last = r[i].last;
			continue;
		}
		r[nr++] = r[i];
	}
	for (i = 0; i < nr; i++) {
		struct keel_src_key6 end = r[i].last;
		int at_top = family == KEEL_AF_INET4 ? end.lo == 0xffffffffull :
						       end.hi == ~0ull && end.lo == ~0ull;

		keys[nb++] = r[i].first;
		if (at_top)
			break; /* no address after the top one: the range is open-ended */
		end.lo++;
		end.hi += end.lo == 0;
		keys[nb++] = end;
	}

	memset(l, 0, sizeof(*l));
	l->mode = spec->mode;
	l->refuse_in = refuse_in;
	l->family = family;
	l->n = nb;
	at = off + sizeof(*l);
	l->bound_off = (uint32_t)at;
	if (family == KEEL_AF_INET4) {
		uint32_t *b = (uint32_t *)(base + at);

		for (i = 0; i < nb; i++)
			b[i] = (uint32_t)keys[i].lo;
		at += ((size_t)nb * 4 + 7) & ~(size_t)7;
	} else {
		memcpy(base + at, keys, (size_t)nb * sizeof(*keys));
		at += (size_t)nb * sizeof(*keys);
	}
	if (nb >= KEEL_SRC_INDEX_MIN) {
		uint32_t *idx = (uint32_t *)(base + at), t, k = 0;

		l->index_off = (uint32_t)at;
		for (t = 0; t < KEEL_SRC_INDEX_LEN; t++) {
			while (k < nb && top16(&keys[k], family) < t)
				k++;
			idx[t] = k;
		}
		at += ((size_t)KEEL_SRC_INDEX_LEN * 4 + 7) & ~(size_t)7;
	}
	free(r);
	free(keys);
	return (long)(at - off);
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

static int in_bounds(uint64_t off, uint64_t len, uint64_t size, uint64_t align)
{
	return off % align == 0 && off <= size && len <= size - off;
}

int keel_src_list_validate(const void *snap, uint64_t size, uint32_t off, uint8_t family,
			   const char **why)
{
	const uint8_t *base = snap;
	const struct keel_src_list *l;
	struct keel_src_key6 prev = { 0, 0 }, cur;
	uint64_t esz = family == KEEL_AF_INET4 ? 4 : sizeof(struct keel_src_key6);
	uint32_t i, t, k;

	if (!in_bounds(off, sizeof(*l), size, 8))
		return fail(why, "source list out of bounds");
	l = keel_src_list_at(snap, off);
	if (l->family != family || l->mode > KEEL_SRC_COUNT || l->refuse_in > 1)
		return fail(why, "bad source list header");
	if (!in_bounds(l->bound_off, (uint64_t)l->n * esz, size, family == KEEL_AF_INET4 ? 4 : 8))
		return fail(why, "source list boundaries out of bounds");
	/* Strictly ascending: the lookup's parity rule needs it. */
	for (i = 0; i < l->n; i++) {
		if (family == KEEL_AF_INET4) {
			cur.hi = 0;
			cur.lo = ((const uint32_t *)(base + l->bound_off))[i];
		} else {
			cur = ((const struct keel_src_key6 *)(base + l->bound_off))[i];
		}
		if (i && key_cmp(&cur, &prev) <= 0)
			return fail(why, "source list boundaries not ascending");
		prev = cur;
	}
	if (!l->index_off)
		return 0;
	if (!in_bounds(l->index_off, (uint64_t)KEEL_SRC_INDEX_LEN * 4, size, 4))
		return fail(why, "source list index out of bounds");
	/* Each entry must be exactly what the builder writes, or a lookup would search the wrong run. */
	for (t = 0, k = 0; t < KEEL_SRC_INDEX_LEN; t++) {
		const uint32_t *idx = (const uint32_t *)(base + l->index_off);

		while (k < l->n) {
			if (family == KEEL_AF_INET4)
				cur.lo = ((const uint32_t *)(base + l->bound_off))[k], cur.hi = 0;
			else
				cur = ((const struct keel_src_key6 *)(base + l->bound_off))[k];
			if (top16(&cur, family) >= t)
				break;
			k++;
		}
		if (idx[t] != k)
			return fail(why, "source list index does not match its boundaries");
	}
	return 0;
}
