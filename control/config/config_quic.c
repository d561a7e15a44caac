/* Checks of the QUIC keys of a VIP (config_quic.h): the server ids its backends' connection IDs carry. */
#include "config_quic.h"

#include <errno.h>
#include <stdlib.h>

#include "pkt.h"
#include "quic.h"

/* Which backend of the VIP first took each server id: 64 Ki entries, so no sort and no n^2. */
static int check_unique(struct check *c, const struct loc *bat, const json_t *arr,
			const struct config_vip *v)
{
	uint32_t *first = calloc(KEEL_QUIC_SID_MAX + 1, sizeof(*first));
	uint32_t i;
	int rc = 0;

	if (!first)
		return -ENOMEM;
	for (i = 0; i < v->n_backends && !rc; i++) {
		uint16_t sid = v->backends[i].server_id;

		if (first[sid]) {
			struct loc b = LOC_IDX(bat, arr, i);
			struct loc l = LOC_KEY(&b, json_array_get(arr, i), "server_id");

			rc = check_bad(c, &l, "duplicate server_id %u in VIP %s (first as backends[%u]): "
				       "a connection ID must name one backend", sid, v->name, first[sid] - 1);
		}
		first[sid] = i + 1;
	}
	free(first);
	return rc;
}

int config_quic_check_vip(struct check *c, const struct loc *at, const json_t *o, struct config_vip *v)
{
	const json_t *arr = json_object_get(o, "backends");
	struct loc bat = LOC_KEY(at, o, "backends");
	uint32_t i;
	int rc;

	if ((rc = check_bool(c, at, o, "quic", OPTIONAL, &v->quic)))
		return rc;
	if (v->quic && v->proto != KEEL_PROTO_UDP) {
		struct loc l = LOC_KEY(at, o, "quic");

		return check_bad(c, &l, "quic: true needs protocol: udp (QUIC runs over UDP, RFC 9000)");
	}
	for (i = 0; i < v->n_backends; i++) {
		const json_t *b = json_array_get(arr, i);
		struct loc l = LOC_IDX(&bat, arr, i);
		uint64_t sid = 0;

		if (!v->quic) {
			struct loc k = LOC_KEY(&l, b, "server_id");

			if (json_object_get(b, "server_id"))
				return check_bad_key(c, &k, "server_id is only for the backends of a VIP with "
						     "quic: true");
			continue;
		}
		/* Required: a backend without one could not be reached by a short header, only by hash. */
		if ((rc = check_uint(c, &l, b, "server_id", REQUIRED, KEEL_QUIC_SID_MIN, KEEL_QUIC_SID_MAX,
				     &sid)))
			return rc;
		v->backends[i].server_id = (uint16_t)sid;
	}
	return v->quic ? check_unique(c, &bat, arr, v) : 0;
}
