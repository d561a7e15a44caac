/* Building and checking a QUIC VIP's server-id map (quic_map.h); keel-control, the tests and the bench build it through keel_snapshot_build. */
#include "quic_map.h"

#include <errno.h>
#include <stdlib.h>

#include "pkt.h"
#include "quic.h"

static uint32_t with_sid(const struct keel_vip_spec *vs)
{
	uint32_t j, n = 0;

	for (j = 0; j < vs->n_backends; j++)
		n += vs->backends[j].server_id != 0;
	return n;
}

size_t keel_quic_map_bytes(const struct keel_vip_spec *vs)
{
	if (!(vs->flags & KEEL_VIP_QUIC))
		return 0;
	return ((size_t)with_sid(vs) * sizeof(struct keel_quic_sid) + 7u) & ~(size_t)7u;
}

static int cmp_sid(const void *a, const void *b)
{
	const struct keel_quic_sid *x = a, *y = b;

	return (int)x->server_id - (int)y->server_id;
}

int keel_quic_map_fill(struct keel_quic_sid *dst, const struct keel_vip_spec *vs, const char **why)
{
	uint32_t j, n = 0;

	for (j = 0; j < vs->n_backends; j++) {
		if (!vs->backends[j].server_id)
			continue;
		dst[n].server_id = vs->backends[j].server_id;
		dst[n].backend = vs->backends[j].id;
		n++;
	}
	qsort(dst, n, sizeof(*dst), cmp_sid);
	for (j = 1; j < n; j++)
		if (dst[j].server_id == dst[j - 1].server_id) {
			if (why)
				*why = "duplicate QUIC server id in a VIP";
			return -EINVAL;
		}
	return (int)n;
}

const char *keel_quic_map_check(const struct keel_snapshot *s, const struct keel_vip *v, uint32_t vip)
{
	const struct keel_backend *be = keel_snapshot_backends(s);
	const struct keel_quic_sid *m;
	uint32_t j;

	if (!(v->flags & KEEL_VIP_QUIC))
		return v->quic_off || v->quic_n ? "QUIC server-id map on a VIP without quic" : NULL;
	if (v->proto != KEEL_PROTO_UDP)
		return "quic on a VIP that is not UDP";
	if (!v->quic_n)
		return NULL;
	if (v->quic_n > s->n_backends || v->quic_off % 4 || v->quic_off > s->size ||
	    (uint64_t)v->quic_n * sizeof(*m) > s->size - v->quic_off)
		return "QUIC server-id map out of bounds";
	m = keel_snapshot_quic(s, v);
	for (j = 0; j < v->quic_n; j++) {
		if (m[j].server_id < KEEL_QUIC_SID_MIN || (j && m[j].server_id <= m[j - 1].server_id))
			return "QUIC server ids not strictly ascending from 1";
		if (m[j].backend >= s->n_backends || be[m[j].backend].vip != vip ||
		    be[m[j].backend].state == KEEL_BACKEND_UNUSED)
			return "QUIC server id names a backend not of its VIP";
	}
	return NULL;
}
