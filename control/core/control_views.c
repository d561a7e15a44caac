/* keel-control's views (status, VIPs, health, stats, tables, lookups), backend edits, and the Prometheus text. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_edit.h"
#include "config_field.h"
#include "control_bgp.h"
#include "control_fleet.h"
#include "control_priv.h"
#include "control_slow_start.h"
#include "dataplane_eal.h"
#include "drop.h"
#include "keel_api.h"
#include "maglev.h"
#include "pipeline.h"

/* The counters of every worker, summed; false when no dataplane is attached. */
static bool counters(struct keel_control *c, struct keel_worker_counters *out)
{
	if (!c->seam)
		return false;
	keel_seam_sum_counters(c->seam, out);
	return true;
}

/*
 * b's health into the contract's backend view (api/keel_api.h): v's check,
 * its state; st (the caller's) holds the strings bv points to.
 */
static void health_fill(struct keel_control *c, const struct config_vip *v,
			const struct config_backend *b, struct keel_api_backend_view *bv,
			struct health_status *st)
{
	struct health_target t;

	bv->health = "unchecked";
	bv->health_last = "";
	if (v->health.type == CONFIG_HEALTH_NONE)
		return;
	control_health_target(v, b, &t);
	bv->health = "unknown";
	if (health_get(c->health, &t, st))
		return;
	bv->health = health_state_name(st->state);
	bv->health_last = st->last_text;
	bv->has_latency = true;
	bv->latency_us = (int64_t)st->last_latency_us;
	bv->checks = (int64_t)st->checks;
	bv->since_ms = (int64_t)st->last_change_ms;
	bv->last_check_ms = (int64_t)st->last_check_ms;
}

/* The "health" object of GET /v1/health, by the contract's encoder. */
static json_t *health_of(struct keel_control *c, const struct config_vip *v,
			 const struct config_backend *b)
{
	struct keel_api_backend_view bv = { 0 };
	struct health_status st;

	health_fill(c, v, b, &bv, &st);
	return keel_api_health_encode(&bv);
}

static json_t *vip_json(struct keel_control *c, const struct config_vip *v, uint32_t idx)
{
	json_t *backends = json_array(), *o, *e;
	char a[CONFIG_TEXT_MAX];
	uint32_t j;

	for (j = 0; j < v->n_backends; j++) {
		const struct config_backend *b = &v->backends[j];
		struct keel_api_backend_view bv = {
			.addr = config_format_addr(b->addr, b->family, a),
			.weight = b->weight,
			.state = config_backend_state_name(b->state),
		};
		struct health_status st;
		uint32_t pct;
		uint64_t until;

		/* The contract's backend view, by its encoder; "id" (keelctl reads none) added after it. */
		health_fill(c, v, b, &bv, &st);
		if (control_slow_start_ramp(c, ids_backend(c->ids, v->name, b->addr, b->family), &pct, &until)) {
			bv.has_slow_start = true;
			bv.slow_start_percent = pct;
			bv.slow_start_until_ms = (int64_t)until;
		}
		e = keel_api_backend_view_encode(&bv);
		if (e)
			json_object_set_new(e, "id",
					    json_integer(ids_backend(c->ids, v->name, b->addr, b->family)));
		json_array_append_new(backends, e);
	}
	o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:b,s:I,s:i,s:b,s:o}", "name", v->name, "address",
		      config_format_addr(v->addr, v->family, a), "protocol",
		      config_proto_name(v->proto), "port", v->all_ports ? "all" : "", "port_number",
		      v->port, "encap", config_encap_name(v->encap), "fragments", v->fragments,
		      "maglev_table_size", (json_int_t)v->table_size, "id", ids_vip(c->ids, v->name),
		      "panic", idx < KEEL_MAX_VIPS && c->panic[idx], "backends", backends);
	if (o && !v->all_ports)
		json_object_set_new(o, "port", json_integer(v->port));
	return o;
}

json_t *control_vips_json(struct keel_control *c, const char *name)
{
	json_t *out = NULL;
	uint32_t i;

	pthread_mutex_lock(&c->mu);
	if (name) {
		const struct config_vip *v = config_vip_find(c->cfg, name, &i);

		if (v)
			out = vip_json(c, v, i);
		else
			errno = ENOENT;
	} else {
		out = json_array();
		for (i = 0; i < c->cfg->n_vips; i++)
			json_array_append_new(out, vip_json(c, &c->cfg->vips[i], i));
	}
	pthread_mutex_unlock(&c->mu);
	return out;
}

