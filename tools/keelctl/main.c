/* keelctl: the operator's command line for keel-control. Grammar, help at every level, dispatch. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl.h"

static const struct ctl_object *const objects[] = {
	&vip_object, &backend_object, &config_object, &stats_object, &top_object,
	&health_object, &table_object, &lookup_object, &status_object, &bgp_object, &host_object,
	&capture_object, &fleet_object, &trace_object, &history_object, NULL,
};

static void usage(FILE *f)
{
	fputs("usage: keelctl [--socket PATH] [-j|--json] OBJECT VERB [ARGS]\n"
	      "       keelctl help | OBJECT help | OBJECT VERB --help\n\n"
	      "Talks to keel-control's management API on its Unix socket: --socket, then\n"
	      "$KEEL_SOCKET, then " KEELCTL_DEFAULT_SOCKET ".\n\nobjects:\n", f);
	for (int i = 0; objects[i]; i++)
		fprintf(f, "  %-9s %s\n", objects[i]->name, objects[i]->summary);
	fputs("\noptions:\n"
	      "  --socket PATH  the API socket\n"
	      "  -j, --json     print the API's JSON (schema: keelctl(8))\n"
	      "  -h, --help     this help\n\n"
	      "exit: 0 ok, 1 diff found differences, 64 usage, 65 refused or bad data,\n"
	      "      69 daemon unavailable, 77 permission denied\n", f);
}

void ctl_object_usage(const struct ctl_object *o, FILE *f)
{
	fprintf(f, "keelctl %s: %s\n\nusage:\n", o->name, o->summary);
	for (const struct ctl_verb *v = o->verbs; v->verb; v++) {
		char line[160];

		if (o->default_verb && v == o->verbs && !*v->verb)
			snprintf(line, sizeof(line), "keelctl %s %s", o->name, v->args);
		else
			snprintf(line, sizeof(line), "keelctl %s %s %s", o->name, v->verb, v->args);
		fprintf(f, "  %s\n      %s\n", line, v->summary);
	}
	fputs("\nevery verb takes -j/--json; keelctl(8) documents the output.\n", f);
}

int ctl_usage_error(const struct ctl_object *o, const char *fmt, ...)
{
	va_list ap;

	fputs("keelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see: keelctl %s help)\n", o ? o->name : "");
	return KEELCTL_USAGE;
}

static bool is_help(const char *s)
{
	return !strcmp(s, "help") || !strcmp(s, "-h") || !strcmp(s, "--help");
}

/*
 * "vip add", or "stats" for an object's own verb (argv[0] is then the object's
 * name, run_object): what an error names, never the verb twice.
 */
static const char *command_name(const struct ctl_object *o, const char *verb, char *buf,
				size_t len)
{
	if (!strcmp(verb, o->name))
		snprintf(buf, len, "%s", o->name);
	else
		snprintf(buf, len, "%s %s", o->name, verb);
	return buf;
}

