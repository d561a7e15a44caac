/* Loading keel-control's configuration: YAML file or buffer, or a JSON tree from the API, through one validator. */
#ifndef KEEL_CONTROL_CONFIG_H
#define KEEL_CONTROL_CONFIG_H

#include <stddef.h>

#include <jansson.h>

#include "config_model.h"

/* Limits: anything over them is refused before it costs memory or time. */
/*
 * Follows from the other limits: 16384 backends at up to ~200 bytes of YAML
 * each (an IPv6 address, weight, state, a comment) and 1024 VIPs at up to
 * ~2 KiB each (name, address, health check) are about 5 MiB; 16 MiB leaves
 * room for formatting, and the parser's cost stays linear in it.
 */
#define CONFIG_MAX_FILE_BYTES (16u << 20)
#define CONFIG_MAX_DEPTH 16
#define CONFIG_MAX_VIPS 1024        /* KEEL_MAX_VIPS: one stable id each */
#define CONFIG_MAX_BACKENDS 16384   /* KEEL_MAX_BACKENDS, over all VIPs */

/*
 * Why a configuration was refused. msg is "origin:line:column: reason" for
 * YAML (line and column from 1) and "origin: json.path: reason" for a JSON
 * tree (line and column 0).
 */
struct config_error {
	char msg[512];
	int line, column;
};

/*
 * Each loader builds a new model and stores it in *out only on success; on
 * failure *out is untouched, err says why, and the return is -EINVAL (refused),
 * -EFBIG (over a size limit), -ENOMEM, or -errno of a failed read.
 * Warnings (accepted but probably not meant) are in (*out)->warnings.
 */
int config_load_file(const char *path, struct keel_config **out, struct config_error *err);
int config_load_buffer(const char *buf, size_t len, const char *origin, struct keel_config **out,
		       struct config_error *err);
int config_from_json(json_t *root, const char *origin, struct keel_config **out,
		     struct config_error *err);

/* Format err->msg as "origin:line:column: ..." (line 0: "origin: ..."); for the config_* modules. */
void config_error_set(struct config_error *err, const char *origin, int line, int column,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