json_t *control_config_json(struct keel_control *c)
{
	json_t *j;

	pthread_mutex_lock(&c->mu);
	j = config_to_json(c->cfg);
	pthread_mutex_unlock(&c->mu);
	return j;
}

json_t *control_health_json(struct keel_control *c)
{
	json_t *out = json_array();
	char a[CONFIG_TEXT_MAX];
	uint32_t i, j;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		for (j = 0; j < v->n_backends; j++)
			json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:o}", "vip", v->name,
							     "backend",
							     config_format_addr(v->backends[j].addr,
										v->backends[j].family, a),
							     "check",
							     config_health_type_name(v->health.type),
							     "health", health_of(c, v, &v->backends[j])));
	}
	pthread_mutex_unlock(&c->mu);
	return out;
}

json_t *control_status_json(struct keel_control *c)
{
	json_t *dp, *workers, *wj;
	struct keel_seam_workers sum, *r = &sum;
	char mac[24];
	uint32_t w;

	pthread_mutex_lock(&c->mu);
	if (c->seam && keel_seam_alive(c->seam)) {
		keel_seam_workers(c->seam, CONTROL_STALL_MS, r);
		workers = json_array();
		for (w = 0; w < r->n; w++) {
			struct keel_worker_status stw, *st = &stw;

			keel_seam_read_status(c->seam, w, st);
			/* What keelctl reads through the contract's codec (api/keel_api.h), then the rest. */
			wj = keel_api_worker_status_encode(&(struct keel_api_worker_status){
				.worker = w, .lcore = st->lcore, .socket = st->socket,
				.generation = (int64_t)st->active_generation,
				.activations = (int64_t)st->activations, .refused = (int64_t)st->refused,
				.busy_cycles = (int64_t)st->busy_cycles, .numa_mismatch = st->numa_mismatch });
			if (wj && json_object_update_new(
					  wj, json_pack("{s:b,s:I,s:I}", "stalled",
							w < KEEL_REGION_MAX_WORKERS && c->stalled[w],
							"heartbeat_ms", (json_int_t)st->heartbeat_ms,
							"idle_cycles", (json_int_t)st->idle_cycles))) {
				json_decref(wj);
				wj = NULL;
			}
			json_array_append_new(workers, wj);
		}
		dp = json_pack("{s:b,s:s,s:i,s:i,s:I,s:o}", "alive", 1, "instance", r->name, "pid",
			       (int)r->pid, "ports", (int)r->n_ports, "flow_capacity_per_worker",
			       (json_int_t)r->flow_capacity, "workers", workers);
		{
			char e[24];

			snprintf(e, sizeof(e), "%016" PRIx64, r->epoch);
			json_object_set_new(dp, "epoch", json_string(e));
		}
		/* What dpdk-dumpcap needs (keelctl capture): the prefix to attach by, and whether it can. */
		{
			struct dataplane_eal eal;

			if (!dataplane_eal_read((pid_t)r->pid, &eal)) {
				json_t *cj = json_pack("{s:s,s:b}", "file_prefix", eal.file_prefix,
						       "available", eal.capture);

				if (cj && !eal.capture)
					json_object_set_new(cj, "reason", json_string(eal.why));
				json_object_set_new(dp, "capture", cj);
			}
		}
	} else {
		dp = json_pack("{s:b,s:s}", "alive", 0, "instance", c->cfg->instance);
	}
	/* "next_hop": the first configured one, as before several; "next_hops" lists them all. */
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", c->nh[0].mac[0], c->nh[0].mac[1],
		 c->nh[0].mac[2], c->nh[0].mac[3], c->nh[0].mac[4], c->nh[0].mac[5]);
	{
		json_t *o = json_pack("{s:o,s:I,s:s,s:s,s:{s:b,s:s},s:I,s:I,s:I,s:I,s:s?}", "dataplane",
				      dp, "generation", (json_int_t)c->generation, "config",
				      c->config_path, "state_dir", c->state_dir, "next_hop",
				      "resolved", c->nh[0].known, "mac", mac, "publishes",
				      (json_int_t)c->publishes, "publish_failures",
				      (json_int_t)c->publish_failures, "applies", (json_int_t)c->applies,
				      "refused_changes", (json_int_t)c->refused, "publish_error",
				      c->publish_error[0] ? c->publish_error : NULL);
		if (o)
			json_object_set_new(o, "steering", control_steer_json(c));
		if (o) { /* several next hops (control_next_hop.c), with their packets when cheap to sum */
			/* Summed only with several: the whole counter block is large to sum under mu. */
			struct keel_worker_counters *k = c->cfg->n_next_hops > 1 && c->seam &&
								 keel_seam_alive(c->seam) ?
								 calloc(1, sizeof(*k)) : NULL;

			if (k)
				keel_seam_sum_counters(c->seam, k);
			json_object_set_new(o, "next_hops", control_next_hop_view(c, k));
			free(k);
		}
		/* The announcements (bgp.c has its own lock, never held while it waits for ours). */
		if (o && c->cfg->bgp.enabled)
			json_object_set_new(o, "bgp", control_bgp_json(c));
		if (o && c->fleet) /* the store's side (control_fleet.c; its lock nests inside mu) */
			json_object_set_new(o, "fleet", control_fleet_status_json(c->fleet));
		pthread_mutex_unlock(&c->mu);
		return o;
	}
}

