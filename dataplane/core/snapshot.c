/* Snapshot integrity: checksum and the one-time validation a worker runs before switching to a snapshot. */
#include "snapshot.h"

#include <errno.h>
#include <string.h>

#include "encap.h"
#include "hash.h"
#include "maglev.h"
#include "pkt.h"
#include "quic_map.h"
#include "source_list.h"

/*
 * Fletcher-style sum over 64-bit words: fast enough to run on a worker
 * between two bursts for typical snapshots (a few MB), and position
 * dependent, so a half-written or shuffled table does not pass.
 */
/* Words [i, end) of the checksum (end a multiple of 8, at most the size rounded down). */
static uint64_t checksum_words(const struct keel_snapshot *s, uint64_t i, uint64_t end, uint64_t *a, uint64_t *b)
{
	const uint8_t *p = (const uint8_t *)s;
	const size_t csum_at = offsetof(struct keel_snapshot, checksum);
	uint64_t w;

	for (; i < end; i += 8) {
		w = keel_load64_le(p + i);
		if (i == (csum_at & ~7ul)) /* the checksum field counts as zero */
			w &= ~((uint64_t)0xffffffff << ((csum_at & 7) * 8));
		*a += w;
		*b += *a;
	}
	return i;
}

static uint32_t checksum_end(const struct keel_snapshot *s, uint64_t a, uint64_t b)
{
	uint64_t len = s->size, i = len & ~7ull;

	if (i < len) {
		uint8_t tail[8] = { 0 };

		memcpy(tail, (const uint8_t *)s + i, len - i);
		a += keel_load64_le(tail);
		b += a;
	}
	return (uint32_t)(keel_mix64(a ^ keel_mix64(b)) >> 16);
}

#define CHECKSUM_A0 0x4b45454c

uint32_t keel_snapshot_checksum(const struct keel_snapshot *s)
{
	uint64_t a = CHECKSUM_A0, b = 0;

	checksum_words(s, 0, s->size & ~7ull, &a, &b);
	return checksum_end(s, a, b);
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

static int range_ok(uint64_t off, uint64_t len, uint64_t size, uint64_t align)
{
	return off % align == 0 && off <= size && len <= size - off;
}

/* The checks of keel_snapshot_validate, in its order, as stages a check steps through. */
enum check_stage {
	CHECK_HEADER,    /* magic, ABI, size */
	CHECK_SUM,       /* the checksum, 8 bytes a unit */
	CHECK_LAYOUT,    /* counts, arrays, VIP hash bounds, output parameters, next hops */
	CHECK_VIP_HASH,  /* VIP hash entries, one a unit */
	CHECK_BACKENDS,  /* backend records and templates, one a unit (CHECK_BACKEND_UNITS) */
	CHECK_VIP,       /* a VIP's record */
	CHECK_TABLE,     /* its table's slots, one a unit */
	CHECK_VIP_REST,  /* its QUIC map and source list */
	CHECK_PREV,      /* its previous-owner table's slots */
	CHECK_DONE,
};

#define CHECK_BACKEND_UNITS 16 /* a template fill and compare: about 16 table slots' time */

void keel_snapshot_check_start(struct keel_snapshot_check *c, const struct keel_snapshot *s, size_t avail)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->avail = avail;
	c->a = CHECKSUM_A0;
}

static int check_fail(struct keel_snapshot_check *c, const char **why, const char *reason)
{
	c->stage = CHECK_DONE;
	c->result = -EINVAL;
	c->reason = reason;
	return fail(why, reason);
}

