/*
 * keel-control in a fleet: the store (etcd) holds the fleet spec at <prefix>/spec, one JSON document
 * (config_fleet_spec_json). Three clients, one per thread that uses it: the follower lists and
 * watches the spec and applies each revision whole; the heart keeps this host's lease and status key
 * (<prefix>/hosts/<host>, and its last-known copy without a lease, <prefix>/known/<host>) and
 * lists the hosts; edits (API threads, one at a time) read, compute,
 * preview and write with a compare on the spec's mod_revision. Nothing here waits for the store
 * while holding the control's locks.
 */
#include "control_fleet.h"
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "config_fleet.h"
#include "control_bgp.h"
#include "control_fleet_health.h"
#include "control_priv.h"
#include "etcd.h"
#include "log.h"
#include "state.h"

#define FLEET_EDIT_TRIES 8     /* a typed edit re-based this many times on a busy spec */
#define FLEET_HEART_MS 1000    /* status and hosts refreshed at least this often */
#define FLEET_VERSION "0.1.0"

struct control_fleet {
	struct keel_control *c;
	struct config_fleet conf;
	char spec_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char hosts_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char known_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char known_host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char user[128], password[256];
	struct keel_etcd *follow_cli, *heart_cli, *edit_cli;
	struct fleet_health *health; /* the fleet's verdicts (control_fleet_health.c) */
	pthread_t follow_thr, heart_thr;
	bool follow_started, heart_started;
	pthread_mutex_t edit_mu; /* one edit of this host at a time (edit_cli) */

	pthread_mutex_t mu;      /* everything below */
	pthread_cond_t cv;       /* applied moved, status changed, stop */
	bool stop;
	bool status_dirty;
	int64_t applied;         /* store revision of the running spec (persisted) */
	int64_t seen;            /* newest spec revision seen in the store */
	bool store_up;
	bool store_known;        /* store_up has been set once (the first state is logged too) */
	char store_error[256];
	uint64_t refused_total, applies;
	int64_t refused_revision;
	char last_refusal[512];
	uint64_t fingerprint;    /* FNV-1a of the running spec's canonical text */
	json_t *hosts;           /* {host: status} of the last listing (live hosts only: leased) */
	json_t *gone;            /* {host: last-known status} of hosts without a live key */
	/* Cut from the store: no lease kept for lease_ttl (the fleet counts this host as gone); the
	 * BGP announcements are lowered (degraded) until the follower has listed the store again. */
	bool store_lost;
	uint64_t lost_at_ms;     /* when store_lost was set */
	uint64_t follow_ok_ms;   /* the follower's last list or watch answer */
};

static uint64_t now_ms(void)
{
	return control_now_ms();
}

static bool stopping(struct control_fleet *f)
{
	bool s;

	pthread_mutex_lock(&f->mu);
	s = f->stop;
	pthread_mutex_unlock(&f->mu);
	return s;
}

/* Sleep up to ms, or less if stopped or poked. */
static void nap(struct control_fleet *f, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->mu);
	if (!f->stop && !f->status_dirty)
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
	pthread_mutex_unlock(&f->mu);
}