json_t *control_stats_json(struct keel_control *c)
{
	struct keel_worker_counters *k = calloc(1, sizeof(*k));
	json_t *drops, *vips, *backends, *out;
	char a[CONFIG_TEXT_MAX];
	uint64_t dropped = 0;
	uint32_t i, j;

	if (!k)
		return NULL;
	pthread_mutex_lock(&c->mu);
	counters(c, k);
	drops = json_object();
	for (i = 1; i < KEEL_DROP_MAX; i++) {
		dropped += k->core.drops[i];
		if (k->core.drops[i])
			json_object_set_new(drops, keel_drop_name(i), json_integer((json_int_t)k->core.drops[i]));
	}
	vips = json_object();
	backends = json_array();
	for (i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];
		int vid = ids_vip(c->ids, v->name);

		if (vid >= 0)
			json_object_set_new(vips, v->name,
					    json_pack("{s:I,s:I}", "packets",
						      (json_int_t)k->core.vip[vid].pkts, "bytes",
						      (json_int_t)k->core.vip[vid].bytes));
		/* Source lists: refused packets, only on VIPs that have a list. */
		if (vid >= 0 && v->sources)
			json_object_set_new(json_object_get(vips, v->name), "source_denied",
					    json_integer((json_int_t)k->core.vip_source_denied[vid]));
		for (j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int bid = ids_backend(c->ids, v->name, b->addr, b->family);

			if (bid < 0)
				continue;
			json_array_append_new(backends,
					      json_pack("{s:s,s:s,s:I,s:I,s:I}", "vip", v->name,
							"backend", config_format_addr(b->addr, b->family, a),
							"packets", (json_int_t)k->core.backend[bid].pkts,
							"bytes", (json_int_t)k->core.backend[bid].bytes,
							"new_flows",
							(json_int_t)k->core.backend[bid].new_flows));
		}
	}
	out = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o,s:o}",
			"dataplane", c->seam != NULL, "rx_packets", (json_int_t)k->core.rx_pkts,
			"rx_bytes", (json_int_t)k->core.rx_bytes, "forwarded_packets",
			(json_int_t)k->core.fwd_pkts, "forwarded_bytes", (json_int_t)k->core.fwd_bytes,
			"answered_packets", (json_int_t)k->core.reply_pkts, "kernel_packets",
			(json_int_t)k->core.kernel_pkts, "dropped_packets", (json_int_t)dropped,
			"tx_refused", (json_int_t)k->tx_dropped, "drops", drops, "flows", "hits",
			(json_int_t)k->flows.hits, "misses", (json_int_t)k->flows.misses, "inserts",
			(json_int_t)k->flows.inserts, "evictions", (json_int_t)k->flows.evictions,
			"expirations", (json_int_t)k->flows.expirations, "untracked",
			(json_int_t)k->flows.insert_skipped, "entries", (json_int_t)k->flows.occupancy,
			"vips", vips, "backends", backends);
	pthread_mutex_unlock(&c->mu);
	free(k);
	return out;
}

