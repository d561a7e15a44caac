/* This host in the fleet (control_fleet.h): its lease, its status key and last-known record, and the store lost past the lease. */
#include "control_fleet_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "control_bgp.h"
#include "control_fleet_health.h"
#include "control_priv.h"
#include "log.h"

static json_t *host_status(struct control_fleet *f)
{
	struct keel_control *c = f->c;
	json_t *d = control_digest_json(c), *digests = json_object(), *v, *o;
	size_t i;
	bool alive, announcing;

	json_array_foreach(json_object_get(d, "vips"), i, v)
		json_object_set(digests, json_string_value(json_object_get(v, "vip")),
				json_object_get(v, "digest"));
	pthread_mutex_lock(&c->mu);
	alive = c->dp_alive;
	announcing = c->cfg->bgp.enabled && !c->drained && alive;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&f->mu);
	/* The contract's host document (api/keel_api.h), by its encoder; host, fingerprint and refused_revision (keelctl reads none) added after. */
	o = keel_api_fleet_host_encode(&(struct keel_api_fleet_host){
		.applied_revision = f->applied,
		.dataplane_alive = alive,
		.announcing = announcing,
		.version = FLEET_VERSION,
		.last_refusal = f->last_refusal,
		.digests = digests,
	});
	if (o) {
		char fp[24];

		snprintf(fp, sizeof(fp), "%012" PRIx64, f->fingerprint & (uint64_t)0xffffffffffff);
		json_object_set_new(o, "host", json_string(f->conf.host));
		json_object_set_new(o, "fingerprint", json_string(fp));
		json_object_set_new(o, "refused_revision", json_integer((json_int_t)f->refused_revision));
	}
	pthread_mutex_unlock(&f->mu);
	json_decref(digests);
	json_decref(d);
	return o;
}

/* Cut from the store for longer than the lease (the others count this host as gone): lower the
 * announcements; lift them once the store answers and the follower has listed it since. */
static void watch_store_lost(struct control_fleet *f, bool ok, uint64_t last_ok_ms)
{
	bool lost, changed = false;
	uint64_t now = control_now_ms();

	pthread_mutex_lock(&f->mu);
	lost = f->store_lost;
	if (!lost && !ok && now - last_ok_ms >= f->conf.lease_ttl_ms) {
		f->store_lost = changed = true;
		f->lost_at_ms = now;
	} else if (lost && ok && f->follow_ok_ms > f->lost_at_ms && f->applied >= f->seen) {
		f->store_lost = false;
		changed = true;
	}
	lost = f->store_lost;
	pthread_mutex_unlock(&f->mu);
	if (!changed)
		return;
	log_event(lost ? LOG_ERROR : LOG_INFO, lost ? "fleet_store_lost" : "fleet_store_regained",
		  "bound_ms=%u bgp=%s", f->conf.lease_ttl_ms, lost ? "degraded" : "normal");
	control_bgp_store_lost(f->c, lost);
}

void *fleet_heart_main(void *arg)
{
	struct control_fleet *f = arg;
	int64_t lease = 0, ttl = (f->conf.lease_ttl_ms + 999) / 1000;
	int64_t granted = 0, put_rev = 0;
	uint64_t kept_ms = 0, ok_ms = control_now_ms();
	char *last = NULL;

	while (!fleet_stopping(f)) {
		json_t *st;
		char *text;
		int rc = 0;

		pthread_mutex_lock(&f->mu);
		f->status_dirty = false;
		pthread_mutex_unlock(&f->mu);
		if (!lease) {
			rc = keel_etcd_lease_grant(f->heart_cli, ttl, &lease, &granted);
			kept_ms = control_now_ms();
			free(last);
			last = NULL; /* a new lease: the key must be written under it */
		} else if (control_now_ms() - kept_ms >= f->conf.lease_ttl_ms / 3) {
			rc = keel_etcd_lease_keepalive(f->heart_cli, lease, &granted);
			if (rc == -ENOENT)
				lease = 0;
			else if (!rc)
				kept_ms = control_now_ms();
		}
		if (rc) {
			fleet_set_store(f, false, keel_etcd_errmsg(f->heart_cli));
			watch_store_lost(f, false, ok_ms);
			fleet_nap(f, FLEET_HEART_MS);
			continue;
		}
		if (!lease)
			continue;
		st = host_status(f);
		text = st ? json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(st);
		if (text && (!last || strcmp(text, last))) {
			/* The live key under the lease, and the last-known copy that outlives it. */
			struct keel_etcd_op ops[2] = {
				{ .type = KEEL_ETCD_OP_PUT, .key = f->host_key, .value = text,
				  .value_len = strlen(text), .lease = lease },
				{ .type = KEEL_ETCD_OP_PUT, .key = f->known_host_key, .value = text,
				  .value_len = strlen(text) },
			};
			bool done = false;

			rc = keel_etcd_txn(f->heart_cli, NULL, 0, ops, 2, &done, &put_rev);
			if (!rc && !done)
				rc = -EIO; /* no compare: it cannot fail; were it to, write again */
			if (rc == -ENOENT) {
				lease = 0;
			} else if (!rc) {
				free(last);
				last = text;
				text = NULL;
			}
		}
		free(text);
		if (!rc && lease)
			rc = fleet_health_put(f->health, f->heart_cli, lease); /* on change only */
		if (rc == -ENOENT)
			lease = 0;
		if (!rc) {
			fleet_list_hosts(f, f->heart_cli);
			ok_ms = control_now_ms();
		}
		fleet_set_store(f, !rc, rc ? keel_etcd_errmsg(f->heart_cli) : "");
		watch_store_lost(f, !rc, ok_ms);
		fleet_nap(f, FLEET_HEART_MS);
	}
	if (lease)
		keel_etcd_lease_revoke(f->heart_cli, lease); /* a clean stop leaves the fleet at once */
	free(last);
	return NULL;
}