static void set_store(struct control_fleet *f, bool up, const char *err)
{
	bool was, known;

	pthread_mutex_lock(&f->mu);
	was = f->store_up;
	known = f->store_known;
	f->store_known = true;
	f->store_up = up;
	snprintf(f->store_error, sizeof(f->store_error), "%s", up ? "" : err);
	pthread_mutex_unlock(&f->mu);
	if (!up)
		fleet_health_store_lost(f->health);
	if (was != up || !known)
		log_event(up ? LOG_INFO : LOG_ERROR, up ? "fleet_store_up" : "fleet_store_down", "reason=%s",
			  up ? "answered" : err);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* --- following the spec -------------------------------------------------------------- */

struct merge_arg {
	const json_t *spec;
	char origin[64];
};

static int merge_edit(const struct keel_config *cur, struct keel_config **next, void *arg, char *why,
		      size_t whylen)
{
	struct merge_arg *m = arg;
	struct config_error err = { .msg = "" };
	int rc = config_fleet_merge(cur, m->spec, m->origin, next, &err);

	if (rc)
		snprintf(why, whylen, "%s", err.msg);
	return rc;
}

static void refuse(struct control_fleet *f, int64_t rev, const char *reason)
{
	pthread_mutex_lock(&f->mu);
	f->refused_total++;
	f->refused_revision = rev;
	snprintf(f->last_refusal, sizeof(f->last_refusal), "revision %lld: %s", (long long)rev, reason);
	f->status_dirty = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	log_event(LOG_ERROR, "fleet_refused", "revision=%lld running=%lld reason=%s", (long long)rev,
		  (long long)f->applied, reason);
}

/* The spec of revision rev (value of len bytes): apply it whole, or refuse it and keep the last good. */
static void consider(struct control_fleet *f, const char *value, size_t len, int64_t rev)
{
	struct keel_control *c = f->c;
	struct merge_arg m;
	json_error_t je;
	char why[512] = "", err[256];
	json_t *spec, *run;
	char *text;
	int rc;

	pthread_mutex_lock(&f->mu);
	if (rev > f->seen)
		f->seen = rev;
	if (rev <= f->applied || rev == f->refused_revision) {
		pthread_mutex_unlock(&f->mu);
		return;
	}
	pthread_mutex_unlock(&f->mu);
	spec = json_loadb(value, len, JSON_REJECT_DUPLICATES, &je);
	if (!spec) {
		snprintf(why, sizeof(why), "the fleet spec is not JSON: line %d: %s", je.line, je.text);
		refuse(f, rev, why);
		return;
	}
	m.spec = spec;
	snprintf(m.origin, sizeof(m.origin), "fleet spec revision %lld", (long long)rev);
	/* The edit was guarded where it was made: every host runs it as it is (force). */
	{
		char src[32]; /* the log keeps 15 characters: revisions up to 10^8 whole */

		/* The audit log names the revision (the editor is in the host that made the edit's log). */
		snprintf(src, sizeof(src), "fleet r%lld", (long long)rev);
		audit_actor_set(src, -1, -1);
	}
	rc = control_edit_local(c, merge_edit, &m, CONTROL_APPLY_FORCE, NULL, why, sizeof(why));
	audit_actor_clear();
	json_decref(spec);
	if (rc) {
		refuse(f, rev, why[0] ? why : strerror(-rc));
		return;
	}
	if (state_save_revision(c->state_dir, rev, err, sizeof(err)))
		log_event(LOG_ERROR, "fleet_revision_not_saved", "revision=%lld reason=%s", (long long)rev,
			  err);
	pthread_mutex_lock(&c->mu);
	run = config_fleet_spec_json(c->cfg);
	pthread_mutex_unlock(&c->mu);
	text = run ? json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(run);
	pthread_mutex_lock(&f->mu);
	f->applied = rev;
	f->applies++;
	if (text)
		f->fingerprint = fnv1a(text);
	f->status_dirty = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	free(text);
	log_event(LOG_INFO, "fleet_applied", "revision=%lld generation=%llu", (long long)rev,
		  (unsigned long long)c->generation);
}

static void follow_ok(struct control_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	f->follow_ok_ms = now_ms();
	pthread_mutex_unlock(&f->mu);
}

static int watch_cb(void *arg, const struct keel_etcd_watch_resp *r)
{
	struct control_fleet *f = arg;

	set_store(f, true, "");
	for (size_t i = 0; i < r->n_events; i++) {
		const struct keel_etcd_event *e = &r->events[i];

		if (e->is_delete)
			refuse(f, e->kv.mod_revision, "the fleet spec was deleted from the store");
		else
			consider(f, e->kv.value, e->kv.value_len, e->kv.mod_revision);
	}
	follow_ok(f);
	return stopping(f);
}

static void *follow_main(void *arg)
{
	struct control_fleet *f = arg;

	while (!stopping(f)) {
		struct keel_etcd_watch_opts w = { .key = f->spec_key, .progress_notify = true,
						  .idle_timeout_ms = f->conf.watch_idle_ms };
		struct keel_etcd_watch_end end = { 0 };
		struct keel_etcd_range r;
		int rc;

		/* Linearizable: a member cut from the others does not answer with an old spec. */
		rc = keel_etcd_range(f->follow_cli, f->spec_key, 0, 0, &r);
		if (rc) {
			set_store(f, false, keel_etcd_errmsg(f->follow_cli));
			nap(f, 1000);
			continue;
		}
		set_store(f, true, "");
		if (r.n)
			consider(f, r.kvs[0].value, r.kvs[0].value_len, r.kvs[0].mod_revision);
		follow_ok(f); /* after consider: what the store held is applied (or refused) */
		w.start_revision = r.revision + 1;
		keel_etcd_range_free(&r);
		rc = keel_etcd_watch(f->follow_cli, &w, watch_cb, f, &end);
		if (stopping(f))
			break;
		/* Compacted, cancelled, silent or broken: list again (the list is the truth). */
		log_event(LOG_WARN, "fleet_watch_restart", "reason=%s last_revision=%lld",
			  rc == -ESTALE ? "compacted" : rc ? keel_etcd_errmsg(f->follow_cli) : "ended",
			  (long long)end.last_revision);
		if (rc && rc != -ESTALE)
			set_store(f, false, keel_etcd_errmsg(f->follow_cli));
		nap(f, 200);
	}
	return NULL;
}

/* --- this host's status, the hosts ------------------------------------------------------ */

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

static void list_hosts(struct control_fleet *f, struct keel_etcd *cli)
{
	struct keel_etcd_range r, k;
	json_t *hosts, *gone;

	if (keel_etcd_range(cli, f->hosts_key, KEEL_ETCD_PREFIX, 0, &r))
		return;
	/* The last-known records at the same revision: a host without a live key but with one is
	 * gone (its lease expired: dead, or cut from the store), and its lag still shows. */
	if (keel_etcd_range(cli, f->known_key, KEEL_ETCD_PREFIX, r.revision, &k)) {
		keel_etcd_range_free(&r);
		return;
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
	json_decref(f->gone);
	f->hosts = hosts;
	f->gone = gone;
	pthread_mutex_unlock(&f->mu);
}

/* Cut from the store for longer than the lease (the others count this host as gone): lower the
 * announcements; lift them once the store answers and the follower has listed it since. */
static void watch_store_lost(struct control_fleet *f, bool ok, uint64_t last_ok_ms)
{
	bool lost, changed = false;
	uint64_t now = now_ms();

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

static void *heart_main(void *arg)
{
	struct control_fleet *f = arg;
	int64_t lease = 0, ttl = (f->conf.lease_ttl_ms + 999) / 1000;
	int64_t granted = 0, put_rev = 0;
	uint64_t kept_ms = 0, ok_ms = now_ms();
	char *last = NULL;

	while (!stopping(f)) {
		json_t *st;
		char *text;
		int rc = 0;

		pthread_mutex_lock(&f->mu);
		f->status_dirty = false;
		pthread_mutex_unlock(&f->mu);
		if (!lease) {
			rc = keel_etcd_lease_grant(f->heart_cli, ttl, &lease, &granted);
			kept_ms = now_ms();
			free(last);
			last = NULL; /* a new lease: the key must be written under it */
		} else if (now_ms() - kept_ms >= f->conf.lease_ttl_ms / 3) {
			rc = keel_etcd_lease_keepalive(f->heart_cli, lease, &granted);
			if (rc == -ENOENT)
				lease = 0;
			else if (!rc)
				kept_ms = now_ms();
		}
		if (rc) {
			set_store(f, false, keel_etcd_errmsg(f->heart_cli));
			watch_store_lost(f, false, ok_ms);
			nap(f, FLEET_HEART_MS);
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
			list_hosts(f, f->heart_cli);
			ok_ms = now_ms();
		}
		set_store(f, !rc, rc ? keel_etcd_errmsg(f->heart_cli) : "");
		watch_store_lost(f, !rc, ok_ms);
		nap(f, FLEET_HEART_MS);
	}
	if (lease)
		keel_etcd_lease_revoke(f->heart_cli, lease); /* a clean stop leaves the fleet at once */
	free(last);
	return NULL;
}

void control_fleet_poke(struct control_fleet *f)
{
	pthread_mutex_lock(&f->mu);
	f->status_dirty = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* --- life cycle ------------------------------------------------------------------------ */

static int read_credentials(struct control_fleet *f, char *why, size_t whylen)
{
	char line[400], *colon;
	FILE *in;

	if (!f->conf.credentials_file[0])
		return 0;
	in = fopen(f->conf.credentials_file, "re");
	if (!in) {
		snprintf(why, whylen, "fleet credentials_file %s: %s", f->conf.credentials_file,
			 strerror(errno));
		return -EINVAL;
	}
	if (!fgets(line, sizeof(line), in))
		line[0] = 0;
	fclose(in);
	line[strcspn(line, "\r\n")] = 0;
	colon = strchr(line, ':');
	if (!colon || colon == line || strlen(line) >= sizeof(f->user)) {
		snprintf(why, whylen, "fleet credentials_file %s: one line \"user:password\" expected",
			 f->conf.credentials_file);
		return -EINVAL;
	}
	*colon = 0;
	snprintf(f->user, sizeof(f->user), "%s", line);
	snprintf(f->password, sizeof(f->password), "%s", colon + 1);
	return 0;
}

static struct keel_etcd *open_client(struct control_fleet *f, char *why, size_t whylen)
{
	struct keel_etcd_opts o = { .timeout_ms = f->conf.timeout_ms };

	for (uint32_t i = 0; i < f->conf.n_endpoints; i++)
		o.endpoints[o.n_endpoints++] = f->conf.endpoints[i];
	o.connect_timeout_ms = f->conf.timeout_ms / 3;
	o.ca_file = f->conf.ca_file[0] ? f->conf.ca_file : NULL;
	o.cert_file = f->conf.cert_file[0] ? f->conf.cert_file : NULL;
	o.key_file = f->conf.key_file[0] ? f->conf.key_file : NULL;
	o.user = f->user[0] ? f->user : NULL;
	o.password = f->user[0] ? f->password : NULL;
	return keel_etcd_open(&o, why, whylen);
}

int control_fleet_start(struct keel_control *c, char *why, size_t whylen)
{
	struct control_fleet *f = calloc(1, sizeof(*f));
	json_t *run;
	char *text;

	if (!f) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	f->c = c;
	f->conf = c->cfg->fleet;
	snprintf(f->spec_key, sizeof(f->spec_key), "%s/spec", f->conf.prefix);
	snprintf(f->hosts_key, sizeof(f->hosts_key), "%s/hosts/", f->conf.prefix);
	snprintf(f->host_key, sizeof(f->host_key), "%s/hosts/%s", f->conf.prefix, f->conf.host);
	snprintf(f->known_key, sizeof(f->known_key), "%s/known/", f->conf.prefix);
	snprintf(f->known_host_key, sizeof(f->known_host_key), "%s/known/%s", f->conf.prefix,
		 f->conf.host);
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->edit_mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	/* What runs now is the last applied revision: forwarded at once, never waiting for the store. */
	f->applied = f->seen = state_load_revision(c->state_dir);
	run = config_fleet_spec_json(c->cfg);
	text = run ? json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(run);
	f->fingerprint = text ? fnv1a(text) : 0;
	free(text);
	if (read_credentials(f, why, whylen) ||
	    !(f->follow_cli = open_client(f, why, whylen)) ||
	    !(f->heart_cli = open_client(f, why, whylen)) ||
	    !(f->edit_cli = open_client(f, why, whylen)))
		goto fail;
	{
		struct keel_etcd *hcli = open_client(f, why, whylen);

		if (!hcli || !(f->health = fleet_health_start(c, &f->conf, hcli, why, whylen)))
			goto fail;
	}
	c->fleet = f;
	c->fleet_health = f->health;
	if (pthread_create(&f->follow_thr, NULL, follow_main, f)) {
		snprintf(why, whylen, "cannot start the fleet follower");
		goto fail;
	}
	f->follow_started = true;
	if (pthread_create(&f->heart_thr, NULL, heart_main, f)) {
		snprintf(why, whylen, "cannot start the fleet status thread");
		goto fail;
	}
	f->heart_started = true;
	log_event(LOG_INFO, "fleet_started", "host=%s prefix=%s applied_revision=%lld", f->conf.host,
		  f->conf.prefix, (long long)f->applied);
	return 0;
fail:
	control_fleet_stop(f);
	c->fleet = NULL;
	c->fleet_health = NULL;
	return -EINVAL;
}

void control_fleet_stop(struct control_fleet *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->follow_cli)
		keel_etcd_watch_stop(f->follow_cli);
	if (f->follow_started)
		pthread_join(f->follow_thr, NULL);
	if (f->heart_started)
		pthread_join(f->heart_thr, NULL);
	/* After the heart (it writes this host's verdicts); the control stops using it with us. */
	if (f->health && f->c->fleet_health == f->health)
		f->c->fleet_health = NULL;
	fleet_health_stop(f->health);
	keel_etcd_close(f->follow_cli);
	keel_etcd_close(f->heart_cli);
	keel_etcd_close(f->edit_cli);
	json_decref(f->hosts);
	json_decref(f->gone);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->edit_mu);
	free(f);
}

/* --- edits ------------------------------------------------------------------------------ */

static int store_refused(struct control_fleet *f, char *why, size_t whylen)
{
	snprintf(why, whylen, "the fleet store is unreachable (%s): edits are refused; this host goes "
		 "on forwarding revision %lld", keel_etcd_errmsg(f->edit_cli), (long long)f->applied);
	set_store(f, false, keel_etcd_errmsg(f->edit_cli));
	return -ENOLINK;
}

/* The live hosts that have not applied rev (a JSON array); NULL: all have. */
static json_t *pending_hosts(struct control_fleet *f, int64_t rev, json_t **applied)
{
	json_t *pending = json_array(), *v;
	const char *name;

	*applied = json_object();
	pthread_mutex_lock(&f->mu);
	json_object_foreach(f->hosts, name, v) {
		json_int_t r = json_integer_value(json_object_get(v, "applied_revision"));

		json_object_set_new(*applied, name, json_integer(r));
		if (r < rev)
			json_array_append_new(pending, json_string(name));
	}
	pthread_mutex_unlock(&f->mu);
	return pending;
}

/* Wait (bounded) for this host, then every live host, to run rev: r's converged, pending and hosts; the ms waited. */
static uint64_t wait_hosts(struct control_fleet *f, int64_t rev, struct keel_api_report *r)
{
	uint64_t deadline = now_ms() + f->conf.wait_ms, t0 = now_ms();
	json_t *pending = NULL, *applied = NULL;

	for (;;) {
		json_decref(pending);
		json_decref(applied);
		/* edit_cli is one thread's at a time: another edit may be using it. */
		pthread_mutex_lock(&f->edit_mu);
		list_hosts(f, f->edit_cli);
		pthread_mutex_unlock(&f->edit_mu);
		pending = pending_hosts(f, rev, &applied);
		pthread_mutex_lock(&f->mu);
		bool self = f->applied >= rev || f->refused_revision == rev;
		pthread_mutex_unlock(&f->mu);
		if ((self && !json_array_size(pending)) || now_ms() >= deadline)
			break;
		nap(f, 20);
	}
	{
		const char *name;
		json_t *v;
		size_t i;

		/* What a decoded report had (a dry run's: none) is replaced. */
		free(r->pending);
		free(r->hosts);
		free(r->host_revisions);
		r->n_pending = r->n_hosts = 0;
		r->has_converged = true;
		r->converged = !json_array_size(pending);
		r->pending = calloc(json_array_size(pending) + 1, sizeof(*r->pending));
		r->has_hosts = true;
		r->hosts = calloc(json_object_size(applied) + 1, sizeof(*r->hosts));
		r->host_revisions = calloc(json_object_size(applied) + 1, sizeof(*r->host_revisions));
		json_array_foreach(pending, i, v)
			if (r->pending)
				snprintf(r->pending[r->n_pending++], sizeof(r->pending[0]), "%s",
					 json_string_value(v));
		json_object_foreach(applied, name, v)
			if (r->hosts && r->host_revisions) {
				snprintf(r->hosts[r->n_hosts], sizeof(r->hosts[0]), "%s", name);
				r->host_revisions[r->n_hosts++] = json_integer_value(v);
			}
	}
	json_decref(pending);
	json_decref(applied);
	return now_ms() - t0;
}

int control_fleet_edit(struct control_fleet *f, control_fleet_edit_fn edit, void *arg,
		       unsigned int flags, int64_t expect_revision, json_t **report, char *why,
		       size_t whylen)
{
	struct keel_control *c = f->c;
	json_t *rep = NULL;
	int64_t rev = 0;
	int rc = 0, tries;

	pthread_mutex_lock(&f->edit_mu);
	for (tries = 0; tries < FLEET_EDIT_TRIES; tries++) {
		struct config_error err = { .msg = "" };
		struct keel_config *base = NULL, *next = NULL;
		struct keel_etcd_range r;
		json_t *spec = NULL, *nspec;
		int64_t mod = 0;
		char *text;
		bool ok = false;

		json_decref(rep);
		rep = NULL;
		if (keel_etcd_range(f->edit_cli, f->spec_key, 0, 0, &r)) {
			rc = store_refused(f, why, whylen);
			break;
		}
		if (r.n) {
			mod = r.kvs[0].mod_revision;
			spec = json_loadb(r.kvs[0].value, r.kvs[0].value_len, JSON_REJECT_DUPLICATES, NULL);
		}
		keel_etcd_range_free(&r);
		if (expect_revision && mod != (expect_revision < 0 ? 0 : expect_revision)) {
			json_decref(spec);
			snprintf(why, whylen, "changed at revision %lld since your diff (revision %lld); "
				 "run it again", (long long)mod,
				 (long long)(expect_revision < 0 ? 0 : expect_revision));
			rc = -ESTALE;
			break;
		}
		/* The base: this host's keys with the newest spec (the running one if the store has none). */
		pthread_mutex_lock(&c->mu);
		if (!spec && !mod)
			spec = config_fleet_spec_json(c->cfg);
		rc = spec ? config_fleet_merge(c->cfg, spec, "the fleet spec", &base, &err) : -EINVAL;
		pthread_mutex_unlock(&c->mu);
		json_decref(spec);
		if (rc) {
			snprintf(why, whylen, "the fleet spec at revision %lld does not validate (%s): fix it "
				 "with config apply", (long long)mod, err.msg[0] ? err.msg : "not JSON");
			break;
		}
		rc = edit(base, &next, arg, why, whylen);
		config_free(base);
		if (rc)
			break;
		nspec = config_fleet_spec_json(next);
		/* Previewed and guarded (max-move, emptied VIPs) on every try. */
		rc = control_apply(c, next, flags | CONTROL_APPLY_DRY_RUN, &rep, why, whylen);
		if (rc || (flags & CONTROL_APPLY_DRY_RUN)) {
			json_decref(nspec);
			break;
		}
		text = nspec ? json_dumps(nspec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(nspec);
		if (!text) {
			rc = -ENOMEM;
			break;
		}
		struct keel_etcd_cmp cmp = { .key = f->spec_key, .result = KEEL_ETCD_EQUAL,
					     .mod_revision = mod };
		struct keel_etcd_op op = { .type = KEEL_ETCD_OP_PUT, .key = f->spec_key, .value = text,
					   .value_len = strlen(text) };
		rc = keel_etcd_txn(f->edit_cli, &cmp, 1, &op, 1, &ok, &rev);
		free(text);
		if (rc) {
			rc = store_refused(f, why, whylen);
			if (keel_etcd_errmsg(f->edit_cli)[0] && rc == -ENOLINK)
				strncat(why, " (a write that timed out may still have been committed)",
					whylen - strlen(why) - 1);
			break;
		}
		if (ok)
			break;
		if (expect_revision) {
			snprintf(why, whylen, "changed since your diff (revision %lld); run it again",
				 (long long)(expect_revision < 0 ? 0 : expect_revision));
			rc = -ESTALE;
			break;
		}
		rc = -EBUSY; /* lost the race: re-base on the newest spec */
	}
	pthread_mutex_unlock(&f->edit_mu);
	if (rc == -EBUSY)
		snprintf(why, whylen, "the fleet spec changed under %d tries in a row: run it again",
			 FLEET_EDIT_TRIES);
	if (rc || (flags & CONTROL_APPLY_DRY_RUN)) {
		if (report)
			*report = rep;
		else
			json_decref(rep);
		return rc;
	}
	{
		/* The dry run's report, completed as the API contract's (api/keel_api.h) and encoded by it; "tries" and "wait_ms" (keelctl reads neither) added after. */
		struct keel_api_report r;
		uint64_t waited = 0;

		if (!rep || keel_api_report_decode(rep, &r))
			memset(&r, 0, sizeof(r));
		json_decref(rep);
		r.applied = true;
		r.dry_run = false;
		r.has_revision = true;
		r.revision = rev;
		if (!(flags & CONTROL_APPLY_NO_WAIT))
			waited = wait_hosts(f, rev, &r);
		pthread_mutex_lock(&c->mu);
		r.generation = (int64_t)c->generation;
		pthread_mutex_unlock(&c->mu);
		rep = keel_api_report_encode(&r);
		keel_api_report_free(&r);
		if (rep) {
			json_object_set_new(rep, "tries", json_integer(tries + 1));
			if (!(flags & CONTROL_APPLY_NO_WAIT))
				json_object_set_new(rep, "wait_ms", json_integer((json_int_t)waited));
		}
	}
	if (report)
		*report = rep;
	else
		json_decref(rep);
	return 0;
}

/* --- views ------------------------------------------------------------------------------ */

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
		json_object_set_new(o, "hosts_live", json_integer((json_int_t)json_object_size(f->hosts)));
	}
	pthread_mutex_unlock(&f->mu);
	return o;
}

json_t *control_fleet_status_json(struct control_fleet *f)
{
	return fleet_json(f, false);
}

json_t *control_fleet_hosts_json(struct control_fleet *f)
{
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
		"# TYPE keel_fleet_hosts_live gauge\nkeel_fleet_hosts_live %zu\n",
		json_object_size(f->hosts));
	fprintf(out, "# HELP keel_fleet_refused_total Fleet spec revisions refused by this host.\n"
		"# TYPE keel_fleet_refused_total counter\nkeel_fleet_refused_total %llu\n",
		(unsigned long long)f->refused_total);
	fprintf(out, "# HELP keel_fleet_config_fingerprint The running fleet spec's fingerprint (48 bits).\n"
		"# TYPE keel_fleet_config_fingerprint gauge\nkeel_fleet_config_fingerprint{host=\"%s\"} %llu\n",
		f->conf.host, (unsigned long long)(f->fingerprint & (uint64_t)0xffffffffffff));
	pthread_mutex_unlock(&f->mu);
}