json_t *control_table_json(struct keel_control *c, const char *name)
{
	const struct keel_snapshot *s;
	const struct keel_vip *kv = NULL;
	const struct config_vip *v;
	json_t *out = NULL, *backends;
	char a[CONFIG_TEXT_MAX];
	uint32_t idx, i;

	pthread_mutex_lock(&c->mu);
	v = config_vip_find(c->cfg, name, &idx);
	if (!v) {
		errno = ENOENT;
		goto out;
	}
	if (!c->seam) {
		errno = ENOTCONN;
		goto out;
	}
	/* The table the workers run: worker 0's active snapshot, read in place (no publish rewrites it meanwhile). */
	s = keel_seam_read_active(c->seam);
	if (!s) {
		errno = EAGAIN;
		goto out;
	}
	for (i = 0; i < s->n_vips; i++)
		if (keel_snapshot_vips(s)[i].id == ids_vip(c->ids, v->name))
			kv = &keel_snapshot_vips(s)[i];
	if (!kv) {
		errno = EAGAIN;
		goto out_read;
	}
	{
		const uint16_t *t = keel_snapshot_table(s, kv);
		uint32_t *cnt = calloc(s->n_backends + 1u, sizeof(uint32_t));
		uint8_t(*keys)[17] = calloc(s->n_backends + 1u, 17);
		const struct keel_backend *be = keel_snapshot_backends(s);
		char digest[24];

		if (!cnt || !keys) {
			free(cnt);
			free(keys);
			goto out_read;
		}
		for (i = 0; i < kv->table_size; i++)
			if (t[i] < s->n_backends)
				cnt[t[i]]++;
		for (i = 0; i < s->n_backends; i++) {
			memcpy(keys[i], be[i].addr, 16);
			keys[i][16] = be[i].family;
		}
		snprintf(digest, sizeof(digest), "%016" PRIx64,
			 maglev_digest(t, kv->table_size, (const uint8_t(*)[17])keys, s->n_backends));
		backends = json_array();
		for (i = 0; i < v->n_backends; i++) {
			const struct config_backend *b = &v->backends[i];
			int bid = ids_backend(c->ids, v->name, b->addr, b->family);
			uint32_t n = bid >= 0 && (uint32_t)bid < s->n_backends ? cnt[bid] : 0;

			json_array_append_new(backends,
					      json_pack("{s:s,s:I,s:f,s:s}", "backend",
							config_format_addr(b->addr, b->family, a),
							"slots", (json_int_t)n, "share",
							(double)n / kv->table_size, "state",
							bid >= 0 && (uint32_t)bid < s->n_backends ?
								(be[bid].state == KEEL_BACKEND_ACTIVE ? "active" :
								 be[bid].state == KEEL_BACKEND_DRAINING ? "draining" : "down") :
								"absent"));
		}
		out = json_pack("{s:s,s:I,s:I,s:s,s:o}", "vip", v->name, "generation",
				(json_int_t)s->generation, "size", (json_int_t)kv->table_size,
				"digest", digest, "backends", backends);
		free(cnt);
		free(keys);
	}
out_read:
	keel_seam_read_done(c->seam);
out:
	pthread_mutex_unlock(&c->mu);
	return out;
}

