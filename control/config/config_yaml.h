/* YAML text to a jansson tree through libyaml's event parser, keeping each node's line:column. */
#ifndef KEEL_CONTROL_CONFIG_YAML_H
#define KEEL_CONTROL_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

/*
 * Where each node of the tree came from. jansson shares one object for every
 * true, false and null, so a node is named by its parent container and its
 * key (or index), not by its own pointer; the root has parent NULL.
 */
struct config_pos;

/*
 * Parse one YAML document. Refused (-EINVAL, err set): syntax errors,
 * anchors and aliases, explicit tags, more than one document, duplicate or
 * non-scalar keys, strings with NUL bytes or invalid UTF-8, nesting deeper
 * than CONFIG_MAX_DEPTH; -EFBIG over CONFIG_MAX_FILE_BYTES; -ENOMEM.
 *
 * Plain scalars resolve as in the YAML 1.2 core schema (null, true/false,
 * decimal/0x/0o integers, floats); an integer too large for json_int_t stays
 * a string so a 64-bit hex seed survives. Quoted scalars are strings.
 * On success *root and *pos are the caller's (json_decref, config_pos_free).
 */
int config_yaml_parse(const char *buf, size_t len, const char *origin, json_t **root,
		      struct config_pos **pos, struct config_error *err);

void config_pos_free(struct config_pos *pos);

/*
 * Line and column (from 1) of the value under parent at key, or at index
 * when key is NULL; of_key gives the key's own position instead (mappings).
 * 0 or -ENOENT.
 */
int config_pos_find(const struct config_pos *pos, const json_t *parent, const char *key,
		    size_t index, bool of_key, int *line, int *column);

#endif
