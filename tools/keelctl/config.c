/* keelctl config: check offline with keel-control's own validator; diff, apply and dump through the API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* control/config/config.h: the validator keel-control runs */
#include "keelctl.h"
#include "config_model.h"

/* Read at most CONFIG_MAX_FILE_BYTES: the daemon takes no more (docs/api.md). */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = CONFIG_MAX_FILE_BYTES + 1;

	if (!f) {
		fprintf(stderr, "keelctl: %s: %s\n", path, strerror(errno));
		return KEELCTL_DATAERR;
	}
	*buf = malloc(cap + 1);
	if (!*buf) {
		if (f != stdin)
			fclose(f);
		return KEELCTL_UNAVAILABLE;
	}
	*len = fread(*buf, 1, cap, f);
	if (f != stdin)
		fclose(f);
	if (*len == cap) {
		fprintf(stderr, "keelctl: %s: over the %u-byte limit of a configuration\n", path,
			CONFIG_MAX_FILE_BYTES);
		free(*buf);
		return KEELCTL_DATAERR;
	}
	(*buf)[*len] = '\0';
	return KEELCTL_OK;
}

/* JSON or YAML by the first character: a JSON configuration is an object. */
static const char *content_type(const char *buf)
{
	while (*buf == ' ' || *buf == '\t' || *buf == '\n' || *buf == '\r')
		buf++;
	return *buf == '{' ? "application/json" : "application/yaml";
}

/* Validate locally so a refusal names the file, line and column (the daemon would say "api:"). */
static int load_local(const char *path, const char *buf, size_t len, struct keel_config **cfg)
{
	struct config_error err = { .msg = "" };
	int rc = config_load_buffer(buf, len, strcmp(path, "-") ? path : "<stdin>", cfg, &err);

	if (rc) {
		fprintf(stderr, "keelctl: %s\n", err.msg[0] ? err.msg : strerror(-rc));
		return rc == -ENOMEM ? KEELCTL_UNAVAILABLE : KEELCTL_DATAERR;
	}
	return KEELCTL_OK;
}

static void local_warnings(const struct keel_config *cfg)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		fprintf(stderr, "keelctl: warning: %s\n", cfg->warnings[i]);
}

static int config_check(struct ctl *c, int argc, char **argv)
{
	struct config_error err = { .msg = "" };
	struct keel_config *cfg = NULL;
	char *pos[1];
	int n, rc;

	if ((rc = ctl_parse(c, &config_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&config_object, "config check: which FILE?");
	rc = config_load_file(pos[0], &cfg, &err);
	if (c->json) {
		json_t *w = json_array(), *o;

		for (size_t i = 0; cfg && i < cfg->n_warnings; i++)
			json_array_append_new(w, json_string(cfg->warnings[i]));
		o = rc ? json_pack("{s:b,s:s}", "valid", 0, "error", err.msg[0] ? err.msg : strerror(-rc)) :
			 json_pack("{s:b,s:o}", "valid", 1, "warnings", w);
		if (rc)
			json_decref(w);
		json_print(o);
		json_decref(o);
	}
	if (rc) {
		if (err.msg[0])
			fprintf(stderr, "keelctl: %s\n", err.msg);
		else
			fprintf(stderr, "keelctl: %s: %s\n", pos[0], strerror(-rc));
		return rc == -ENOMEM ? KEELCTL_UNAVAILABLE : KEELCTL_DATAERR;
	}
	if (!c->json)
		printf("%s: valid\n", pos[0]);
	local_warnings(cfg);
	config_free(cfg);
	return KEELCTL_OK;
}

/* --- diff: what the file changes, by path, and which slots move ----------------- */

/* An array element's identity: its "name" (VIPs) or "address" (backends), else its index. */
static const char *elem_key(json_t *e)
{
	const char *k = json_string_value(json_object_get(e, "name"));

	return k ? k : json_string_value(json_object_get(e, "address"));
}

static void add_change(json_t *changes, const char *path, json_t *before, json_t *after)
{
	json_t *o = json_pack("{s:s}", "path", path);

	json_object_set(o, "before", before ? before : json_null());
	json_object_set(o, "after", after ? after : json_null());
	json_array_append_new(changes, o);
}

static void diff_tree(json_t *changes, const char *path, json_t *a, json_t *b)
{
	char sub[1024];
	const char *k;
	json_t *v;
	size_t i, j;

	if (json_equal(a, b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		json_object_foreach(a, k, v) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			diff_tree(changes, sub, v, json_object_get(b, k));
		}
		json_object_foreach(b, k, v)
			if (!json_object_get(a, k)) {
				snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
				add_change(changes, sub, NULL, v);
			}
		return;
	}
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) &&
	    elem_key(json_array_get(a, 0))) {
		/* Match VIPs by name and backends by address, so one insertion is one change. */
		json_array_foreach(a, i, v) {
			json_t *m = NULL, *w;

			json_array_foreach(b, j, w)
				if (elem_key(w) && elem_key(v) && !strcmp(elem_key(w), elem_key(v)))
					m = w;
			snprintf(sub, sizeof(sub), "%s[%s]", path, elem_key(v) ? elem_key(v) : "?");
			if (m)
				diff_tree(changes, sub, v, m);
			else
				add_change(changes, sub, v, NULL);
		}
		json_array_foreach(b, j, v) {
			json_t *m = NULL, *w;

			json_array_foreach(a, i, w)
				if (elem_key(w) && elem_key(v) && !strcmp(elem_key(w), elem_key(v)))
					m = w;
			snprintf(sub, sizeof(sub), "%s[%s]", path, elem_key(v) ? elem_key(v) : "?");
			if (!m)
				add_change(changes, sub, NULL, v);
		}
		return;
	}
	add_change(changes, path, a, b);
}

