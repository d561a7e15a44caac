/* What keel-control reads of a dataplane, as summaries: its workers, its ports, its tables' digests, whether the region is still the one mapped. */
#include "seam.h"
#include "seam_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "maglev.h"
#include "snapshot.h"

int keel_seam_workers(struct keel_seam *s, uint64_t stall_ms, struct keel_seam_workers *out)
{
	const struct keel_region *r = s->r;
	uint64_t now = keel_seam_now_ms();
	uint32_t w;

	memset(out, 0, sizeof(*out));
	out->n = r->n_workers < KEEL_REGION_MAX_WORKERS ? r->n_workers : KEEL_REGION_MAX_WORKERS;
	out->epoch = r->epoch;
	out->pid = r->pid;
	/* acquire: pairs with the dataplane's release store of state (region_set_state). */
	out->state = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
	out->n_ports = r->n_ports;
	out->n_slots = r->n_slots;
	out->slot_size = r->slot_size;
	out->flow_capacity = r->flow_capacity;
	out->started_ms = r->started_ms;
	out->tsc_hz = r->tsc_hz;
	memcpy(out->name, r->name, sizeof(out->name));
	out->name[sizeof(out->name) - 1] = '\0';
	out->min_generation = out->n ? UINT64_MAX : 0;
	pthread_mutex_lock(&s->summary_mu);
	for (w = 0; w < out->n; w++) {
		struct keel_worker_status *st = keel_region_status(s->r, w);
		/* acquire: pairs with the worker's release store after it switched snapshots. */
		uint64_t g = __atomic_load_n(&st->active_generation, __ATOMIC_ACQUIRE);
		/* relaxed: pairs with the worker's relaxed store; only whether it moves matters. */
		uint64_t hb = __atomic_load_n(&st->heartbeat_ms, __ATOMIC_RELAXED);

		if (hb != s->hb_seen[w] || !s->hb_moved_ms[w]) {
			s->hb_seen[w] = hb;
			s->hb_moved_ms[w] = now;
		}
		if (now - s->hb_moved_ms[w] > stall_ms)
			out->stalled |= 1ull << w;
		out->still_ms[w] = now - s->hb_moved_ms[w];
		out->min_generation = g < out->min_generation ? g : out->min_generation;
		out->max_generation = g > out->max_generation ? g : out->max_generation;
		/* acquire: pairs with the worker's release store of refused (keel_status_refused). */
		out->refused += __atomic_load_n(&st->refused, __ATOMIC_ACQUIRE);
	}
	pthread_mutex_unlock(&s->summary_mu);
	return 0;
}

uint32_t keel_seam_ports(struct keel_seam *s, struct keel_seam_port *out, uint32_t max)
{
	const struct keel_region *r = s->r;
	uint32_t n = r->n_ports < 8 ? r->n_ports : 8, i;

	n = n < max ? n : max;
	for (i = 0; i < n; i++) {
		memcpy(out[i].mac, r->port_mac[i], 6);
		/* relaxed: pairs with the main thread's relaxed stores (region.h): figures, not orders. */
		out[i].missed = __atomic_load_n(&r->port_missed[i], __ATOMIC_RELAXED);
		out[i].nombuf = __atomic_load_n(&r->port_nombuf[i], __ATOMIC_RELAXED);
		out[i].link = __atomic_load_n(&r->port_mac[i][6], __ATOMIC_RELAXED);
		/* Written before RUNNING; bounded here all the same. */
		snprintf(out[i].name, sizeof(out[i].name), "%.*s", (int)sizeof(r->port_name[i]),
			 r->port_name[i]);
	}
	return n;
}

bool keel_seam_current(struct keel_seam *s, const char *name)
{
	char path[256];
	struct stat st;

	/* A restarted dataplane replaces the region file: a mapping of the old one says nothing. */
	return !keel_region_path(name, path, sizeof(path)) && !stat(path, &st) && st.st_ino == s->ino &&
	       keel_seam_alive(s);
}

struct keel_seam *keel_seam_attach(const char *name, const char **why)
{
	const char *unused;
	struct keel_seam *s;

	why = why ? why : &unused;
	s = keel_seam_open(name, why);
	if (s && !keel_seam_alive(s)) {
		keel_seam_close(s);
		*why = "dataplane not running";
		errno = EPIPE;
		return NULL;
	}
	return s;
}

int keel_seam_digests(struct keel_seam *s, keel_seam_digest_fn fn, void *arg)
{
	const struct keel_snapshot *snap;
	const struct keel_backend *be;
	uint8_t(*keys)[17];
	uint32_t n_backends, i;

	snap = keel_seam_read_active(s);
	if (!snap)
		return -EAGAIN;
	/* Read once: the slot cannot change until read_done, but one count sizes and bounds the keys. */
	n_backends = snap->n_backends;
	keys = calloc(n_backends + 1u, sizeof(*keys));
	if (!keys) {
		keel_seam_read_done(s);
		return -ENOMEM;
	}
	be = keel_snapshot_backends(snap);
	for (i = 0; i < n_backends; i++) {
		memcpy(keys[i], be[i].addr, 16);
		keys[i][16] = be[i].family;
	}
	for (i = 0; i < snap->n_vips; i++) {
		const struct keel_vip *kv = &keel_snapshot_vips(snap)[i];

		fn(arg, kv->id, maglev_digest(keel_snapshot_table(snap, kv), kv->table_size,
					      (const uint8_t(*)[17])keys, n_backends),
		   snap->generation);
	}
	keel_seam_read_done(s);
	free(keys);
	return 0;
}
