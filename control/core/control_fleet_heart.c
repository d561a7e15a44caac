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

/*
 * The record that outlives this host: <prefix>/known/<host> under a lease of forget_after (none
 * with 0), kept alive at a third of it. A host gone for forget_after loses it by etcd's own clock,
 * the same on every host: nobody has to decide when a host is gone for good. A restarted host
 * adopts the lease its record already has, if still alive, so restarts do not pile leases up.
 * 0, or the store's -errno; *lease 0 when it must be granted again.
 */
static int keep_known(struct control_fleet *f, int64_t *lease, uint64_t *kept_ms, char **last)
{
	int64_t ttl = (f->conf.forget_after_ms + 999) / 1000, granted = 0;
	struct keel_etcd_range r;
	int rc;

	if (!f->conf.forget_after_ms)
		return 0;
	if (*lease) {
		if (control_now_ms() - *kept_ms < f->conf.forget_after_ms / 3)
			return 0;
		rc = keel_etcd_lease_keepalive(f->heart_cli, *lease, &granted);
		if (rc == -ENOENT) { /* expired (cut from the store for that long) or revoked */
			*lease = 0;
			return keep_known(f, lease, kept_ms, last);
		}
		if (!rc)
			*kept_ms = control_now_ms();
		return rc;
	}
	rc = keel_etcd_range(f->heart_cli, f->known_host_key, KEEL_ETCD_KEYS_ONLY, 0, &r);
	if (rc)
		return rc;
	if (r.n && r.kvs[0].lease &&
	    !keel_etcd_lease_keepalive(f->heart_cli, r.kvs[0].lease, &granted) && granted == ttl)
		*lease = r.kvs[0].lease; /* alive, of this forget_after: the record keeps it */
	keel_etcd_range_free(&r);
	if (!*lease && (rc = keel_etcd_lease_grant(f->heart_cli, ttl, lease, &granted)))
		return rc;
	*kept_ms = control_now_ms();
	free(*last);
	*last = NULL; /* written again under it */
	return 0;
}

/* The live hosts, by key only (keel_fleet_hosts_live; GET /v1/fleet reads the documents). */
static int count_hosts(struct control_fleet *f)
{
	struct keel_etcd_range r;
	int64_t n = 0;
	int rc = keel_etcd_range(f->heart_cli, f->hosts_key, KEEL_ETCD_PREFIX | KEEL_ETCD_KEYS_ONLY, 0,
				 &r);

	if (rc)
		return rc;
	for (size_t i = 0; i < r.n; i++)
		n += r.kvs[i].lease != 0; /* a status without a lease is nobody's */
	keel_etcd_range_free(&r);
	pthread_mutex_lock(&f->mu);
	f->hosts_live = n;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/*
 * The heart: at each keepalive (lease_ttl / 3) the lease, the last-known record's lease, this
 * host's status written if it changed, the live hosts counted; between them it sleeps, woken
 * only by a change of this host's status (an applied revision, a refusal, health verdicts). It
 * neither lists the hosts' documents nor reads the last-known records: GET /v1/fleet and an
 * edit's wait do, when asked. Nothing is written before the fleet's identity is confirmed.
 */
void *fleet_heart_main(void *arg)
{
	struct control_fleet *f = arg;
	int64_t lease = 0, known = 0, ttl = (f->conf.lease_ttl_ms + 999) / 1000;
	int64_t granted = 0, put_rev = 0;
	uint64_t kept_ms = 0, known_ms = 0, ok_ms = control_now_ms();
	uint64_t beat = f->conf.lease_ttl_ms / 3;
	char *last = NULL;

	while (!fleet_stopping(f)) {
		bool joined, beat_due;
		json_t *st;
		char *text;
		int rc = 0;

		pthread_mutex_lock(&f->mu);
		f->status_dirty = false;
		joined = f->joined;
		pthread_mutex_unlock(&f->mu);
		if (!joined) {
			/* The follower has not confirmed the fleet (the store silent, or another fleet's
			 * prefix): for the others this host is then one cut from the store. */
			watch_store_lost(f, false, ok_ms);
			fleet_nap(f, FLEET_RETRY_MS);
			continue;
		}
		beat_due = !lease || control_now_ms() - kept_ms >= beat;
		if (!lease) {
			rc = keel_etcd_lease_grant(f->heart_cli, ttl, &lease, &granted);
			kept_ms = control_now_ms();
			free(last);
			last = NULL; /* a new lease: the key must be written under it */
		} else if (beat_due) {
			rc = keel_etcd_lease_keepalive(f->heart_cli, lease, &granted);
			if (rc == -ENOENT)
				lease = 0;
			else if (!rc)
				kept_ms = control_now_ms();
		}
		if (!rc)
			rc = keep_known(f, &known, &known_ms, &last);
		if (rc) {
			fleet_set_store(f, false, keel_etcd_errmsg(f->heart_cli));
			watch_store_lost(f, false, ok_ms);
			fleet_nap(f, rc == -EACCES ? FLEET_DENIED_MS : FLEET_RETRY_MS);
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
				  .value_len = strlen(text), .lease = known },
			};
			bool done = false;

			rc = keel_etcd_txn(f->heart_cli, NULL, 0, ops, 2, &done, &put_rev);
			if (!rc && !done)
				rc = -EIO; /* no compare: it cannot fail; were it to, write again */
			if (rc == -ENOENT) { /* one of the leases is gone: which one, the next round says */
				lease = 0;
				known = 0;
			} else if (!rc) {
				free(last);
				last = text;
				text = NULL;
			}
		}
		free(text);
		if (!rc && lease && f->health)
			rc = fleet_health_put(f->health, f->heart_cli, lease); /* on change only */
		if (rc == -ENOENT)
			lease = 0;
		if (!rc && beat_due)
			rc = count_hosts(f);
		if (!rc)
			ok_ms = control_now_ms();
		fleet_set_store(f, !rc, rc ? keel_etcd_errmsg(f->heart_cli) : "");
		watch_store_lost(f, !rc, ok_ms);
		if (rc) {
			fleet_nap(f, FLEET_RETRY_MS);
			continue;
		}
		{
			uint64_t since = control_now_ms() - kept_ms;

			fleet_nap(f, (unsigned)(since < beat ? beat - since : 1));
		}
	}
	if (lease)
		keel_etcd_lease_revoke(f->heart_cli, lease); /* a clean stop leaves the fleet at once */
	free(last);
	return NULL;
}
