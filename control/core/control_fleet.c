/*
 * keel-control in a fleet: the store (etcd) holds the fleet spec at <prefix>/spec, one JSON document
 * (config_fleet_spec_json). Three clients, one per thread that uses it: the follower lists and
 * watches the spec and applies each revision whole (control_fleet_follow.c); the heart keeps this
 * host's lease and status key (<prefix>/hosts/<host>, and its last-known copy without a lease,
 * <prefix>/known/<host>) and lists the hosts (control_fleet_heart.c); edits (API threads, one at a
 * time) read, compute, preview and write with a compare on the spec's mod_revision
 * (control_fleet_edit.c). Nothing here waits for the store while holding the control's locks.
 * This file: the life cycle and the helpers the others share.
 */
#include "control_fleet_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "control_fleet_health.h"
#include "control_priv.h"
#include "log.h"
#include "state.h"

bool fleet_stopping(struct control_fleet *f)
{
	bool s;

	pthread_mutex_lock(&f->mu);
	s = f->stop;
	pthread_mutex_unlock(&f->mu);
	return s;
}

void fleet_nap(struct control_fleet *f, unsigned ms)
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

void fleet_set_store(struct control_fleet *f, bool up, const char *err)
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

void fleet_store_why(struct control_fleet *f, const char *err, int rc, char *why, size_t whylen)
{
	int64_t applied;

	pthread_mutex_lock(&f->mu);
	applied = f->applied;
	pthread_mutex_unlock(&f->mu);
	/* Wrong credentials do not go away by waiting: said as such, with the file to fix. */
	if (rc == -EACCES)
		snprintf(why, whylen, "the fleet store refused this host's credentials (%s; fleet."
			 "credentials_file %s, fleet.tls): edits are refused; this host goes on forwarding "
			 "revision %lld", err, f->conf.credentials_file[0] ? f->conf.credentials_file :
			 "not set", (long long)applied);
	else
		snprintf(why, whylen, "the fleet store is unreachable (%s): edits are refused; this host "
			 "goes on forwarding revision %lld", err, (long long)applied);
}

uint64_t fleet_fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
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
	snprintf(f->fleet_key, sizeof(f->fleet_key), "%s/fleet", f->conf.prefix);
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->edit_mu, NULL);
	pthread_mutex_init(&f->view_mu, NULL);
	{
		/* fleet_nap's deadlines are CLOCK_MONOTONIC: the condition must wait on that clock
		 * (the default, CLOCK_REALTIME, took every nap's deadline as long past, and the heart
		 * then called the store in a loop as fast as it answered). */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	/* What runs now is the last applied revision: forwarded at once, never waiting for the store. */
	f->applied = f->seen = state_load_revision(c->state_dir);
	run = config_fleet_spec_json(c->cfg);
	text = run ? json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(run);
	f->fingerprint = text ? fleet_fnv1a(text) : 0;
	free(text);
	if (read_credentials(f, why, whylen) ||
	    !(f->follow_cli = open_client(f, why, whylen)) ||
	    !(f->heart_cli = open_client(f, why, whylen)) ||
	    !(f->edit_cli = open_client(f, why, whylen)) ||
	    !(f->view_cli = open_client(f, why, whylen)) ||
	    /* The health watcher gets it once the fleet is joined (control_fleet_identity.c): until
	     * then the tables follow this host's own checks, as a single host's do. */
	    !(f->health_cli = open_client(f, why, whylen)))
		goto fail;
	c->fleet = f;
	if (pthread_create(&f->follow_thr, NULL, fleet_follow_main, f)) {
		snprintf(why, whylen, "cannot start the fleet follower");
		goto fail;
	}
	f->follow_started = true;
	if (pthread_create(&f->heart_thr, NULL, fleet_heart_main, f)) {
		snprintf(why, whylen, "cannot start the fleet status thread");
		goto fail;
	}
	f->heart_started = true;
	log_event(LOG_INFO, "fleet_started", "host=%s name=%s prefix=%s applied_revision=%lld",
		  f->conf.host, f->conf.name, f->conf.prefix, (long long)f->applied);
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
	keel_etcd_close(f->view_cli);
	keel_etcd_close(f->health_cli); /* never handed over: the fleet was not joined */
	json_decref(f->hosts);
	json_decref(f->gone);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->edit_mu);
	pthread_mutex_destroy(&f->view_mu);
	free(f);
}
