/* Inside the validator: where a value sits, how a refusal is reported, typed readers of a json_t tree. */
#ifndef KEEL_CONTROL_CONFIG_CHECK_H
#define KEEL_CONTROL_CONFIG_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "config_yaml.h"

/*
 * Where a value sits: its container and its key (or index in a list). A
 * chain of these on the stack gives both the JSON path of a refusal and, for
 * YAML, the key to its line:column (see config_pos_find).
 */
struct loc {
	const struct loc *up;
	const json_t *parent; /* NULL for the root */
	const char *key;      /* NULL in a list */
	size_t index;
};

#define LOC_KEY(u, obj, k) { .up = (u), .parent = (obj), .key = (k), .index = 0 }
#define LOC_IDX(u, arr, i) { .up = (u), .parent = (arr), .key = NULL, .index = (i) }

struct check {
	const char *origin;
	const struct config_pos *pos; /* NULL: JSON input, report paths only */
	struct config_error *err;
	struct keel_config *cfg;      /* being filled; freed by the caller on refusal */
	uint32_t n_backends;          /* so far, over all VIPs (the limit is global) */
	bool host_file;               /* a host's keel.yaml (config_load_file), not an API body */
};

/* Refuse (returns -EINVAL): at the value's position, or at its key's. */
int check_bad(struct check *c, const struct loc *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int check_bad_key(struct check *c, const struct loc *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Accept with a warning stored in the model; 0 or -ENOMEM. */
int check_warn(struct check *c, const struct loc *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "the string \"x\"", "a list", ...: what was found instead of what was expected. */
const char *check_describe(const json_t *v, char *buf, size_t n);

/* The value at at->key must be a mapping; refuse any key not in allowed (NULL-terminated). */
int check_object(struct check *c, const struct loc *at, const json_t *v, const char *what,
		 const char *const *allowed);

/*
 * Typed readers of obj[key], at being obj's location. Absent: *out untouched
 * and 0, or a refusal when required. 0 or -EINVAL.
 */
enum { OPTIONAL = 0, REQUIRED = 1 };
int check_uint(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, uint64_t min, uint64_t max, uint64_t *out);
int check_bool(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, bool *out);
int check_string(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		 int required, const char **out);
/* One of names[] (NULL-terminated); *out is its index. */
int check_enum(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, const char *const *names, uint8_t *out);
int check_addr(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, uint8_t addr[16], uint8_t *family);
/* "2s", "500ms", "1m" or an integer number of seconds, within [min_ms, max_ms]. */
int check_duration(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		   uint32_t min_ms, uint32_t max_ms, uint32_t *out);
/* A prime Maglev table size no larger than KEEL_MAGLEV_MAX_SIZE. */
int check_table_size(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		     uint32_t *out);

/* The schema walk (config_schema.c), on a fresh model c->cfg: 0, -EINVAL or -ENOMEM. */
int config_schema_check(struct check *c, const json_t *root);

#endif
