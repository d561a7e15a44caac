/*
 * SIGHUP in single-host mode (issue 21 item 6): the file is applied as
 * `keelctl config apply` would apply it, and it never drops an API edit
 * silently. Also the keys a running keel-control cannot change.
 *
 * The rule (docs/config.md "Reload"): keel-control remembers the file as it
 * last loaded it (STATE_DIR/file.json). What differs between that and the
 * running configuration was changed through the API since. A reload that
 * would undo any of it (a VIP, or the settings outside vips:, edited through
 * the API and different again in the file) is refused without force, with
 * the VIPs named; otherwise the file goes through the same path as an apply:
 * validated, previewed, refused over the max-move limit or when it empties
 * a VIP. Every outcome is one log line, the applied one saying what changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "config_field.h"
#include "control.h"
#include "control_priv.h"
#include "control_fleet.h"
#include "log.h"
#include "state.h"

#define FILE_BASE "file.json"
#define FILE_BASE_VERSION 1
#define LIST_MAX 400 /* bytes of one name list in a log line or a reason */

/* --- keys read only at start ------------------------------------------------------ */

static const char *listen_text(const uint8_t addr[16], uint8_t family, uint16_t port, char *buf,
			       size_t len)
{
	char a[CONFIG_TEXT_MAX];

	if (!port)
		return "off";
	config_format_addr(addr, family, a);
	snprintf(buf, len, family == KEEL_AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

int control_restart_only(const struct keel_config *cur, const struct keel_config *next, char *why,
			 size_t whylen)
{
	char a[80], b[80];
	const char *key = NULL, *was = NULL, *now = NULL;

	if (strcmp(cur->instance, next->instance)) {
		key = "instance";
		was = cur->instance;
		now = next->instance;
	} else if (strcmp(cur->api_socket, next->api_socket)) {
		key = "api.socket";
		was = cur->api_socket;
		now = next->api_socket;
	} else if (strcmp(cur->api_group, next->api_group)) {
		key = "api.group";
		was = cur->api_group;
		now = next->api_group;
	} else if (strcmp(cur->api_admin_group, next->api_admin_group)) {
		key = "api.admin_group";
		was = cur->api_admin_group;
		now = next->api_admin_group;
	} else if (cur->metrics_port != next->metrics_port ||
		   (cur->metrics_port && (cur->metrics_family != next->metrics_family ||
					  memcmp(cur->metrics_addr, next->metrics_addr, 16)))) {
		key = "metrics.listen";
		was = listen_text(cur->metrics_addr, cur->metrics_family, cur->metrics_port, a, sizeof(a));
		now = listen_text(next->metrics_addr, next->metrics_family, next->metrics_port, b,
				  sizeof(b));
	}
	if (!key)
		return 0;
	/* Applied, it would say "applied" and change nothing: the dataplane, socket and listener are bound at start. */
	snprintf(why, whylen,
		 "refused: %s is read only at start (running \"%s\", asked \"%s\"); change it in the "
		 "file and restart keel-control",
		 key, was, now);
	return -EINVAL;
}

/* --- the configuration in units: the settings outside vips:, and each VIP by name --- */

struct units {
	json_t *root;     /* config_to_json */
	json_t *settings; /* root without "vips" */
	json_t *vips;     /* name -> VIP, its backends as address -> backend */
};

static void units_free(struct units *u)
{
	json_decref(u->root);
	json_decref(u->settings);
	json_decref(u->vips);
	memset(u, 0, sizeof(*u));
}

/* Backends by address: a backend added through the API and listed elsewhere in the file is the same. */
static int units_of(const struct keel_config *cfg, struct units *u)
{
	json_t *v, *b;
	size_t i, j;

	memset(u, 0, sizeof(*u));
	if (!cfg)
		return 0;
	u->root = config_to_json(cfg);
	u->settings = u->root ? json_deep_copy(u->root) : NULL;
	u->vips = json_object();
	if (!u->settings || !u->vips)
		goto oom;
	json_object_del(u->settings, "vips");
	json_array_foreach(json_object_get(u->root, "vips"), i, v) {
		json_t *copy = json_deep_copy(v), *by = json_object();

		if (!copy || !by) {
			json_decref(copy);
			json_decref(by);
			goto oom;
		}
		json_array_foreach(json_object_get(v, "backends"), j, b)
			json_object_set(by, json_string_value(json_object_get(b, "address")), b);
		json_object_set_new(copy, "backends", by);
		json_object_set_new(u->vips, json_string_value(json_object_get(v, "name")), copy);
	}
	return 0;
oom:
	units_free(u);
	return -ENOMEM;
}

static bool same(json_t *a, json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

/* Append "item" to a comma list, "+N more" once it is full. */
static void list_add(char *list, size_t len, unsigned int *n, const char *item)
{
	size_t used = strlen(list);

	(*n)++;
	if (used + strlen(item) + 16 < len) {
		snprintf(list + used, len - used, "%s%s", used ? "," : "", item);
		return;
	}
	if (!strstr(list, ",..."))
		snprintf(list + used, len - used, ",...");
}

/*
 * Units edited since base (base NULL: unknown, so every one that differs
 * counts) that the file would undo. lost gets "web (changed),api (added)".
 */
static unsigned int lost_edits(struct units *base, struct units *run, struct units *file,
			       char *lost, size_t len)
{
	const char *name;
	unsigned int n = 0;
	json_t *all = json_object(), *x;
	char item[CONFIG_NAME_MAX + 32];

	lost[0] = '\0';
	if (!all)
		return 0;
	if ((!base->root || !same(base->settings, run->settings)) &&
	    !same(file->settings, run->settings))
		list_add(lost, len, &n, "settings outside vips: (changed)");
	json_object_update(all, run->vips);
	json_object_update(all, file->vips);
	if (base->root)
		json_object_update(all, base->vips);
	json_object_foreach(all, name, x) {
		json_t *vb = base->root ? json_object_get(base->vips, name) : NULL;
		json_t *vr = json_object_get(run->vips, name);
		json_t *vf = json_object_get(file->vips, name);

		if (base->root && same(vb, vr))
			continue; /* not edited through the API: the file decides */
		if (same(vf, vr))
			continue; /* the file carries the edit */
		snprintf(item, sizeof(item), "%s (%s)", name,
			 !vr ? "removed" : !vb && base->root ? "added" : "changed");
		list_add(lost, len, &n, item);
	}
	json_decref(all);
	return n;
}

/* What a change does, as log fields: VIPs and backends added, removed, changed. */
struct change_summary {
	char vips_added[LIST_MAX], vips_removed[LIST_MAX], vips_changed[LIST_MAX];
	char backends_added[LIST_MAX], backends_removed[LIST_MAX], backends_changed[LIST_MAX];
	bool settings_changed;
	unsigned int n;
};

static void summarise(struct units *from, struct units *to, struct change_summary *s)
{
	const char *name, *addr;
	json_t *vf, *vt, *b;
	char item[CONFIG_NAME_MAX + 64];

	memset(s, 0, sizeof(*s));
	s->settings_changed = !same(from->settings, to->settings);
	json_object_foreach(from->vips, name, vf)
		if (!json_object_get(to->vips, name))
			list_add(s->vips_removed, LIST_MAX, &s->n, name);
	json_object_foreach(to->vips, name, vt) {
		json_t *bf, *bt, *rest_f, *rest_t;

		vf = json_object_get(from->vips, name);
		if (!vf) {
			list_add(s->vips_added, LIST_MAX, &s->n, name);
			continue;
		}
		if (json_equal(vf, vt))
			continue;
		bf = json_object_get(vf, "backends");
		bt = json_object_get(vt, "backends");
		json_object_foreach(bf, addr, b) {
			snprintf(item, sizeof(item), "%s/%s", name, addr);
			if (!json_object_get(bt, addr))
				list_add(s->backends_removed, LIST_MAX, &s->n, item);
			else if (!json_equal(b, json_object_get(bt, addr)))
				list_add(s->backends_changed, LIST_MAX, &s->n, item);
		}
		json_object_foreach(bt, addr, b)
			if (!json_object_get(bf, addr)) {
				snprintf(item, sizeof(item), "%s/%s", name, addr);
				list_add(s->backends_added, LIST_MAX, &s->n, item);
			}
		/* The VIP itself (address, port, checks...), apart from its backends. */
		rest_f = json_deep_copy(vf);
		rest_t = json_deep_copy(vt);
		if (rest_f && rest_t) {
			json_object_del(rest_f, "backends");
			json_object_del(rest_t, "backends");
			if (!json_equal(rest_f, rest_t))
				list_add(s->vips_changed, LIST_MAX, &s->n, name);
		}
		json_decref(rest_f);
		json_decref(rest_t);
	}
	s->n += s->settings_changed;
}

static const char *none(const char *s)
{
	return s[0] ? s : "-";
}

/* --- the file as last loaded, persisted -------------------------------------------- */

static int base_save(const char *dir, const struct keel_config *cfg, char *why, size_t whylen)
{
	json_t *root = json_pack("{s:i,s:o}", "version", FILE_BASE_VERSION, "config",
				 config_to_json(cfg));
	char *text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int ret;

	json_decref(root);
	if (!text) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	/* Written whole or not at all: a torn record would be read as "unknown", the safe side. */
	ret = state_write_file(dir, FILE_BASE, text, why, whylen);
	free(text);
	return ret;
}

static struct keel_config *base_load(const char *dir)
{
	struct config_error err = { 0 };
	struct keel_config *cfg = NULL;
	json_int_t version = 0;
	json_error_t jerr;
	char path[600];
	json_t *root;

	snprintf(path, sizeof(path), "%s/" FILE_BASE, dir);
	root = json_load_file(path, 0, &jerr);
	if (!root)
		return NULL;
	if (json_unpack(root, "{s:I}", "version", &version) || version != FILE_BASE_VERSION ||
	    config_from_json(json_object_get(root, "config"), path, &cfg, &err))
		log_event(LOG_WARN, "config_file_record_unusable", "path=%s reason=%s", path,
			  err.msg[0] ? err.msg : "not a version 1 record");
	json_decref(root);
	return cfg;
}

/* The file's record moves to cfg (taken); edit_mu is held. */
static void base_set(struct keel_control *c, struct keel_config *cfg)
{
	char err[256];

	if (base_save(c->state_dir, cfg, err, sizeof(err)))
		log_event(LOG_ERROR, "config_file_record_failed", "reason=%s", err);
	pthread_mutex_lock(&c->mu);
	config_free(c->file_base);
	c->file_base = cfg;
	c->applies_at_file = c->applies;
	pthread_mutex_unlock(&c->mu);
}

int control_reload_init(struct keel_control *c, bool first_start, char *why, size_t whylen)
{
	struct keel_config *base;

	if (first_start) {
		/* The state was just made from the file: the file and the running state are one. */
		base = config_copy(c->cfg);
		if (!base) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		if (base_save(c->state_dir, base, why, whylen)) {
			config_free(base);
			return -EIO;
		}
		c->file_base = base;
		return 0;
	}
	c->file_base = base_load(c->state_dir);
	if (!c->file_base && c->config_path[0]) {
		struct config_error err = { 0 };
		struct keel_config *file = NULL;

		/*
		 * No record (a state of an older keel-control). A file equal to what
		 * runs is the record; otherwise API edits cannot be told from file
		 * edits, and a reload that changes anything is refused until the two
		 * agree once (docs/config.md, Reload).
		 */
		if (!config_load_file(c->config_path, &file, &err) && config_equal(file, c->cfg) &&
		    !base_save(c->state_dir, file, why, whylen))
			c->file_base = file;
		else
			config_free(file);
		why[0] = '\0';
	}
	return 0;
}

/* --- reload ----------------------------------------------------------------------- */

int control_reload(struct keel_control *c, unsigned int flags, json_t **report, char *why,
		   size_t whylen)
{
	struct config_error err = { 0 };
	struct keel_config *next = NULL, *base = NULL;
	struct units ub = { 0 }, ur = { 0 }, uf = { 0 };
	struct change_summary *s = NULL;
	char lost[LIST_MAX] = "";
	bool dry = flags & CONTROL_APPLY_DRY_RUN;
	unsigned int n;
	int ret;

	if (report)
		*report = NULL;
	if (!c->config_path[0]) {
		snprintf(why, whylen, "no configuration file to reload (started without --config)");
		return -EINVAL;
	}
	if (config_load_file(c->config_path, &next, &err)) {
		snprintf(why, whylen, "%s", err.msg);
		ret = -EINVAL;
		goto refused_unlocked;
	}
	/*
	 * In a fleet the file holds this host's keys only and the spec is the store's:
	 * the file's host keys with the running spec, applied as they are.
	 */
	if (c->fleet) {
		if (control_fleet_rebase(c, &next, why, whylen)) {
			ret = -EINVAL;
			goto refused_unlocked;
		}
		return control_apply(c, next, flags | CONTROL_APPLY_FORCE, report, why, whylen);
	}
	pthread_mutex_lock(&c->edit_mu);
	if (config_equal(next, c->cfg)) {
		/* The file says what runs: API edits, if any, are in it now. */
		if (!dry)
			base_set(c, next);
		else
			config_free(next);
		pthread_mutex_lock(&c->mu);
		c->reloads_unchanged += !dry;
		pthread_mutex_unlock(&c->mu);
		/* The API contract's report (api/keel_api.h) by its encoder; "changes" (keelctl reads none) added after. */
		if (report && (*report = keel_api_report_encode(&(struct keel_api_report){
				       .dry_run = dry,
				       .has_changed = true,
				       .generation = (int64_t)c->generation,
				       .has_config_generation = true,
				       .config_generation = (int64_t)c->config_generation,
			       })))
			json_object_set_new(*report, "changes", json_string("none"));
		pthread_mutex_unlock(&c->edit_mu);
		log_event(LOG_INFO, "config_reload_unchanged", "file=%s generation=%llu",
			  c->config_path, (unsigned long long)c->config_generation);
		return 0;
	}
	s = calloc(1, sizeof(*s));
	/* units_of leaves a unit set empty on failure: freeing all three is always right. */
	if (!s || units_of(c->file_base, &ub) || units_of(c->cfg, &ur) || units_of(next, &uf)) {
		units_free(&ub);
		units_free(&ur);
		units_free(&uf);
		snprintf(why, whylen, "out of memory");
		ret = -ENOMEM;
		config_free(next);
		goto refused;
	}
	n = lost_edits(&ub, &ur, &uf, lost, sizeof(lost));
	summarise(&ur, &uf, s);
	units_free(&ub);
	units_free(&ur);
	units_free(&uf);
	if (n && !(flags & CONTROL_APPLY_FORCE)) {
		if (c->file_base)
			snprintf(why, whylen,
				 "refused: the file would undo %u change%s made through the API since it was "
				 "last loaded: %s; put them in the file (keelctl config dump), or apply the "
				 "file with keelctl config apply --force",
				 n, n == 1 ? "" : "s", lost);
		else
			snprintf(why, whylen,
				 "refused: no record of the file as last loaded (state of an older "
				 "keel-control), so changes made through the API cannot be told from the "
				 "file's: %s; check keelctl config diff FILE, then keelctl config apply "
				 "--force FILE",
				 lost);
		config_free(next);
		ret = -EPERM;
		goto refused;
	}
	base = dry ? NULL : config_copy(next);
	if (!dry && !base) {
		snprintf(why, whylen, "out of memory");
		config_free(next);
		ret = -ENOMEM;
		goto refused;
	}
	/* From here on it is an apply: preview, max-move, persist, publish. */
	ret = control_apply_locked(c, next, flags, CONTROL_IF_ANY, report, why, whylen);
	if (ret) {
		config_free(base);
		if (ret != -EPERM) { /* control_apply_locked counts what its preview refused */
			pthread_mutex_lock(&c->mu);
			c->refused++;
			pthread_mutex_unlock(&c->mu);
		}
		pthread_mutex_lock(&c->mu);
		c->reloads_refused++;
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_unlock(&c->edit_mu);
		goto log_refused;
	}
	if (report && *report)
		json_object_set_new(*report, "lost_api_changes", json_string(lost));
	if (!dry) {
		base_set(c, base);
		pthread_mutex_lock(&c->mu);
		c->reloads_applied++;
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&c->edit_mu);
	log_event(n ? LOG_WARN : LOG_INFO, dry ? "config_reload_dry_run" : "config_reloaded",
		  "file=%s generation=%llu forced=%s vips_added=%s vips_removed=%s vips_changed=%s "
		  "backends_added=%s backends_removed=%s backends_changed=%s settings_changed=%s "
		  "api_changes_undone=%s",
		  c->config_path, (unsigned long long)c->config_generation,
		  flags & CONTROL_APPLY_FORCE ? "yes" : "no", none(s->vips_added),
		  none(s->vips_removed), none(s->vips_changed), none(s->backends_added),
		  none(s->backends_removed), none(s->backends_changed),
		  s->settings_changed ? "yes" : "no", none(lost));
	free(s);
	return 0;

refused:
	pthread_mutex_lock(&c->mu);
	c->refused++;
	c->reloads_refused++;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->edit_mu);
	goto log_refused;
refused_unlocked:
	/* A refused file must show in monitoring, not only in the log. */
	pthread_mutex_lock(&c->mu);
	c->refused++;
	c->reloads_refused++;
	pthread_mutex_unlock(&c->mu);
	if (c->audit)
		audit_event(c->audit, c->generation, false, why, NULL, NULL);
log_refused:
	if (s && s->n)
		log_event(LOG_WARN, "reload_refused",
			  "kept=running reason=%s file=%s generation=%llu vips_added=%s vips_removed=%s "
			  "vips_changed=%s backends_added=%s backends_removed=%s backends_changed=%s",
			  why, c->config_path, (unsigned long long)c->config_generation,
			  none(s->vips_added), none(s->vips_removed), none(s->vips_changed),
			  none(s->backends_added), none(s->backends_removed), none(s->backends_changed));
	else
		log_event(LOG_WARN, "reload_refused", "kept=running reason=%s file=%s generation=%llu",
			  why, c->config_path, (unsigned long long)c->config_generation);
	free(s);
	return ret;
}

/* --- views ------------------------------------------------------------------------ */

uint64_t control_config_generation(struct keel_control *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->mu);
	g = c->config_generation;
	pthread_mutex_unlock(&c->mu);
	return g;
}

json_t *control_config_json_at(struct keel_control *c, uint64_t *config_generation)
{
	json_t *j;

	/* One lock for both: an ETag newer than the body would let a stale edit through. */
	pthread_mutex_lock(&c->mu);
	j = config_to_json(c->cfg);
	*config_generation = c->config_generation;
	pthread_mutex_unlock(&c->mu);
	return j;
}

void control_reload_metrics(struct keel_control *c, FILE *f)
{
	uint64_t a, u, r, since;
	bool known;

	/* mu is held by control_metrics. */
	a = c->reloads_applied;
	u = c->reloads_unchanged;
	r = c->reloads_refused;
	since = c->applies - c->applies_at_file;
	known = c->file_base != NULL;
	fprintf(f, "# HELP keel_config_reloads_total Reloads of the configuration file (SIGHUP), by result.\n"
		   "# TYPE keel_config_reloads_total counter\n");
	fprintf(f, "keel_config_reloads_total{result=\"applied\"} %" PRIu64 "\n", a);
	fprintf(f, "keel_config_reloads_total{result=\"unchanged\"} %" PRIu64 "\n", u);
	fprintf(f, "keel_config_reloads_total{result=\"refused\"} %" PRIu64 "\n", r);
	fprintf(f, "# HELP keel_config_api_changes_since_file Changes applied through the API since the "
		   "configuration file was last loaded (-1: no record of the file); a reload that would "
		   "undo them is refused.\n"
		   "# TYPE keel_config_api_changes_since_file gauge\n");
	fprintf(f, "keel_config_api_changes_since_file %lld\n", known ? (long long)since : -1LL);
}