json_t *control_lookup_json(struct keel_control *c, const char *name, const char *src,
			    uint16_t sport, int dport, char *why, size_t whylen)
{
	struct keel_flow_key k = { 0 };
	struct keel_lookup lk;
	const struct config_vip *v;
	const struct keel_snapshot *s;
	json_t *out = NULL;
	char a[CONFIG_TEXT_MAX];
	const char *bad;
	uint8_t fam;
	uint32_t i;

	pthread_mutex_lock(&c->mu);
	v = config_vip_find(c->cfg, name, NULL);
	if (!v) {
		snprintf(why, whylen, "no VIP named %s", name);
		errno = ENOENT;
		goto out;
	}
	if (config_parse_addr(src, k.src, &fam, &bad)) {
		snprintf(why, whylen, "bad source address %s", src);
		errno = EINVAL;
		goto out;
	}
	if (fam != v->family) {
		/* A bad question, not a refused change: its own errno (400 in api_status.c). */
		snprintf(why, whylen, "source must be an address of the VIP's family");
		errno = EAFNOSUPPORT;
		goto out;
	}
	/*
	 * The packet's own destination port: an all-ports VIP hashes it like the
	 * source port (the workers' key is the 5-tuple), so without it the answer
	 * would be for port 0, a flow no client sends.
	 */
	if (v->all_ports && dport < 0) {
		snprintf(why, whylen, "VIP %s takes every port: give the destination port (dport)", v->name);
		errno = EDESTADDRREQ;
		goto out;
	}
	if (!v->all_ports && dport >= 0 && dport != v->port) {
		snprintf(why, whylen, "VIP %s is port %u: a packet to port %d is not for it", v->name,
			 v->port, dport);
		errno = EDESTADDRREQ;
		goto out;
	}
	if (!c->seam) {
		snprintf(why, whylen, "dataplane not running");
		errno = ENOTCONN;
		goto out;
	}
	memcpy(k.dst, v->addr, 16);
	k.family = v->family;
	k.proto = v->proto;
	k.sport = htons(sport);
	k.dport = htons(v->all_ports ? (uint16_t)dport : v->port);
	s = keel_seam_read_active(c->seam);
	if (!s) {
		snprintf(why, whylen, "no snapshot active yet");
		errno = EAGAIN;
		goto out;
	}
	keel_pipeline_lookup(s, &k, &lk);
	if (lk.vip == 0xffff) {
		snprintf(why, whylen, "VIP not in the active snapshot");
		errno = EAGAIN;
		goto out_read;
	}
	out = json_pack("{s:s,s:s,s:i,s:i,s:s,s:I,s:I,s:I,s:s}", "vip", v->name, "source", src,
			"source_port", sport, "destination_port", (int)ntohs(k.dport), "reason", v->fragments ? "maglev (addresses only: fragments VIP)" :
			"maglev", "slot", (json_int_t)lk.slot, "hash", (json_int_t)lk.hash, "generation",
			(json_int_t)s->generation, "note",
			"a flow already tracked by a worker keeps its backend while that backend is active or draining");
	if (lk.backend != KEEL_BACKEND_NONE && lk.backend < s->n_backends) {
		const struct keel_backend *b = &keel_snapshot_backends(s)[lk.backend];

		json_object_set_new(out, "backend", json_string(config_format_addr(b->addr, b->family, a)));
	} else {
		json_object_set_new(out, "backend", json_null());
	}
	/* The slot's owner whatever a worker tracks, and its owner before (second chance), if named. */
	json_object_set_new(out, "maglev_backend", json_deep_copy(json_object_get(out, "backend")));
	{
		const uint16_t *prev = keel_snapshot_prev(s, &keel_snapshot_vips(s)[lk.vip]);
		uint16_t p = prev ? prev[lk.slot] : KEEL_BACKEND_NONE;
		const struct keel_backend *b = p < s->n_backends ? &keel_snapshot_backends(s)[p] : NULL;

		json_object_set_new(out, "previous_owner",
				    b ? json_string(config_format_addr(b->addr, b->family, a)) : json_null());
	}
	/* A flow a worker already tracks keeps its backend while that backend is active or draining. */
	{
		struct keel_flow_answer ans[KEEL_REGION_MAX_WORKERS];
		struct keel_flow_key tk = k;
		struct keel_seam_workers sum;
		int answered;

		if (v->fragments)
			tk.sport = tk.dport = 0;
		answered = keel_seam_query_flow(c->seam, &tk, 200, ans);
		json_object_set_new(out, "workers_answered", json_integer(answered < 0 ? 0 : answered));
		keel_seam_workers(c->seam, CONTROL_STALL_MS, &sum);
		for (i = 0; answered > 0 && i < sum.n; i++) {
			const struct keel_backend *b;

			if (!ans[i].hit || ans[i].backend >= s->n_backends)
				continue;
			b = &keel_snapshot_backends(s)[ans[i].backend];
			if (b->state != KEEL_BACKEND_ACTIVE && b->state != KEEL_BACKEND_DRAINING)
				continue; /* its backend is gone: the next packet is re-balanced */
			json_object_set_new(out, "backend",
					    json_string(config_format_addr(b->addr, b->family, a)));
			json_object_set_new(out, "reason", json_string("flow table"));
			json_object_set_new(out, "tracked_by_worker", json_integer(i));
			break;
		}
	}
out_read:
	keel_seam_read_done(c->seam);
out:
	pthread_mutex_unlock(&c->mu);
	return out;
}

