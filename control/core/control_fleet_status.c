/* The fleet as this host sees it (control_fleet.h): the hosts in the store, GET /v1/fleet, the status's "fleet", the metrics. */
#include "control_fleet_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "control_priv.h"

int fleet_list_hosts(struct control_fleet *f, struct keel_etcd *cli, bool with_known)
{
	struct keel_etcd_range r, k = { 0 };
	json_t *hosts, *gone;
	int rc;

	if ((rc = keel_etcd_range(cli, f->hosts_key, KEEL_ETCD_PREFIX, 0, &r)))
		return rc;
	/* The last-known records at the same revision: a host without a live key but with one is
	 * gone (its lease expired: dead, or cut from the store), and its lag still shows. */
	if (with_known && (rc = keel_etcd_range(cli, f->known_key, KEEL_ETCD_PREFIX, r.revision, &k))) {
		keel_etcd_range_free(&r);
		return rc;
	}
	hosts = json_object();
	gone = json_object();
	for (size_t i = 0; hosts && i < r.n; i++) {
		json_t *v = json_loadb(r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
		const char *name = r.kvs[i].key + strlen(f->hosts_key);

		if (v && r.kvs[i].lease) /* a status without a lease is nobody's */
			json_object_set(hosts, name, v);
		json_decref(v);
	}
	for (size_t i = 0; hosts && gone && i < k.n; i++) {
		const char *name = k.kvs[i].key + strlen(f->known_key);
		json_t *v;

		if (json_object_get(hosts, name))
			continue;
		v = json_loadb(k.kvs[i].value, k.kvs[i].value_len, 0, NULL);
		if (v)
			json_object_set_new(gone, name, v);
	}
	keel_etcd_range_free(&r);
	keel_etcd_range_free(&k);
	pthread_mutex_lock(&f->mu);
	json_decref(f->hosts);
	f->hosts = hosts;
	if (with_known) { /* an edit's wait reads the live hosts only: the gone ones stay as listed */
		json_decref(f->gone);
		f->gone = gone;
		gone = NULL;
	}
	f->hosts_live = (int64_t)json_object_size(hosts);
	pthread_mutex_unlock(&f->mu);
	json_decref(gone);
	return 0;
}

/*
 * GET /v1/fleet (with_hosts: the hosts' store documents) and the "fleet" of
 * GET /v1/status (without): the contract's fleet status by its encoder;
 * refused_total, refused_revision, last_refusal, fingerprint and hosts_live
 * (keelctl reads none) added after it.
 */
static json_t *fleet_json(struct control_fleet *f, bool with_hosts)
{
	json_t *o;
	char fp[24];

	pthread_mutex_lock(&f->mu);
	snprintf(fp, sizeof(fp), "%012" PRIx64, f->fingerprint & (uint64_t)0xffffffffffff);
	o = keel_api_fleet_encode(&(struct keel_api_fleet_status){
		.host = f->conf.host,
		.prefix = f->conf.prefix,
		.revision = f->seen,
		.applied_revision = f->applied,
		.store_up = f->store_up,
		.store_lost = f->store_lost,
		.store_error = f->store_error,
		.raw_hosts = with_hosts && f->hosts ? f->hosts : NULL,
		.raw_gone = with_hosts && f->gone ? f->gone : NULL,
		.no_hosts = !with_hosts,
	});
	if (o) {
		json_object_set_new(o, "refused_total", json_integer((json_int_t)f->refused_total));
		json_object_set_new(o, "refused_revision", json_integer((json_int_t)f->refused_revision));
		json_object_set_new(o, "last_refusal", json_string(f->last_refusal));
		json_object_set_new(o, "fingerprint", json_string(fp));
		json_object_set_new(o, "hosts_live", json_integer((json_int_t)f->hosts_live));
		/* Another fleet's prefix (control_fleet_identity.c): this host reads and writes none of it. */
		json_object_set_new(o, "name", json_string(f->conf.name));
		json_object_set_new(o, "joined", json_boolean(f->joined));
		if (f->join_refused)
			json_object_set_new(o, "join_refused", json_string(f->join_error));
	}
	pthread_mutex_unlock(&f->mu);
	return o;
}

json_t *control_fleet_status_json(struct control_fleet *f)
{
	return fleet_json(f, false);
}

/* The hosts' documents are read from the store when asked (keelctl fleet status), not kept fresh
 * by polling: with the store known down, or the fleet not joined, the last listing is shown. */
json_t *control_fleet_hosts_json(struct control_fleet *f)
{
	bool ask;

	pthread_mutex_lock(&f->mu);
	ask = f->joined && (f->store_up || !f->store_known);
	pthread_mutex_unlock(&f->mu);
	if (ask) {
		int rc;

		pthread_mutex_lock(&f->view_mu);
		rc = fleet_list_hosts(f, f->view_cli, true);
		if (rc)
			fleet_set_store(f, false, keel_etcd_errmsg(f->view_cli));
		pthread_mutex_unlock(&f->view_mu);
	}
	return fleet_json(f, true);
}

void control_fleet_metrics(struct control_fleet *f, FILE *out)
{
	pthread_mutex_lock(&f->mu);
	fprintf(out, "# HELP keel_fleet_revision Newest store revision of the fleet spec seen.\n"
		"# TYPE keel_fleet_revision gauge\nkeel_fleet_revision %lld\n",
		(long long)f->seen);
	fprintf(out, "# HELP keel_fleet_applied_revision Store revision of the fleet spec this host runs.\n"
		"# TYPE keel_fleet_applied_revision gauge\nkeel_fleet_applied_revision %lld\n",
		(long long)f->applied);
	fprintf(out, "# HELP keel_fleet_store_up 1 while the fleet store (etcd) answers.\n"
		"# TYPE keel_fleet_store_up gauge\nkeel_fleet_store_up %d\n", f->store_up ? 1 : 0);
	fprintf(out, "# HELP keel_fleet_hosts_live Hosts with a live status key in the store.\n"
		"# TYPE keel_fleet_hosts_live gauge\nkeel_fleet_hosts_live %lld\n",
		(long long)f->hosts_live);
	fprintf(out, "# HELP keel_fleet_join_refused 1 while this host refuses to join: its prefix belongs to another fleet.\n"
		"# TYPE keel_fleet_join_refused gauge\nkeel_fleet_join_refused %d\n", f->join_refused ? 1 : 0);
	fprintf(out, "# HELP keel_fleet_refused_total Fleet spec revisions refused by this host.\n"
		"# TYPE keel_fleet_refused_total counter\nkeel_fleet_refused_total %llu\n",
		(unsigned long long)f->refused_total);
	fprintf(out, "# HELP keel_fleet_config_fingerprint The running fleet spec's fingerprint (48 bits).\n"
		"# TYPE keel_fleet_config_fingerprint gauge\nkeel_fleet_config_fingerprint{host=\"%s\"} %llu\n",
		f->conf.host, (unsigned long long)(f->fingerprint & (uint64_t)0xffffffffffff));
	pthread_mutex_unlock(&f->mu);
}

json_t *control_fleet_json(struct keel_control *c)
{
	if (!c->fleet) {
		errno = ENOENT;
		return NULL;
	}
	return control_fleet_hosts_json(c->fleet);
}
