/*
 * keelctl fleet forget HOST: a gone host's last-known record (<prefix>/known/<host>) taken out of
 * the store, so that `keelctl fleet status` stops listing it. Only a host without a live status
 * key: the delete is one transaction whose compares are "no live key" and "a record exists", so a
 * host that comes back in between is not forgotten (a live host would write its record again at
 * its next change anyway). Records also go by themselves, forget_after after their host last
 * renewed them (control_fleet_heart.c).
 */
#include "control_fleet_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_field.h"
#include "control_priv.h"
#include "log.h"

static int forget(struct control_fleet *f, const char *host, json_t **out, char *why,
		  size_t whylen)
{
	char live[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 16];
	char known[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 16];
	struct keel_etcd_range r;
	bool done = false;
	int64_t rev = 0;
	int rc;

	snprintf(live, sizeof(live), "%s%s", f->hosts_key, host);
	snprintf(known, sizeof(known), "%s%s", f->known_key, host);
	struct keel_etcd_cmp cmp[2] = {
		{ .key = live, .result = KEEL_ETCD_EQUAL, .mod_revision = 0 },    /* no live key */
		{ .key = known, .result = KEEL_ETCD_GREATER, .mod_revision = 0 }, /* a record */
	};
	struct keel_etcd_op op = { .type = KEEL_ETCD_OP_DELETE, .key = known };

	if ((rc = keel_etcd_txn(f->view_cli, cmp, 2, &op, 1, &done, &rev)))
		goto store;
	if (done) {
		log_event(LOG_INFO, "fleet_host_forgotten", "host=%s revision=%lld", host, (long long)rev);
		*out = json_pack("{s:s, s:I}", "forgotten", host, "revision", (json_int_t)rev);
		return *out ? 0 : -ENOMEM;
	}
	/* Which compare failed: said in words. */
	if ((rc = keel_etcd_range(f->view_cli, live, KEEL_ETCD_KEYS_ONLY, 0, &r)))
		goto store;
	rc = r.n && r.kvs[0].lease ? -EEXIST : -ENOENT;
	keel_etcd_range_free(&r);
	if (rc == -EEXIST)
		snprintf(why, whylen, "host %s is live in fleet %s (its status key's lease holds): stop "
			 "it first; a live host writes its record again", host, f->conf.name);
	else
		snprintf(why, whylen, "no host %s in fleet %s (no record at %s)", host, f->conf.name,
			 known);
	return rc;
store:
	snprintf(why, whylen, "the fleet store is unreachable (%s): nothing forgotten",
		 keel_etcd_errmsg(f->view_cli));
	fleet_set_store(f, false, keel_etcd_errmsg(f->view_cli));
	return -ENOLINK;
}

int control_fleet_forget(struct keel_control *c, const char *host, json_t **out, char *why,
			 size_t whylen)
{
	struct control_fleet *f = c->fleet;
	int rc;

	*out = NULL;
	if (!f) {
		snprintf(why, whylen, "not in a fleet: keel.yaml has no fleet: section");
		return -ENOENT;
	}
	if (!config_name_ok(host, CONFIG_FLEET_HOST_MAX)) {
		snprintf(why, whylen, "\"%.64s\" is not a host name", host);
		return -ENOENT;
	}
	if (!strcmp(host, f->conf.host)) {
		snprintf(why, whylen, "host %s is this host: it is live", host);
		return -EEXIST;
	}
	pthread_mutex_lock(&f->view_mu);
	rc = fleet_may_write(f, f->view_cli, why, whylen);
	if (!rc)
		rc = forget(f, host, out, why, whylen);
	pthread_mutex_unlock(&f->view_mu);
	if (!rc) {
		/* The view's copy of the gone hosts drops it too (the next listing would). */
		pthread_mutex_lock(&f->mu);
		json_object_del(f->gone, host);
		pthread_mutex_unlock(&f->mu);
	}
	return rc;
}