/* --- entry points of control.h ---------------------------------------------------------- */

int control_config_apply(struct keel_control *c, struct keel_config *next, unsigned int flags,
			 int64_t revision, uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	struct merge_arg m = { .origin = "config apply" };
	json_t *spec;
	int rc;

	if (!c->fleet)
		return control_apply_if(c, next, flags, if_match, report, why, whylen);
	/* Its spec keys go to the store; its host keys are this host's business (keel.yaml). */
	spec = config_fleet_spec_json(next);
	config_free(next);
	if (!spec) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	m.spec = spec;
	/* A whole configuration replaces the spec: never re-based. Without a revision it was computed
	 * on what this host runs (-1: on no spec at all). */
	if (!revision) {
		pthread_mutex_lock(&c->fleet->mu);
		revision = c->fleet->applied ? c->fleet->applied : -1;
		pthread_mutex_unlock(&c->fleet->mu);
	}
	rc = control_fleet_edit(c->fleet, merge_edit, &m, flags, revision, report, why, whylen);
	json_decref(spec);
	return rc;
}

int control_fleet_rebase(struct keel_control *c, struct keel_config **next, char *why, size_t whylen)
{
	struct config_error err = { .msg = "" };
	struct keel_config *out = NULL;
	json_t *spec;
	int rc;

	pthread_mutex_lock(&c->mu);
	spec = config_fleet_spec_json(c->cfg);
	pthread_mutex_unlock(&c->mu);
	rc = spec ? config_fleet_merge(*next, spec, c->config_path, &out, &err) : -ENOMEM;
	json_decref(spec);
	config_free(*next);
	*next = NULL;
	if (rc) {
		snprintf(why, whylen, "%s", err.msg[0] ? err.msg : "out of memory");
		return -EINVAL;
	}
	*next = out;
	return 0;
}

json_t *control_fleet_json(struct keel_control *c)
{
	if (!c->fleet) {
		errno = ENOENT;
		return NULL;
	}
	return control_fleet_hosts_json(c->fleet);
}
