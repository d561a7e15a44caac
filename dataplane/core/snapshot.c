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
uint32_t keel_snapshot_checksum(const struct keel_snapshot *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint64_t a = 0x4b45454c, b = 0, w, len = s->size, i;
	const size_t csum_at = offsetof(struct keel_snapshot, checksum);

	for (i = 0; i + 8 <= len; i += 8) {
		w = keel_load64_le(p + i);
		if (i == (csum_at & ~7ul)) /* the checksum field counts as zero */
			w &= ~((uint64_t)0xffffffff << ((csum_at & 7) * 8));
		a += w;
		b += a;
	}
	if (i < len) {
		uint8_t tail[8] = { 0 };

		memcpy(tail, p + i, len - i);
		a += keel_load64_le(tail);
		b += a;
	}
	return (uint32_t)(keel_mix64(a ^ keel_mix64(b)) >> 16);
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

int keel_snapshot_validate(const struct keel_snapshot *s, size_t avail, const char **why)
{
	const struct keel_backend *be;
	const struct keel_vip *vips;
	const uint16_t *vh, *table;
	const char *reason;
	uint32_t i, j;

	if (avail < sizeof(*s))
		return fail(why, "area smaller than a snapshot header");
	if (s->magic != KEEL_SNAPSHOT_MAGIC)
		return fail(why, "bad magic");
	if (s->abi != KEEL_SNAPSHOT_ABI)
		return fail(why, "ABI version mismatch");
	if (s->size < sizeof(*s) || s->size > avail)
		return fail(why, "size out of bounds");
	if (keel_snapshot_checksum(s) != s->checksum)
		return fail(why, "checksum mismatch");
	if (s->n_vips > KEEL_MAX_VIPS || s->n_backends > KEEL_MAX_BACKENDS)
		return fail(why, "too many VIPs or backends");
	if (!range_ok(s->vip_off, (uint64_t)s->n_vips * sizeof(struct keel_vip), s->size, 8) ||
	    !range_ok(s->backend_off, (uint64_t)s->n_backends * sizeof(struct keel_backend),
		      s->size, 8))
		return fail(why, "VIP or backend array out of bounds");
	if (s->vip_hash_size == 0 || (s->vip_hash_size & (s->vip_hash_size - 1)) ||
	    s->vip_hash_size < s->n_vips ||
	    !range_ok(s->vip_hash_off, (uint64_t)s->vip_hash_size * 2, s->size, 2))
		return fail(why, "VIP hash out of bounds");
	if (s->mtu < 576 || s->src4_plen > 32 || s->src6_plen > 128)
		return fail(why, "bad output parameters");
	/* Next hops (next_hop.h): what the pipeline indexes per packet must stay inside next_hop[]. */
	if (s->n_next_hops > KEEL_MAX_NEXT_HOPS)
		return fail(why, "too many next hops");
	for (i = 0; i < s->n_next_hops; i++) {
		if (s->next_hop[i].id >= KEEL_MAX_NEXT_HOPS)
			return fail(why, "bad next hop id");
		/* The pipeline looks at ports only when the flag says some next hop has one. */
		if (s->next_hop[i].port > KEEL_NEXT_HOP_MAX_PORT || (s->next_hop[i].port && !s->next_hop_ports))
			return fail(why, "bad next hop port");
	}
	if (s->next_hop_ports > 1)
		return fail(why, "bad next hop port flag");
	if (s->n_next_hops > 1) {
		if (memcmp(s->gw_mac, s->next_hop[0].mac, 6))
			return fail(why, "gateway MAC is not the first next hop's");
		for (i = 0; i < KEEL_NEXT_HOP_SLOTS; i++)
			if (s->next_hop_slot[i] >= s->n_next_hops)
				return fail(why, "next hop slot out of range");
	}

	vh = keel_snapshot_vip_hash(s);
	for (i = 0; i < s->vip_hash_size; i++)
		if (vh[i] > s->n_vips)
			return fail(why, "VIP hash entry out of range");

	be = keel_snapshot_backends(s);
	for (i = 0; i < s->n_backends; i++) {
		struct keel_encap_tmpl t;

		if (be[i].state == KEEL_BACKEND_UNUSED)
			continue;
		if (be[i].state > KEEL_BACKEND_DOWN || be[i].vip >= s->n_vips ||
		    (be[i].family != KEEL_AF_INET4 && be[i].family != KEEL_AF_INET6))
			return fail(why, "bad backend record");
		/* The headers the worker will send: exactly what the backend and parameters say. */
		keel_encap_tmpl_fill(&t, s, &be[i]);
		if (memcmp(&t, &be[i].tmpl, sizeof(t)))
			return fail(why, "backend header template does not match the backend");
	}

	vips = keel_snapshot_vips(s);
	for (i = 0; i < s->n_vips; i++) {
		const struct keel_vip *v = &vips[i];

		if (v->family != KEEL_AF_INET4 && v->family != KEEL_AF_INET6)
			return fail(why, "bad VIP family");
		if (v->encap > KEEL_ENCAP_GUE || v->id >= KEEL_MAX_VIPS)
			return fail(why, "bad VIP encap or id");
		if (v->table_size > KEEL_MAGLEV_MAX_SIZE || !maglev_is_prime(v->table_size))
			return fail(why, "VIP table size not an accepted prime");
		if (!range_ok(v->table_off, (uint64_t)v->table_size * 2, s->size, 2))
			return fail(why, "Maglev table out of bounds");
		table = keel_snapshot_table(s, v);
		for (j = 0; j < v->table_size; j++) {
			uint16_t id = table[j];

			if (id == KEEL_BACKEND_NONE)
				continue;
			if (id >= s->n_backends || be[id].vip != i ||
			    be[id].state != KEEL_BACKEND_ACTIVE)
				return fail(why, "Maglev slot names a backend not active on its VIP");
		}
		if ((reason = keel_quic_map_check(s, v, i)))
			return fail(why, reason);
		if (!(v->flags & KEEL_VIP_SOURCES) != !v->src_off)
			return fail(why, "VIP source list flag and offset disagree");
		if (v->src_off && keel_src_list_validate(s, s->size, v->src_off, v->family, why))
			return -EINVAL;
		if (!v->prev_off)
			continue;
		if (!range_ok(v->prev_off, (uint64_t)v->table_size * 2, s->size, 2))
			return fail(why, "previous-owner table out of bounds");
		table = keel_snapshot_prev(s, v);
		for (j = 0; j < v->table_size; j++) {
			uint16_t id = table[j];

			/* A previous owner may be down or draining now, but it must be of this VIP. */
			if (id != KEEL_BACKEND_NONE &&
			    (id >= s->n_backends || be[id].vip != i || be[id].state == KEEL_BACKEND_UNUSED))
				return fail(why, "previous owner is not a backend of its VIP");
		}
	}
	return 0;
}
