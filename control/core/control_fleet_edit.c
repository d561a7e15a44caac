/* Edits through the fleet store (control_fleet.h): computed on the newest spec, previewed, written with a compare-and-swap. */
#include "control_fleet_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control_priv.h"

static int store_refused(struct control_fleet *f, int err, char *why, size_t whylen)
{
	fleet_store_why(f, keel_etcd_errmsg(f->edit_cli), err, why, whylen);
	fleet_set_store(f, false, keel_etcd_errmsg(f->edit_cli));
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
	uint64_t deadline = control_now_ms() + f->conf.wait_ms, t0 = control_now_ms();
	json_t *pending = NULL, *applied = NULL;

	for (;;) {
		json_decref(pending);
		json_decref(applied);
		/* edit_cli is one thread's at a time: another edit may be using it. */
		pthread_mutex_lock(&f->edit_mu);
		fleet_list_hosts(f, f->edit_cli, false);
		pthread_mutex_unlock(&f->edit_mu);
		pending = pending_hosts(f, rev, &applied);
		pthread_mutex_lock(&f->mu);
		bool self = f->applied >= rev || f->refused_revision == rev;
		pthread_mutex_unlock(&f->mu);
		if ((self && !json_array_size(pending)) || control_now_ms() >= deadline)
			break;
		fleet_nap(f, 20);
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
	return control_now_ms() - t0;
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
	/* Nothing is written under another fleet's prefix (control_fleet_identity.c). */
	if ((rc = fleet_may_write(f, f->edit_cli, why, whylen))) {
		pthread_mutex_unlock(&f->edit_mu);
		if (rc == -ENOLINK)
			fleet_set_store(f, false, keel_etcd_errmsg(f->edit_cli));
		return rc;
	}
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
		if ((rc = keel_etcd_range(f->edit_cli, f->spec_key, 0, 0, &r))) {
			rc = store_refused(f, rc, why, whylen);
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
			rc = store_refused(f, rc, why, whylen);
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
int control_config_apply(struct keel_control *c, struct keel_config *next, unsigned int flags,
			 int64_t revision, uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	struct fleet_merge_arg m = { .origin = "config apply" };
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
	rc = control_fleet_edit(c->fleet, fleet_merge_edit, &m, flags, revision, report, why, whylen);
	json_decref(spec);
	return rc;
}