int ctl_parse(struct ctl *c, const struct ctl_object *o, int argc, char **argv,
	      const struct ctl_opt *opts, char **pos, int max_pos, int *n_pos)
{
	bool dashdash = false;
	char cmd[96];

	*n_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		const struct ctl_opt *m = NULL;

		if (dashdash || a[0] != '-' || !a[1]) {
			if (*n_pos == max_pos)
				return ctl_usage_error(o, "%s: unexpected argument \"%s\"",
						       command_name(o, argv[0], cmd, sizeof(cmd)), a);
			pos[(*n_pos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			c->json = true;
			continue;
		}
		if (!strcmp(a, "--no-wait")) {
			c->no_wait = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			ctl_object_usage(o, stdout);
			exit(KEELCTL_OK);
		}
		eq = a[1] == '-' ? strchr(a, '=') : NULL;
		for (const struct ctl_opt *p = opts; p && p->name; p++) {
			if (a[1] == '-' ? !strncmp(a + 2, p->name, eq ? (size_t)(eq - a - 2) : strlen(a + 2)) &&
						  strlen(p->name) == (eq ? (size_t)(eq - a - 2) : strlen(a + 2)) :
					  (p->short_name && a[1] == p->short_name && !a[2]))
				m = p;
		}
		if (!m)
			return ctl_usage_error(o, "%s: unknown option %s",
					       command_name(o, argv[0], cmd, sizeof(cmd)), a);
		if (!m->has_arg) {
			if (eq)
				return ctl_usage_error(o, "%s takes no value", m->name);
			*m->flag = true;
		} else if (eq) {
			*m->value = eq + 1;
		} else if (i + 1 < argc) {
			*m->value = argv[++i];
		} else {
			return ctl_usage_error(o, "--%s needs a value", m->name);
		}
	}
	return KEELCTL_OK;
}

int ctl_parse_u32(const struct ctl_object *o, const char *what, const char *s, uint32_t max,
		  uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return ctl_usage_error(o, "%s must be an integer 0..%u, not \"%s\"", what, max, s);
	*out = (uint32_t)v;
	return KEELCTL_OK;
}

bool ctl_address(const char *s, struct keel_api_addr *a)
{
	return !keel_api_addr_parse(s, a);
}

static int run_object(struct ctl *c, const struct ctl_object *o, int argc, char **argv)
{
	const struct ctl_verb *v;
	static char cmd[96]; /* c->cmd: for the life of the command */

	if (argc >= 1 && is_help(argv[0])) {
		ctl_object_usage(o, stdout);
		return KEELCTL_OK;
	}
	if (o->default_verb && (argc == 0 || argv[0][0] == '-')) {
		/* "keelctl stats", "keelctl top -n 2": the object's own verb; argv[0] is then a dummy. */
		char *nargv[argc + 2];

		nargv[0] = (char *)o->name;
		memcpy(nargv + 1, argv, (size_t)argc * sizeof(*argv));
		nargv[argc + 1] = NULL;
		c->cmd = o->name;
		return o->verbs[0].fn(c, argc + 1, nargv);
	}
	if (argc == 0)
		return ctl_usage_error(o, "%s: which verb?", o->name);
	for (v = o->verbs; v->verb; v++)
		if (*v->verb && !strcmp(v->verb, argv[0])) {
			if (argc >= 2 && !strcmp(argv[1], "help")) {
				ctl_object_usage(o, stdout);
				return KEELCTL_OK;
			}
			c->cmd = command_name(o, v->verb, cmd, sizeof(cmd));
			return v->fn(c, argc, argv);
		}
	/* An object whose only verb is its own takes positional arguments ("table show" aside). */
	if (o->default_verb && !*o->verbs[0].verb) {
		char *nargv[argc + 2];

		nargv[0] = (char *)o->name;
		memcpy(nargv + 1, argv, (size_t)argc * sizeof(*argv));
		nargv[argc + 1] = NULL;
		c->cmd = o->name;
		return o->verbs[0].fn(c, argc + 1, nargv);
	}
	return ctl_usage_error(o, "%s: unknown verb \"%s\"", o->name, argv[0]);
}

int main(int argc, char **argv)
{
	struct ctl c = { .socket = NULL, .json = false };
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "--no-wait")) {
			c.no_wait = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KEELCTL_OK;
		} else if (!strcmp(a, "--socket") && i + 1 < argc) {
			c.socket = argv[++i];
		} else if (!strncmp(a, "--socket=", 9)) {
			c.socket = a + 9;
		} else if (!strcmp(a, "--version")) {
			puts("keelctl " KEELCTL_VERSION);
			return KEELCTL_OK;
		} else {
			fprintf(stderr, "keelctl: unknown option %s (see: keelctl help)\n", a);
			return KEELCTL_USAGE;
		}
	}
	if (!c.socket)
		c.socket = getenv("KEEL_SOCKET");
	if (!c.socket || !*c.socket)
		c.socket = KEELCTL_DEFAULT_SOCKET;
	c.cols = term_cols();
	if (i == argc) {
		usage(stderr);
		return KEELCTL_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		/* "keelctl help vip" reads like "git help commit" */
		for (int k = 0; i + 1 < argc && objects[k]; k++)
			if (!strcmp(objects[k]->name, argv[i + 1])) {
				ctl_object_usage(objects[k], stdout);
				return KEELCTL_OK;
			}
		if (i + 1 < argc) {
			fprintf(stderr, "keelctl: no object \"%s\" (see: keelctl help)\n", argv[i + 1]);
			return KEELCTL_USAGE;
		}
		usage(stdout);
		return KEELCTL_OK;
	}
	for (int k = 0; objects[k]; k++)
		if (!strcmp(objects[k]->name, argv[i]))
			return run_object(&c, objects[k], argc - i - 1, argv + i + 1);
	fprintf(stderr, "keelctl: unknown object \"%s\" (see: keelctl help)\n", argv[i]);
	return KEELCTL_USAGE;
}
