/* A QUIC VIP's server-id -> backend map in the snapshot: laid out by the builder, checked by validation, searched per short-header packet. */
#ifndef KEEL_CORE_QUIC_MAP_H
#define KEEL_CORE_QUIC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "snapshot_build.h"

static inline const struct keel_quic_sid *keel_snapshot_quic(const struct keel_snapshot *s,
							      const struct keel_vip *v)
{
	return (const struct keel_quic_sid *)((const uint8_t *)s + v->quic_off);
}

/*
 * The backend a server id names on VIP v, or KEEL_BACKEND_NONE. A sorted
 * array and a binary search: at most 15 probes for the 16384 backends a
 * snapshot can hold, and one or two cache lines for the usual few dozen.
 */
static inline uint16_t keel_quic_map_lookup(const struct keel_snapshot *s, const struct keel_vip *v,
					    uint16_t server_id)
{
	const struct keel_quic_sid *m = keel_snapshot_quic(s, v);
	uint32_t lo = 0, hi = v->quic_n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (m[mid].server_id == server_id)
			return m[mid].backend;
		if (m[mid].server_id < server_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return KEEL_BACKEND_NONE;
}

/*
 * Whether a CID-routed packet may go to backend id on VIP index vip: the
 * backend still serves connections (active, whatever its weight, or
 * draining). A short header belongs to an established connection, so the
 * rule is the flow table's for a tracked flow, not Maglev's for a new one.
 */
static inline int keel_quic_backend_live(const struct keel_snapshot *s, uint16_t id, uint16_t vip)
{
	const struct keel_backend *be;

	if (id >= s->n_backends)
		return 0;
	be = &keel_snapshot_backends(s)[id];
	return be->vip == vip && (be->state == KEEL_BACKEND_ACTIVE || be->state == KEEL_BACKEND_DRAINING);
}

/* Bytes the map of a VIP spec takes in the snapshot (0 for a VIP without KEEL_VIP_QUIC), 8-aligned. */
size_t keel_quic_map_bytes(const struct keel_vip_spec *vs);

/*
 * Write the map of vs (its backends with a server id, sorted) at dst and
 * return how many entries; -EINVAL with *why on a duplicate server id.
 */
int keel_quic_map_fill(struct keel_quic_sid *dst, const struct keel_vip_spec *vs, const char **why);

/* Validation of VIP index vip's map against the snapshot: NULL when sound, else what is wrong. */
const char *keel_quic_map_check(const struct keel_snapshot *s, const struct keel_vip *v, uint32_t vip);

#endif