/* --- backend edits -------------------------------------------------------------- */

struct typed_edit {
	const struct config_edit *e;
	json_t *vips; /* a server edit: the VIPs whose copy of it changes state */
};

/* The VIPs of cfg whose copy of the server e changes state: a server edit's report names them. */
static json_t *server_vips(const struct keel_config *cfg, const struct config_edit *e)
{
	uint8_t from = e->op == CONFIG_EDIT_SERVER_DRAIN ? CONFIG_BACKEND_ACTIVE
							  : CONFIG_BACKEND_DRAINING;
	json_t *vips = json_array();

	for (uint32_t i = 0; vips && i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		int bi = config_backend_index(v, e->addr, e->family);

		if (bi >= 0 && v->backends[bi].state == from)
			json_array_append_new(vips, json_string(v->name));
	}
	return vips;
}

/*
 * control_edit_fn: one typed edit (config_edit.c) of the configuration it is
 * given: the running one, or in a fleet the newest spec (re-based on each try).
 */
static int typed_edit(const struct keel_config *cur, struct keel_config **out, void *arg,
		      char *why, size_t whylen)
{
	struct typed_edit *t = arg;

	if (t->e->op == CONFIG_EDIT_SERVER_DRAIN || t->e->op == CONFIG_EDIT_SERVER_UNDRAIN) {
		json_decref(t->vips);
		t->vips = server_vips(cur, t->e);
	}
	return config_edit_apply(cur, t->e, out, why, whylen);
}

int control_config_edit(struct keel_control *c, const struct config_edit *e, unsigned int flags,
			uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	struct typed_edit t = { .e = e, .vips = NULL };
	int ret = control_edit(c, typed_edit, &t, flags, if_match, report, why, whylen);

	if (t.vips && report && *report)
		json_object_set(*report, "vips", t.vips);
	json_decref(t.vips);
	return ret;
}

int control_flush(struct keel_control *c, const char *vip, const uint8_t a[16], uint8_t fam,
		  char *why, size_t whylen)
{
	const struct config_vip *v;
	char addr[CONFIG_TEXT_MAX];
	int id, ret;

	config_format_addr(a, fam, addr);
	/*
	 * A change to the dataplane, not a read: under edit_mu, so that a full
	 * ring (a stalled dataplane) makes the flush wait without holding up
	 * readers.
	 */
	pthread_mutex_lock(&c->edit_mu);
	v = config_vip_find(c->cfg, vip, NULL);
	id = v ? ids_backend(c->ids, vip, a, fam) : -1;
	if (id < 0) {
		pthread_mutex_unlock(&c->edit_mu);
		snprintf(why, whylen, "no backend %s in VIP %s", addr, vip);
		return -ENOENT;
	}
	/* -ENOTCONN (none attached) and -EPIPE (attached, dead) both say "not running": 503 alike. */
	ret = c->seam ? keel_seam_flush_backend(c->seam, (uint16_t)id) : -ENOTCONN;
	pthread_mutex_unlock(&c->edit_mu);
	if (ret == -ENOTCONN || ret == -EPIPE)
		snprintf(why, whylen, "dataplane not running");
	else if (ret)
		snprintf(why, whylen, "a worker's command ring stayed full");
	return ret;
}

void control_api_params(struct keel_control *c, char *socket_path, size_t len, char *group,
			size_t glen, char *admin_group, size_t alen, uint8_t metrics_addr[16],
			uint8_t *metrics_family, uint16_t *metrics_port)
{
	pthread_mutex_lock(&c->mu);
	snprintf(socket_path, len, "%s", c->cfg->api_socket);
	snprintf(group, glen, "%s", c->cfg->api_group);
	snprintf(admin_group, alen, "%s", c->cfg->api_admin_group);
	memcpy(metrics_addr, c->cfg->metrics_addr, 16);
	*metrics_family = c->cfg->metrics_family;
	*metrics_port = c->cfg->metrics_port;
	pthread_mutex_unlock(&c->mu);
}
