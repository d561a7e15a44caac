/* Following the fleet spec (control_fleet.h): list, then watch; each revision applied whole, or refused. */
#include "control_fleet_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "config.h"
#include "control_priv.h"
#include "log.h"
#include "state.h"

int fleet_merge_edit(const struct keel_config *cur, struct keel_config **next, void *arg, char *why,
		      size_t whylen)
{
	struct fleet_merge_arg *m = arg;
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
	struct fleet_merge_arg m;
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
	rc = control_edit_local(c, fleet_merge_edit, &m, CONTROL_APPLY_FORCE, NULL, why, sizeof(why));
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
		f->fingerprint = fleet_fnv1a(text);
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
	f->follow_ok_ms = control_now_ms();
	pthread_mutex_unlock(&f->mu);
}

static int watch_cb(void *arg, const struct keel_etcd_watch_resp *r)
{
	struct control_fleet *f = arg;

	fleet_set_store(f, true, "");
	for (size_t i = 0; i < r->n_events; i++) {
		const struct keel_etcd_event *e = &r->events[i];

		if (e->is_delete)
			refuse(f, e->kv.mod_revision, "the fleet spec was deleted from the store");
		else
			consider(f, e->kv.value, e->kv.value_len, e->kv.mod_revision);
	}
	follow_ok(f);
	return fleet_stopping(f);
}

void *fleet_follow_main(void *arg)
{
	struct control_fleet *f = arg;

	while (!fleet_stopping(f)) {
		struct keel_etcd_watch_opts w = { .key = f->spec_key, .progress_notify = true,
						  .idle_timeout_ms = f->conf.watch_idle_ms };
		struct keel_etcd_watch_end end = { 0 };
		struct keel_etcd_range r;
		int rc;

		/* Nothing of the prefix is read before it is known to be this host's fleet's. */
		if ((rc = fleet_join(f))) {
			fleet_nap(f, rc == -EXDEV ? FLEET_JOIN_RECHECK_MS :
				  rc == -EACCES ? FLEET_DENIED_MS : FLEET_RETRY_MS);
			continue;
		}
		/* Linearizable: a member cut from the others does not answer with an old spec. */
		rc = keel_etcd_range(f->follow_cli, f->spec_key, 0, 0, &r);
		if (rc) {
			fleet_set_store(f, false, keel_etcd_errmsg(f->follow_cli));
			fleet_nap(f, rc == -EACCES ? FLEET_DENIED_MS : FLEET_RETRY_MS);
			continue;
		}
		fleet_set_store(f, true, "");
		if (r.n)
			consider(f, r.kvs[0].value, r.kvs[0].value_len, r.kvs[0].mod_revision);
		follow_ok(f); /* after consider: what the store held is applied (or refused) */
		w.start_revision = r.revision + 1;
		keel_etcd_range_free(&r);
		rc = keel_etcd_watch(f->follow_cli, &w, watch_cb, f, &end);
		if (fleet_stopping(f))
			break;
		/* Compacted, cancelled, silent or broken: list again (the list is the truth). */
		log_event(LOG_WARN, "fleet_watch_restart", "reason=%s last_revision=%lld",
			  rc == -ESTALE ? "compacted" : rc ? keel_etcd_errmsg(f->follow_cli) : "ended",
			  (long long)end.last_revision);
		if (rc && rc != -ESTALE)
			fleet_set_store(f, false, keel_etcd_errmsg(f->follow_cli));
		fleet_nap(f, 200);
	}
	return NULL;
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