static const char *check_layout(const struct keel_snapshot *s)
{
	uint32_t i;

	if (s->n_vips > KEEL_MAX_VIPS || s->n_backends > KEEL_MAX_BACKENDS)
		return "too many VIPs or backends";
	if (!range_ok(s->vip_off, (uint64_t)s->n_vips * sizeof(struct keel_vip), s->size, 8) ||
	    !range_ok(s->backend_off, (uint64_t)s->n_backends * sizeof(struct keel_backend),
		      s->size, 8))
		return "VIP or backend array out of bounds";
	if (s->vip_hash_size == 0 || (s->vip_hash_size & (s->vip_hash_size - 1)) ||
	    s->vip_hash_size < s->n_vips ||
	    !range_ok(s->vip_hash_off, (uint64_t)s->vip_hash_size * 2, s->size, 2))
		return "VIP hash out of bounds";
	if (s->mtu < 576 || s->src4_plen > 32 || s->src6_plen > 128)
		return "bad output parameters";
	/* Next hops (next_hop.h): what the pipeline indexes per packet must stay inside next_hop[]. */
	if (s->n_next_hops > KEEL_MAX_NEXT_HOPS)
		return "too many next hops";
	for (i = 0; i < s->n_next_hops; i++) {
		if (s->next_hop[i].id >= KEEL_MAX_NEXT_HOPS)
			return "bad next hop id";
		/* The pipeline looks at ports only when the flag says some next hop has one. */
		if (s->next_hop[i].port > KEEL_NEXT_HOP_MAX_PORT || (s->next_hop[i].port && !s->next_hop_ports))
			return "bad next hop port";
	}
	if (s->next_hop_ports > 1)
		return "bad next hop port flag";
	if (s->n_next_hops > 1) {
		if (memcmp(s->gw_mac, s->next_hop[0].mac, 6))
			return "gateway MAC is not the first next hop's";
		for (i = 0; i < KEEL_NEXT_HOP_SLOTS; i++)
			if (s->next_hop_slot[i] >= s->n_next_hops)
				return "next hop slot out of range";
	}
	return NULL;
}

static const char *check_backend(const struct keel_snapshot *s, const struct keel_backend *be)
{
	struct keel_encap_tmpl t;

	if (be->state == KEEL_BACKEND_UNUSED)
		return NULL;
	if (be->state > KEEL_BACKEND_DOWN || be->vip >= s->n_vips ||
	    (be->family != KEEL_AF_INET4 && be->family != KEEL_AF_INET6))
		return "bad backend record";
	/* The headers the worker will send: exactly what the backend and parameters say. */
	keel_encap_tmpl_fill(&t, s, be);
	if (memcmp(&t, &be->tmpl, sizeof(t)))
		return "backend header template does not match the backend";
	return NULL;
}

static const char *check_vip(const struct keel_snapshot *s, const struct keel_vip *v)
{
	if (v->family != KEEL_AF_INET4 && v->family != KEEL_AF_INET6)
		return "bad VIP family";
	if (v->encap > KEEL_ENCAP_GUE || v->id >= KEEL_MAX_VIPS)
		return "bad VIP encap or id";
	if (v->table_size > KEEL_MAGLEV_MAX_SIZE || !maglev_is_prime(v->table_size))
		return "VIP table size not an accepted prime";
	if (!range_ok(v->table_off, (uint64_t)v->table_size * 2, s->size, 2))
		return "Maglev table out of bounds";
	return NULL;
}

