/*
 * A JSON tree written as block YAML. Strings are always double-quoted with
 * JSON's escapes (a subset of YAML's, YAML 1.2 section 5.7): keel-control's
 * reader takes a quoted scalar as a string and a plain one as a number or
 * boolean, so "port: 80" stays a number and "address: "10.0.0.1"" a string.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl.h"

static void scalar(FILE *f, json_t *j)
{
	char *s;

	if (json_is_null(j)) {
		fputs("null", f);
		return;
	}
	s = json_dumps(j, JSON_ENCODE_ANY); /* jansson keeps "1.0" a real: the reader must too */
	fputs(s ? s : "null", f);
	free(s);
}

static void key(FILE *f, const char *k)
{
	bool plain = *k && (isalnum((unsigned char)*k) || *k == '_');
	json_t *q;
	char *s;

	for (const char *p = k; plain && *p; p++)
		plain = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
	if (plain) {
		fputs(k, f);
		return;
	}
	q = json_string(k);
	s = json_dumps(q, JSON_ENCODE_ANY);
	fputs(s ? s : "\"\"", f);
	free(s);
	json_decref(q);
}

static bool is_container(json_t *j)
{
	return (json_is_object(j) && json_object_size(j)) || (json_is_array(j) && json_array_size(j));
}

static void value(FILE *f, json_t *j, int indent, bool inline_first);

/* After "key:" or "-": a scalar or empty container on the same line, else the block below. */
static void after_marker(FILE *f, json_t *v, int indent, bool in_list)
{
	if (json_is_object(v) && !json_object_size(v)) {
		fputs(" {}\n", f);
	} else if (json_is_array(v) && !json_array_size(v)) {
		fputs(" []\n", f);
	} else if (!is_container(v)) {
		fputc(' ', f);
		scalar(f, v);
		fputc('\n', f);
	} else if (in_list && json_is_object(v)) {
		/* "- key: v" then the other keys aligned under the first */
		fputc(' ', f);
		value(f, v, indent + 2, true);
	} else {
		fputc('\n', f);
		value(f, v, indent + 2, false);
	}
}

static void value(FILE *f, json_t *j, int indent, bool inline_first)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v) {
			if (!inline_first)
				fprintf(f, "%*s", indent, "");
			inline_first = false;
			key(f, k);
			fputc(':', f);
			after_marker(f, v, indent, false);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (!inline_first)
				fprintf(f, "%*s", indent, "");
			inline_first = false;
			fputc('-', f);
			after_marker(f, v, indent, true);
		}
	} else {
		fprintf(f, "%*s", inline_first ? 0 : indent, "");
		scalar(f, j);
		fputc('\n', f);
	}
}

int yaml_write(FILE *f, json_t *j)
{
	if (!json_is_object(j))
		return -1;
	value(f, j, 0, false);
	return ferror(f) ? -1 : 0;
}
