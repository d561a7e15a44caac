/*
 * Which fleet a prefix belongs to (docs/fleet.md "The fleet's identity"): <prefix>/fleet holds
 * {"version":1,"name":NAME,"created_by":HOST}, created once by the first host that finds it absent
 * (a transaction whose compare is "the key does not exist", so two first hosts cannot both create
 * it) and never written again by keel-control. A host whose fleet.name differs refuses to join: it
 * reads no spec and writes no key of that prefix, and keeps forwarding what it ran. Without it a
 * host pointed by mistake at another fleet's prefix would apply that fleet's spec and publish its
 * status, health verdicts and edits among that fleet's hosts.
 */
#include "control_fleet_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control_fleet_health.h"
#include "control_priv.h"
#include "log.h"

#define IDENTITY_VERSION 1

/* The identity document kv: 0 if it names conf's fleet, else -EXDEV with why naming both. */
static int compare(struct control_fleet *f, const struct keel_etcd_kv *kv, char *why, size_t whylen)
{
	json_t *o = json_loadb(kv->value, kv->value_len, 0, NULL);
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *by = json_string_value(json_object_get(o, "created_by"));
	int rc = 0;

	if (!name) {
		snprintf(why, whylen, "%s is not a fleet identity ({\"version\":1,\"name\":...}): this "
			 "host (fleet \"%s\") does not join; fix the key with etcdctl", f->fleet_key,
			 f->conf.name);
		rc = -EXDEV;
	} else if (strcmp(name, f->conf.name)) {
		snprintf(why, whylen, "the prefix %s belongs to fleet \"%.64s\" (%s, created by host "
			 "%.64s); this host's keel.yaml says fleet \"%s\": it does not join (fix fleet.prefix "
			 "or fleet.name)", f->conf.prefix, name, f->fleet_key, by ? by : "?", f->conf.name);
		rc = -EXDEV;
	}
	json_decref(o);
	return rc;
}

int fleet_identity_check(struct control_fleet *f, struct keel_etcd *cli, char *why, size_t whylen)
{
	for (int tries = 0; tries < 2; tries++) {
		struct keel_etcd_range r;
		json_t *doc;
		char *text;
		bool created = false;
		int64_t rev = 0;
		int rc;

		/* Linearizable: a member cut from its peers does not answer "absent" for a key it missed. */
		if ((rc = keel_etcd_range(cli, f->fleet_key, 0, 0, &r))) {
			snprintf(why, whylen, "%s", keel_etcd_errmsg(cli));
			return rc;
		}
		if (r.n) {
			rc = compare(f, &r.kvs[0], why, whylen);
			keel_etcd_range_free(&r);
			return rc;
		}
		keel_etcd_range_free(&r);
		/* Absent: this host names the fleet, unless another host does it first. */
		doc = json_pack("{s:i, s:s, s:s}", "version", IDENTITY_VERSION, "name", f->conf.name,
				"created_by", f->conf.host);
		text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(doc);
		if (!text) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		struct keel_etcd_cmp cmp = { .key = f->fleet_key, .result = KEEL_ETCD_EQUAL,
					     .mod_revision = 0 };
		struct keel_etcd_op op = { .type = KEEL_ETCD_OP_PUT, .key = f->fleet_key, .value = text,
					   .value_len = strlen(text) };
		rc = keel_etcd_txn(cli, &cmp, 1, &op, 1, &created, &rev);
		free(text);
		if (rc) {
			snprintf(why, whylen, "%s", keel_etcd_errmsg(cli));
			return rc;
		}
		if (created) {
			log_event(LOG_INFO, "fleet_identity_created", "key=%s name=%s revision=%lld",
				  f->fleet_key, f->conf.name, (long long)rev);
			return 0;
		}
		/* Another host created it between the read and the write: read what it wrote. */
	}
	snprintf(why, whylen, "%s is created and deleted under this host: try again", f->fleet_key);
	return -EAGAIN;
}

/* Joined: the heart (status, lease) and the health watcher may read and write the fleet's keys. */
static void joined(struct control_fleet *f)
{
	struct keel_control *c = f->c;
	char why[256] = "";
	struct fleet_health *h;

	/* The watcher owns its client from here, whatever happens. */
	h = fleet_health_start(c, &f->conf, f->health_cli, why, sizeof(why));
	f->health_cli = NULL;
	if (!h)
		log_event(LOG_ERROR, "fleet_health_not_started", "reason=%s", why);
	/* Read by the control under either of its locks (control_priv.h): written under both. */
	pthread_mutex_lock(&c->edit_mu);
	pthread_mutex_lock(&c->mu);
	c->fleet_health = h;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->edit_mu);
	pthread_mutex_lock(&f->mu);
	f->health = h;
	f->joined = true;
	f->join_refused = false;
	f->join_error[0] = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	log_event(LOG_INFO, "fleet_joined", "name=%s prefix=%s host=%s", f->conf.name, f->conf.prefix,
		  f->conf.host);
}

int fleet_join(struct control_fleet *f)
{
	char why[512] = "";
	bool was;
	int rc;

	if (f->joined) /* the follower's own field once set: only it writes it */
		return 0;
	rc = fleet_identity_check(f, f->follow_cli, why, sizeof(why));
	if (!rc) {
		fleet_set_store(f, true, "");
		joined(f);
		return 0;
	}
	if (rc != -EXDEV) {
		fleet_set_store(f, false, why);
		return rc;
	}
	fleet_set_store(f, true, ""); /* the store answers: it is this host that does not belong */
	pthread_mutex_lock(&f->mu);
	was = f->join_refused && !strcmp(f->join_error, why);
	f->join_refused = true;
	snprintf(f->join_error, sizeof(f->join_error), "%s", why);
	pthread_mutex_unlock(&f->mu);
	if (!was)
		log_event(LOG_ERROR, "fleet_join_refused", "name=%s prefix=%s reason=%s", f->conf.name,
			  f->conf.prefix, why);
	return rc;
}

int fleet_may_write(struct control_fleet *f, struct keel_etcd *cli, char *why, size_t whylen)
{
	bool ok, refused;
	int rc;

	pthread_mutex_lock(&f->mu);
	ok = f->joined;
	refused = f->join_refused;
	if (refused)
		snprintf(why, whylen, "%s", f->join_error);
	pthread_mutex_unlock(&f->mu);
	if (ok)
		return 0;
	if (refused)
		return -EXDEV;
	/* Not checked yet (the store has not answered the follower since the start): check here. */
	rc = fleet_identity_check(f, cli, why, whylen);
	if (rc && rc != -EXDEV) {
		char e[256];

		snprintf(e, sizeof(e), "%s", why);
		fleet_store_why(f, e, rc, why, whylen);
		return -ENOLINK;
	}
	return rc;
}