int keel_snapshot_check_step(struct keel_snapshot_check *c, uint32_t budget, const char **why)
{
	const struct keel_snapshot *s = c->s;
	const struct keel_backend *be;
	const struct keel_vip *v;
	const uint16_t *table;
	const char *reason;
	uint64_t left = budget ? budget : 1, n, end;

	if (c->stage == CHECK_DONE) {
		if (c->result)
			fail(why, c->reason);
		return c->result;
	}
	while (left) {
		switch (c->stage) {
		case CHECK_HEADER:
			if (c->avail < sizeof(*s))
				return check_fail(c, why, "area smaller than a snapshot header");
			if (s->magic != KEEL_SNAPSHOT_MAGIC)
				return check_fail(c, why, "bad magic");
			if (s->abi != KEEL_SNAPSHOT_ABI)
				return check_fail(c, why, "ABI version mismatch");
			if (s->size < sizeof(*s) || s->size > c->avail)
				return check_fail(c, why, "size out of bounds");
			c->stage = CHECK_SUM;
			left--;
			break;
		case CHECK_SUM:
			/* The size is read once here: every later bound is checked against the same value. */
			end = s->size & ~7ull;
			n = (end - c->pos) / 8 < left ? end - c->pos : left * 8;
			c->pos = checksum_words(s, c->pos, c->pos + n, &c->a, &c->b);
			left -= n / 8;
			if (c->pos < end)
				break;
			if (checksum_end(s, c->a, c->b) != s->checksum)
				return check_fail(c, why, "checksum mismatch");
			c->stage = CHECK_LAYOUT;
			break;
		case CHECK_LAYOUT:
			if ((reason = check_layout(s)))
				return check_fail(c, why, reason);
			c->stage = CHECK_VIP_HASH;
			c->i = 0;
			left--;
			break;
		case CHECK_VIP_HASH:
			for (; left && c->i < s->vip_hash_size; c->i++, left--)
				if (keel_snapshot_vip_hash(s)[c->i] > s->n_vips)
					return check_fail(c, why, "VIP hash entry out of range");
			if (c->i < s->vip_hash_size)
				break;
			c->stage = CHECK_BACKENDS;
			c->i = 0;
			break;
		case CHECK_BACKENDS:
			be = keel_snapshot_backends(s);
			for (; left && c->i < s->n_backends; c->i++) {
				if ((reason = check_backend(s, &be[c->i])))
					return check_fail(c, why, reason);
				left = left > CHECK_BACKEND_UNITS ? left - CHECK_BACKEND_UNITS : 0;
			}
			if (c->i < s->n_backends)
				break;
			c->stage = CHECK_VIP;
			c->i = 0;
			break;
		case CHECK_VIP:
			if (c->i >= s->n_vips) {
				c->stage = CHECK_DONE;
				break;
			}
			if ((reason = check_vip(s, &keel_snapshot_vips(s)[c->i])))
				return check_fail(c, why, reason);
			c->stage = CHECK_TABLE;
			c->j = 0;
			left--;
			break;
		case CHECK_TABLE:
			v = &keel_snapshot_vips(s)[c->i];
			be = keel_snapshot_backends(s);
			table = keel_snapshot_table(s, v);
			for (; left && c->j < v->table_size; c->j++, left--) {
				uint16_t id = table[c->j];

				if (id != KEEL_BACKEND_NONE &&
				    (id >= s->n_backends || be[id].vip != c->i || be[id].state != KEEL_BACKEND_ACTIVE))
					return check_fail(c, why, "Maglev slot names a backend not active on its VIP");
			}
			if (c->j < v->table_size)
				break;
			c->stage = CHECK_VIP_REST;
			break;
		case CHECK_VIP_REST:
			v = &keel_snapshot_vips(s)[c->i];
			if ((reason = keel_quic_map_check(s, v, c->i)))
				return check_fail(c, why, reason);
			if (!(v->flags & KEEL_VIP_SOURCES) != !v->src_off)
				return check_fail(c, why, "VIP source list flag and offset disagree");
			reason = "bad source list";
			if (v->src_off && keel_src_list_validate(s, s->size, v->src_off, v->family, &reason))
				return check_fail(c, why, reason);
			left--;
			c->j = 0;
			if (!v->prev_off) {
				c->stage = CHECK_VIP;
				c->i++;
				break;
			}
			if (!range_ok(v->prev_off, (uint64_t)v->table_size * 2, s->size, 2))
				return check_fail(c, why, "previous-owner table out of bounds");
			c->stage = CHECK_PREV;
			break;
		case CHECK_PREV:
			v = &keel_snapshot_vips(s)[c->i];
			be = keel_snapshot_backends(s);
			table = keel_snapshot_prev(s, v);
			for (; left && c->j < v->table_size; c->j++, left--) {
				uint16_t id = table[c->j];

				/* A previous owner may be down or draining now, but it must be of this VIP. */
				if (id != KEEL_BACKEND_NONE &&
				    (id >= s->n_backends || be[id].vip != c->i || be[id].state == KEEL_BACKEND_UNUSED))
					return check_fail(c, why, "previous owner is not a backend of its VIP");
			}
			if (c->j < v->table_size)
				break;
			c->stage = CHECK_VIP;
			c->i++;
			break;
		default:
			c->result = 0;
			return 0;
		}
	}
	if (c->stage == CHECK_DONE) {
		c->result = 0;
		return 0;
	}
	return 1;
}

int keel_snapshot_validate(const struct keel_snapshot *s, size_t avail, const char **why)
{
	struct keel_snapshot_check c;
	int ret;

	keel_snapshot_check_start(&c, s, avail);
	while ((ret = keel_snapshot_check_step(&c, UINT32_MAX, why)) > 0)
		;
	return ret;
}