static void print_changes(json_t *changes, const char *file)
{
	json_t *ch;
	size_t i;

	printf("changes (running configuration -> %s):\n", file);
	json_array_foreach(changes, i, ch) {
		json_t *a = json_object_get(ch, "before"), *b = json_object_get(ch, "after");
		char *sa = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
		char *sb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);

		if (json_is_null(a))
			printf("  + %s: %s\n", jstr(ch, "path"), sb);
		else if (json_is_null(b))
			printf("  - %s: %s\n", jstr(ch, "path"), sa);
		else
			printf("  ~ %s: %s -> %s\n", jstr(ch, "path"), sa, sb);
		free(sa);
		free(sb);
	}
}

static int config_diff(struct ctl *c, int argc, char **argv)
{
	struct keel_config *cfg = NULL;
	json_t *preview = NULL, *running = NULL, *mine = NULL, *changes = NULL, *v;
	const char *k;
	bool moved = false;
	char *pos[1], *buf;
	size_t len;
	int n, rc, status = 0;

	if ((rc = ctl_parse(c, &config_object, argc, argv, NULL, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&config_object, "config diff: which FILE?");
	if ((rc = read_file(pos[0], &buf, &len)))
		return rc;
	if ((rc = load_local(pos[0], buf, len, &cfg)))
		goto out;
	rc = api_call(c, KEEL_API_ROUTE_CONFIG_DIFF, NULL, NULL, NULL, content_type(buf), buf, len,
		      &status, &preview);
	if (rc)
		goto out;
	if (status != 200) {
		rc = api_fail(c, "config diff", status, preview);
		goto out;
	}
	if ((rc = api_get(c, KEEL_API_ROUTE_CONFIG, NULL, NULL, &running)))
		goto out;
	/* Both sides in the canonical form (defaults filled in), so only real changes show. */
	mine = config_to_json(cfg);
	changes = json_array();
	diff_tree(changes, "", running, mine);
	json_object_del(preview, "warnings");
	json_object_foreach(preview, k, v)
		moved = moved || jnum(v, "moved_share") > 0;
	if (c->json) {
		json_t *o = json_pack("{s:b,s:O,s:O}", "changed", json_array_size(changes) > 0 || moved,
				      "changes", changes, "preview", preview);

		json_print(o);
		json_decref(o);
	} else if (json_array_size(changes) || moved) {
		print_changes(changes, pos[0]);
		report_preview(c, preview);
	} else {
		printf("no differences: %s is the running configuration\n", pos[0]);
	}
	local_warnings(cfg);
	rc = json_array_size(changes) || moved ? KEELCTL_DIFFERENT : KEELCTL_OK;
out:
	json_decref(changes);
	json_decref(mine);
	json_decref(running);
	json_decref(preview);
	config_free(cfg);
	free(buf);
	return rc;
}

int config_post_apply(struct ctl *c, const char *what, const char *ctype, const char *body,
		      size_t len, bool dry_run, bool force)
{
	const struct keel_api_query q = { .dry_run = dry_run, .force = force };
	json_t *out;
	int rc, status = 0;

	rc = api_call(c, KEEL_API_ROUTE_CONFIG_APPLY, NULL, NULL, &q, ctype, body, len, &status, &out);
	if (rc)
		return rc;
	rc = report_change(c, what, status, out);
	json_decref(out);
	return rc;
}

static int config_apply(struct ctl *c, int argc, char **argv)
{
	bool dry = false, force = false;
	const char *revision = NULL, *if_match = NULL;
	const struct ctl_opt opts[] = {
		{ "dry-run", 'n', false, NULL, &dry }, { "force", 'f', false, NULL, &force },
		{ "revision", 0, true, &revision, NULL }, { "if-match", 0, true, &if_match, NULL }, { 0 },
	};
	struct keel_config *cfg = NULL;
	char *pos[1], *buf, what[300], *end;
	size_t len;
	int n, rc;

	if ((rc = ctl_parse(c, &config_object, argc, argv, opts, pos, 1, &n)))
		return rc;
	if (n != 1)
		return ctl_usage_error(&config_object, "config apply: which FILE?");
	/* A fleet: the spec revision the diff was shown against (default: the host's running one). */
	if (revision) {
		c->revision = strtoll(revision, &end, 10);
		if (!*revision || *end || c->revision < 1)
			return ctl_usage_error(&config_object, "config apply: --revision: \"%s\" is not a "
					       "store revision", revision);
	}
	if ((rc = read_file(pos[0], &buf, &len)))
		return rc;
	if (!(rc = load_local(pos[0], buf, len, &cfg))) {
		snprintf(what, sizeof(what), "config apply %s", pos[0]);
		/* --if-match GEN: only if the running configuration is still the one dumped or diffed at GEN. */
		c->if_match = if_match;
		rc = config_post_apply(c, what, content_type(buf), buf, len, dry, force);
		c->if_match = NULL;
	}
	config_free(cfg);
	free(buf);
	return rc;
}

static int config_dump(struct ctl *c, int argc, char **argv)
{
	json_t *cfg, *st = NULL;
	int n, rc, status;

	if ((rc = ctl_parse(c, &config_object, argc, argv, NULL, NULL, 0, &n)))
		return rc;
	if ((rc = api_get(c, KEEL_API_ROUTE_CONFIG, NULL, NULL, &cfg)))
		return rc;
	if (c->json) {
		json_print(cfg);
	} else {
		/* The generation in a comment: which state this file is a copy of (its ETag, for --if-match). */
		if (c->etag[0])
			printf("# keel-control configuration, generation %.*s (keelctl config dump)\n",
			       (int)strlen(c->etag) - 2, c->etag + 1);
		else if (!api_call(c, KEEL_API_ROUTE_STATUS, NULL, NULL, NULL, NULL, NULL, 0, &status,
				   &st) && status == 200)
			printf("# keel-control configuration, generation %lld (keelctl config dump)\n",
			       (long long)jint(st, "generation"));
		json_decref(st);
		if (yaml_write(stdout, cfg)) {
			fprintf(stderr, "keelctl: config dump: cannot write\n");
			rc = KEELCTL_UNAVAILABLE;
		}
	}
	json_decref(cfg);
	return rc;
}

static const struct ctl_verb config_verbs[] = {
	{ "check", "FILE", "validate offline with keel-control's validator (no daemon needed)", config_check },
	{ "diff", "FILE", "what FILE changes against the running configuration, and the slots that move (exit 1: differences)", config_diff },
	{ "apply", "FILE [--dry-run] [--force] [--if-match GEN] [--revision N]", "apply FILE; refused without --force when it empties a VIP or moves too many slots; with --if-match only while the running configuration is at generation GEN (exit 75 otherwise)", config_apply },
	{ "dump", "", "the running configuration as YAML that apply takes back", config_dump },
	{ 0 },
};

const struct ctl_object config_object = { "config", "the configuration: check, diff, apply, dump", config_verbs, false };
