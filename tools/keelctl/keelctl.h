/* keelctl: the context, exit codes and helpers shared by every command group. */
#ifndef KEELCTL_H
#define KEELCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <jansson.h>

#include "keel_api.h"

/*
 * Exit codes (issue #5, keelctl(8)): the sysexits.h values operators already
 * script against, plus 1 for "diff found differences" (diff(1), git diff).
 */
#define KEELCTL_OK 0
#define KEELCTL_DIFFERENT 1
#define KEELCTL_USAGE EX_USAGE             /* 64 */
/* An API answer's exit code is the contract's (api/keel_api.h: one table errno -> HTTP -> exit). */
#define KEELCTL_DATAERR KEEL_API_EXIT_DATAERR         /* 65: refused, unknown VIP, bad config */
#define KEELCTL_UNAVAILABLE KEEL_API_EXIT_UNAVAILABLE /* 69: no daemon, no dataplane, daemon failure */
#define KEELCTL_NOPERM KEEL_API_EXIT_NOPERM           /* 77 */
#define KEELCTL_CONFLICT KEEL_API_EXIT_CONFLICT       /* 75: 412, changed since it was read (ETag, or the fleet spec's revision) */

#define KEELCTL_DEFAULT_SOCKET KEEL_API_DEFAULT_SOCKET

struct ctl {
	const char *socket; /* --socket, $KEEL_SOCKET, or the default */
	bool json;          /* -j: print the API's JSON */
	int cols;           /* terminal width for tables */
	const char *cmd;    /* "vip show", "stats": what errors name (not the API path) */
	bool no_wait;       /* --no-wait: a fleet edit answers once the store committed it */
	long long revision; /* fleet: the spec revision a whole-configuration apply was computed on */
	bool quiet_conflict; /* a conflict (412) is retried by the caller: say nothing */
	const char *if_match; /* sent as If-Match with every call while set (changes with a precondition) */
	char etag[32];      /* the ETag of the last answer ("" when it had none) */
};

/* A command: argv[0] is the verb (or the object for verb-less objects). Returns an exit code. */
typedef int (*ctl_cmd_fn)(struct ctl *c, int argc, char **argv);

struct ctl_verb {
	const char *verb;
	const char *args;    /* usage after "keelctl OBJECT VERB" */
	const char *summary;
	ctl_cmd_fn fn;
};

struct ctl_object {
	const char *name;
	const char *summary;
	const struct ctl_verb *verbs; /* NULL-terminated; the first is the default if default_verb */
	bool default_verb;            /* "keelctl stats" runs the first verb */
};

extern const struct ctl_object vip_object, backend_object, config_object, stats_object,
	top_object, health_object, table_object, lookup_object, status_object, bgp_object,
	host_object, capture_object, fleet_object, trace_object,
	history_object;
/* The announcements part of keelctl status and keelctl bgp (bgp.c). */
void bgp_print(struct ctl *c, json_t *bgp);
/* The steering program's state (a status or bgp view's "steering"), one line and the VIPs it lacks. */
void steer_print(json_t *s);

/* main.c: usage of one object to stream f; the error form prints "keelctl: why" first. */
void ctl_object_usage(const struct ctl_object *o, FILE *f);
int ctl_usage_error(const struct ctl_object *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Options of one verb. Parsed anywhere after the verb; "-j/--json" is
 * accepted by every verb. Positionals are collected in order into pos[].
 */
struct ctl_opt {
	const char *name;  /* long name without "--" */
	char short_name;   /* 0: none */
	bool has_arg;
	const char **value; /* has_arg: where the argument goes */
	bool *flag;         /* !has_arg: set to true */
};
int ctl_parse(struct ctl *c, const struct ctl_object *o, int argc, char **argv,
	      const struct ctl_opt *opts, char **pos, int max_pos, int *n_pos);
int ctl_parse_u32(const struct ctl_object *o, const char *what, const char *s, uint32_t max,
		  uint32_t *out);
/* An address argument, parsed once here into bytes (and canonical text). */
bool ctl_address(const char *s, struct keel_api_addr *a);

/*
 * api.c: calls of the management API. A call names its route (api/keel_api.h:
 * the path and method come from the contract's table), the route's {vip} and
 * {addr} (NULL when it has none) and its query (NULL: none).
 */
int api_call(struct ctl *c, enum keel_api_route r, const char *vip, const char *addr,
	     const struct keel_api_query *q, const char *ctype, const char *body, size_t len,
	     int *status, json_t **out);
int api_get(struct ctl *c, enum keel_api_route r, const char *vip,
	    const struct keel_api_query *q, json_t **out);
int api_exit_code(int status);
int api_fail(struct ctl *c, const char *what, int status, json_t *body);
/* Is the argument short enough to be a path parameter (under 200 bytes %-encoded)? */
bool api_arg_fits(const char *s);

/* config.c: POST a configuration (YAML or JSON) to /v1/config/apply and report. */
int config_post_apply(struct ctl *c, const char *what, const char *ctype, const char *body,
		      size_t len, bool dry_run, bool force);

/* report.c: reports of changes (apply, backend edits) and disruption previews. */
void report_preview(struct ctl *c, json_t *preview);
int report_change(struct ctl *c, const char *what, int status, json_t *body);

/* output.c: tables, units, JSON. */
struct table;
struct table *table_new(int ncols, const char *const *heads);
void table_right(struct table *t, int col);  /* numbers: right-aligned */
void table_flex(struct table *t, int col);   /* truncated first when the terminal is narrow */
void table_add(struct table *t, ...);        /* ncols strings (NULL prints "-", "" a blank) */
void table_print(struct ctl *c, struct table *t);
void table_free(struct table *t);
int term_cols(void);
const char *fmt_count(double v, char *buf, size_t len);            /* 1.2K, 3.4M */
const char *fmt_rate(double v, const char *unit, char *buf, size_t len); /* 1.2 Mpps */
const char *fmt_bytes(double v, char *buf, size_t len);            /* 1.5 MB */
const char *fmt_age(int64_t ms, char *buf, size_t len);            /* 3m12s */
const char *fmt_share(double v, char *buf, size_t len);            /* 25.0% */
void json_print(json_t *j);
const char *jstr(json_t *o, const char *key);                      /* "" when absent */
int64_t jint(json_t *o, const char *key);                          /* 0 when absent */
double jnum(json_t *o, const char *key);

/* A value for a table cell: "-" when absent or empty. */
static inline const char *dash(const char *s)
{
	return s && *s ? s : NULL;
}

/* yaml_out.c: a JSON tree as block YAML that keel-control's reader takes back. */
int yaml_write(FILE *f, json_t *j);

#endif
