/* What keel-control reads of a dataplane, as summaries: its workers, its ports, its tables' digests, whether the region is still the one mapped. */
#include "seam.h"
#include "seam_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hash.h"
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

/*
 * The fingerprint of everything VIP i's digest depends on: its table's size
 * and raw ids, and the keys of its backends (kh[i], in id order). In an
 * active snapshot every id in VIP i's table is a backend of VIP i (the
 * worker validated it), so no other key enters its digest.
 */
static uint64_t digest_fingerprint(const struct keel_snapshot *snap, const struct keel_vip *kv, uint64_t kh)
{
	return keel_hash_step(maglev_table_fingerprint(keel_snapshot_table(snap, kv), kv->table_size), kh);
}

/* The scratch of one keel_seam_digests: per VIP its digest, and the tables to hash. */
struct digest_work {
	uint8_t (*keys)[17]; /* n_backends + 1 */
	uint64_t *kh;        /* n_vips: hash of the VIP's backends' ids and keys (fingerprints) */
	uint64_t *fp, *d;    /* n_vips */
	uint64_t *out;       /* the digests of the tables hashed */
	const uint16_t **tables;
	uint32_t *m, *which; /* the tables to hash: VIP index of each */
};

static void digest_work_free(struct digest_work *w)
{
	free(w->keys);
	free(w->kh);
	free(w->fp);
	free(w->d);
	free(w->out);
	free(w->tables);
	free(w->m);
	free(w->which);
}

static int digest_work_alloc(struct digest_work *w, uint32_t n_backends, uint32_t n_vips)
{
	size_t nv = (size_t)n_vips + 1;

	memset(w, 0, sizeof(*w));
	w->keys = calloc(n_backends + 1u, sizeof(*w->keys));
	w->kh = calloc(nv, sizeof(*w->kh));
	w->fp = calloc(nv, sizeof(*w->fp));
	w->d = calloc(nv, sizeof(*w->d));
	w->out = calloc(nv, sizeof(*w->out));
	w->tables = calloc(nv, sizeof(*w->tables));
	w->m = calloc(nv, sizeof(*w->m));
	w->which = calloc(nv, sizeof(*w->which));
	if (w->keys && w->kh && w->fp && w->d && w->out && w->tables && w->m && w->which)
		return 0;
	digest_work_free(w);
	return -ENOMEM;
}

int keel_seam_digests(struct keel_seam *s, struct keel_seam_digest_memo *memo, keel_seam_digest_fn fn,
		      void *arg)
{
	const struct keel_snapshot *snap;
	const struct keel_backend *be;
	const struct keel_vip *vips;
	struct digest_work w;
	uint32_t n_backends, n_vips, i, n = 0;
	int ret;

	snap = keel_seam_read_active(s);
	if (!snap)
		return -EAGAIN;
	/* Read once: the slot cannot change until read_done, but one count sizes and bounds the keys. */
	n_backends = snap->n_backends;
	n_vips = snap->n_vips;
	if (digest_work_alloc(&w, n_backends, n_vips)) {
		keel_seam_read_done(s);
		return -ENOMEM;
	}
	be = keel_snapshot_backends(snap);
	vips = keel_snapshot_vips(snap);
	for (i = 0; i < n_backends; i++) {
		memcpy(w.keys[i], be[i].addr, 16);
		w.keys[i][16] = be[i].family;
		if (memo && be[i].state != KEEL_BACKEND_UNUSED && be[i].vip < n_vips)
			w.kh[be[i].vip] = keel_hash_step(keel_hash_bytes(w.keys[i], 17, w.kh[be[i].vip]), i);
	}
	/* The memo's digests where the fingerprint says the table is the one they were computed from. */
	for (i = 0; i < n_vips; i++) {
		const struct keel_vip *kv = &vips[i];

		if (memo && kv->id < KEEL_MAX_VIPS) {
			w.fp[i] = digest_fingerprint(snap, kv, w.kh[i]);
			if (memo->have[kv->id] && memo->fp[kv->id] == w.fp[i]) {
				w.d[i] = memo->digest[kv->id];
				continue;
			}
		}
		w.tables[n] = keel_snapshot_table(snap, kv);
		w.m[n] = kv->table_size;
		w.which[n++] = i;
	}
	/* The others all at once: maglev_digest_n interleaves them. */
	ret = maglev_digest_n(w.tables, w.m, n, (const uint8_t(*)[17])w.keys, n_backends, w.out);
	if (!ret) {
		for (i = 0; i < n; i++) {
			uint32_t v = w.which[i];
			uint16_t id = vips[v].id;

			w.d[v] = w.out[i];
			if (memo && id < KEEL_MAX_VIPS) {
				memo->fp[id] = w.fp[v];
				memo->digest[id] = w.out[i];
				memo->have[id] = 1;
			}
		}
		if (memo) {
			memo->hashed = n;
			memo->reused = n_vips - n;
		}
		for (i = 0; i < n_vips; i++)
			fn(arg, vips[i].id, w.d[i], snap->generation);
	}
	keel_seam_read_done(s);
	digest_work_free(&w);
	return ret;
}
