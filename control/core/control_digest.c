/* Fleet consistency: each VIP's Maglev table digest from the table the workers run, and the fleet seed's fingerprint. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "control_bgp.h"
#include "control_priv.h"

#define LOW48 ((1ull << 48) - 1)

/* splitmix64's finaliser: every host computes the same value from the same seed. */
uint64_t control_seed_fingerprint(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31)) & LOW48;
}

/*
 * The digests of one snapshot. A snapshot never changes once active, so
 * they are computed once per (epoch, generation) and kept: a scrape of 1000
 * VIPs at M = 65537 would otherwise hash 65 M slots every time. A new
 * generation hashes only the tables it changed (memo, keel_seam_digests):
 * the first scrape after a one-backend edit would otherwise pay for all.
 */
struct control_digests {
	uint64_t epoch, generation;
	bool valid;
	uint64_t d[KEEL_MAX_VIPS];
	bool have[KEEL_MAX_VIPS];
	struct keel_seam_digest_memo memo; /* kept across generations and dataplanes */
};

static void collect(void *arg, uint16_t vip_id, uint64_t digest, uint64_t generation)
{
	struct control_digests *ds = arg;

	ds->generation = generation;
	if (vip_id < KEEL_MAX_VIPS) {
		ds->d[vip_id] = digest;
		ds->have[vip_id] = true;
	}
}

void control_digest_free(struct keel_control *c)
{
	free(c->digests);
	c->digests = NULL;
}

/*
 * Digests of the snapshot worker 0 runs (read through the seam's reader
 * protocol), keyed by backend address, so that hosts with different backend
 * ids still agree. fn gets each configured VIP that is in the snapshot, in
 * configuration order. Mutex held.
 */
static int each_digest(struct keel_control *c, void (*fn)(void *, const char *, uint64_t),
		       void *arg)
{
	struct control_digests *ds = c->digests;
	struct keel_seam_workers sum;
	uint32_t i;
	int ret = 0, id;

	if (!c->seam || !keel_seam_alive(c->seam))
		return -EAGAIN;
	if (!ds) {
		ds = c->digests = calloc(1, sizeof(*ds));
		if (!ds)
			return -ENOMEM;
	}
	keel_seam_workers(c->seam, CONTROL_STALL_MS, &sum);
	/* Worker 0's snapshot is the one read: reuse while every worker runs the cached generation. */
	if (!ds->valid || ds->epoch != sum.epoch || sum.min_generation != ds->generation ||
	    sum.max_generation != ds->generation) {
		ds->valid = false;
		memset(ds->have, 0, sizeof(ds->have));
		ret = keel_seam_digests(c->seam, &ds->memo, collect, ds);
		ds->epoch = sum.epoch;
		ds->valid = !ret;
	}
	for (i = 0; !ret && i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		id = ids_vip(c->ids, v->name);
		if (id >= 0 && id < KEEL_MAX_VIPS && ds->have[id])
			fn(arg, v->name, ds->d[id]);
	}
	return ret;
}

static void add_json(void *arg, const char *vip, uint64_t d)
{
	char hex[24];

	snprintf(hex, sizeof(hex), "%016" PRIx64, d);
	json_array_append_new(arg, json_pack("{s:s,s:s,s:I}", "vip", vip, "digest", hex, "digest48",
					     (json_int_t)(d & LOW48)));
}

json_t *control_digest_json(struct keel_control *c)
{
	json_t *vips = json_array(), *o = NULL;
	char fp[24];
	int ret;

	if (!vips)
		return NULL;
	pthread_mutex_lock(&c->mu);
	ret = each_digest(c, add_json, vips);
	snprintf(fp, sizeof(fp), "%012" PRIx64, control_seed_fingerprint(c->cfg->fleet_seed));
	if (ret != -ENOMEM)
		o = json_pack("{s:s,s:I,s:I,s:b,s:o}", "fleet_seed_fingerprint", fp,
			      "fleet_seed_fingerprint48",
			      (json_int_t)control_seed_fingerprint(c->cfg->fleet_seed), "generation",
			      (json_int_t)c->generation, "dataplane", ret == 0, "vips", vips);
	else
		json_decref(vips);
	pthread_mutex_unlock(&c->mu);
	if (!o)
		errno = ENOMEM;
	return o;
}

static void add_metric(void *arg, const char *vip, uint64_t d)
{
	fprintf(arg, "keel_maglev_table_digest{vip=\"%s\"} %" PRIu64 "\n", vip, (uint64_t)(d & LOW48));
}

/* Mutex held (control_bgp_metrics). */
void control_digest_metrics(struct keel_control *c, FILE *f);
void control_digest_metrics(struct keel_control *c, FILE *f)
{
	fprintf(f, "# HELP keel_maglev_table_digest Low 48 bits of the VIP's Maglev table digest "
		   "(the table the workers run); equal on every host with the same configuration.\n"
		   "# TYPE keel_maglev_table_digest gauge\n");
	each_digest(c, add_metric, f);
	fprintf(f, "# HELP keel_fleet_seed_fingerprint Low 48 bits of a stable hash of fleet_seed.\n"
		   "# TYPE keel_fleet_seed_fingerprint gauge\n"
		   "keel_fleet_seed_fingerprint %" PRIu64 "\n",
		control_seed_fingerprint(c->cfg->fleet_seed));
}
