/* YAML text to a jansson tree through libyaml's event parser, keeping each node's line:column. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_yaml.h"

struct pos_entry {
	const json_t *parent; /* NULL for the root */
	char *key;            /* NULL under a sequence (and for the root) */
	size_t index;
	int key_line, key_col;
	int line, col;
};

struct config_pos {
	struct pos_entry *v;
	size_t n, cap;
	bool sorted; /* by cmp_entry, once parsing is done */
};

struct reader {
	yaml_parser_t parser;
	const char *origin;
	struct config_pos *pos;
	struct config_error *err;
};

static int refuse(struct reader *r, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct reader *r, const yaml_mark_t *m, const char *fmt, ...)
{
	char reason[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	config_error_set(r->err, r->origin, (int)m->line + 1, (int)m->column + 1, "%s", reason);
	return -EINVAL;
}

static int next_event(struct reader *r, yaml_event_t *ev)
{
	const yaml_parser_t *p = &r->parser;

	if (yaml_parser_parse(&r->parser, ev))
		return 0;
	if (p->error == YAML_MEMORY_ERROR) {
		config_error_set(r->err, r->origin, 0, 0, "out of memory reading YAML");
		return -ENOMEM;
	}
	if (p->context)
		return refuse(r, &p->problem_mark, "%s %s", p->problem ? p->problem : "syntax error",
			      p->context);
	return refuse(r, &p->problem_mark, "%s", p->problem ? p->problem : "syntax error");
}

static int pos_add(struct config_pos *pos, const json_t *parent, const char *key, size_t index,
		   const yaml_mark_t *key_mark, const yaml_mark_t *mark)
{
	struct pos_entry *e;

	if (pos->n == pos->cap) {
		size_t cap = pos->cap ? pos->cap * 2 : 256;
		struct pos_entry *v = realloc(pos->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pos->v = v;
		pos->cap = cap;
	}
	e = &pos->v[pos->n];
	e->key = NULL;
	if (key && !(e->key = strdup(key)))
		return -ENOMEM;
	e->parent = parent;
	e->index = index;
	e->key_line = (int)key_mark->line + 1;
	e->key_col = (int)key_mark->column + 1;
	e->line = (int)mark->line + 1;
	e->col = (int)mark->column + 1;
	pos->n++;
	return 0;
}

/* Anchors, aliases and tags give a document meanings the schema cannot see; refuse them. */
static int check_props(struct reader *r, const yaml_event_t *ev)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return refuse(r, &ev->start_mark, "YAML aliases are not allowed (*%s)",
			      (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		return refuse(r, &ev->start_mark, "unexpected YAML event");
	}
	if (anchor)
		return refuse(r, &ev->start_mark, "YAML anchors are not allowed (&%s)",
			      (const char *)anchor);
	if (tag)
		return refuse(r, &ev->start_mark, "YAML tags are not allowed (%s)", (const char *)tag);
	return 0;
}

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* YAML 1.2 core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
	bool digits = false;

	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits = true;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return !*s;
}

/*
 * Resolve a plain scalar. Only the YAML 1.2 core forms are special, so "yes",
 * "on" and "0755" mean what they look like to a JSON reader, not YAML 1.1's
 * booleans and octal. NULL: out of memory or invalid UTF-8.
 */
static json_t *resolve_plain(const char *s)
{
	const char *digits = s;
	int base = 10;

	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (s[0] == '0' && s[1] == 'x' && all_in(s + 2, "0123456789abcdefABCDEF"))
		base = 16, digits = s + 2;
	else if (s[0] == '0' && s[1] == 'o' && all_in(s + 2, "01234567"))
		base = 8, digits = s + 2;
	else if (all_in(s + (*s == '-' || *s == '+'), "0123456789"))
		base = 10;
	else
		base = 0;
	if (base) {
		long long v;

		errno = 0;
		v = strtoll(digits, NULL, base);
		/* Too big for json_int_t: keep the text, a field that wants it (fleet_seed) parses it. */
		if (errno == ERANGE)
			return json_string(s);
		return json_integer(v);
	}
	if (is_float(s)) {
		double d = strtod(s, NULL);

		if (isfinite(d))
			return json_real(d);
	}
	return json_string(s);
}

static int parse_node(struct reader *r, yaml_event_t *ev, int depth, json_t **out);

static int make_scalar(struct reader *r, yaml_event_t *ev, json_t **out)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (memchr(s, '\0', ev->data.scalar.length))
		return refuse(r, &ev->start_mark, "NUL character in a string");
	if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		*out = resolve_plain(s);
	else
		*out = json_stringn(s, ev->data.scalar.length);
	if (!*out)
		return refuse(r, &ev->start_mark, "invalid UTF-8 in a string");
	return 0;
}

static int parse_sequence(struct reader *r, int depth, json_t *arr)
{
	yaml_event_t ev;
	size_t i;
	int rc;

	for (i = 0;; i++) {
		json_t *child;
		yaml_mark_t m;

		rc = next_event(r, &ev);
		if (rc)
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		m = ev.start_mark;
		rc = parse_node(r, &ev, depth, &child);
		if (rc)
			return rc;
		if (json_array_append_new(arr, child) || pos_add(r->pos, arr, NULL, i, &m, &m))
			return -ENOMEM;
	}
}

static int key_of(struct reader *r, yaml_event_t *ev)
{
	if (ev->type != YAML_SCALAR_EVENT)
		return refuse(r, &ev->start_mark, "mapping keys must be plain strings");
	if (check_props(r, ev))
		return -EINVAL;
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
		return refuse(r, &ev->start_mark, "NUL character in a key");
	return 0;
}

static int parse_mapping(struct reader *r, int depth, json_t *obj)
{
	yaml_event_t kev, vev;
	int rc;

	for (;;) {
		json_t *child;
		yaml_mark_t km, vm;
		const char *key;

		rc = next_event(r, &kev);
		if (rc)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		rc = key_of(r, &kev);
		key = (const char *)kev.data.scalar.value;
		km = kev.start_mark;
		if (!rc && json_object_get(obj, key)) {
			int line = 0, col = 0;

			config_pos_find(r->pos, obj, key, 0, true, &line, &col);
			rc = refuse(r, &km, "duplicate key \"%s\" (first at line %d column %d)", key,
				    line, col);
		}
		if (!rc)
			rc = next_event(r, &vev);
		if (rc)
			goto out_free_key;
		vm = vev.start_mark;
		rc = parse_node(r, &vev, depth, &child);
		if (rc)
			goto out_free_key;
		if (json_object_set_new(obj, key, child)) {
			rc = refuse(r, &km, "invalid UTF-8 in a key");
			goto out_free_key;
		}
		rc = pos_add(r->pos, obj, key, 0, &km, &vm);
		yaml_event_delete(&kev);
		if (rc)
			return rc;
	}
out_free_key:
	yaml_event_delete(&kev);
	return rc;
}

/* Build the node that starts with ev (consumed) and everything under it. */
static int parse_node(struct reader *r, yaml_event_t *ev, int depth, json_t **out)
{
	int rc = check_props(r, ev);

	if (!rc && ev->type == YAML_SCALAR_EVENT)
		rc = make_scalar(r, ev, out);
	else if (!rc) {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;

		if (depth >= CONFIG_MAX_DEPTH)
			rc = refuse(r, &ev->start_mark, "nesting deeper than %d levels",
				    CONFIG_MAX_DEPTH);
		else if (!(*out = seq ? json_array() : json_object()))
			rc = -ENOMEM;
		else {
			rc = seq ? parse_sequence(r, depth + 1, *out)
				 : parse_mapping(r, depth + 1, *out);
			if (rc)
				json_decref(*out);
		}
	}
	yaml_event_delete(ev);
	return rc;
}

static int expect(struct reader *r, yaml_event_type_t type, const char *what)
{
	yaml_event_t ev;
	int rc = next_event(r, &ev);

	if (rc)
		return rc;
	if (ev.type != type)
		rc = refuse(r, &ev.start_mark, "%s", what);
	yaml_event_delete(&ev);
	return rc;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct pos_entry *a = pa, *b = pb;

	if (a->parent != b->parent)
		return (uintptr_t)a->parent < (uintptr_t)b->parent ? -1 : 1;
	if (!a->key || !b->key) {
		if (a->key || b->key)
			return a->key ? 1 : -1;
		return a->index < b->index ? -1 : a->index > b->index;
	}
	return strcmp(a->key, b->key);
}

static int parse_stream(struct reader *r, json_t **root)
{
	yaml_event_t ev;
	yaml_mark_t m;
	int rc;

	rc = expect(r, YAML_STREAM_START_EVENT, "expected the start of a YAML stream");
	if (!rc)
		rc = next_event(r, &ev);
	if (rc)
		return rc;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		rc = refuse(r, &ev.start_mark, "empty configuration: no YAML document");
		yaml_event_delete(&ev);
		return rc;
	}
	yaml_event_delete(&ev);
	rc = next_event(r, &ev);
	if (rc)
		return rc;
	m = ev.start_mark;
	rc = parse_node(r, &ev, 0, root);
	if (rc)
		return rc;
	if ((rc = pos_add(r->pos, NULL, NULL, 0, &m, &m)) ||
	    (rc = expect(r, YAML_DOCUMENT_END_EVENT, "expected the end of the document")) ||
	    (rc = expect(r, YAML_STREAM_END_EVENT,
			 "more than one YAML document: a configuration is one document"))) {
		json_decref(*root);
		return rc;
	}
	return 0;
}

int config_yaml_parse(const char *buf, size_t len, const char *origin, json_t **root,
		      struct config_pos **pos, struct config_error *err)
{
	struct reader r = { .origin = origin, .err = err };
	int rc;

	if (len > CONFIG_MAX_FILE_BYTES) {
		config_error_set(err, origin, 0, 0, "file larger than %u bytes",
				 CONFIG_MAX_FILE_BYTES);
		return -EFBIG;
	}
	r.pos = calloc(1, sizeof(*r.pos));
	if (!r.pos || !yaml_parser_initialize(&r.parser)) {
		free(r.pos);
		config_error_set(err, origin, 0, 0, "out of memory");
		return -ENOMEM;
	}
	/* libyaml asserts on a NULL input; an absent buffer is an empty file. */
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)(buf ? buf : ""),
				     buf ? len : 0);
	rc = parse_stream(&r, root);
	yaml_parser_delete(&r.parser);
	if (rc) {
		if (rc == -ENOMEM)
			config_error_set(err, origin, 0, 0, "out of memory");
		config_pos_free(r.pos);
		return rc;
	}
	qsort(r.pos->v, r.pos->n, sizeof(*r.pos->v), cmp_entry);
	r.pos->sorted = true;
	*pos = r.pos;
	return 0;
}

void config_pos_free(struct config_pos *pos)
{
	size_t i;

	if (!pos)
		return;
	for (i = 0; i < pos->n; i++)
		free(pos->v[i].key);
	free(pos->v);
	free(pos);
}

int config_pos_find(const struct config_pos *pos, const json_t *parent, const char *key,
		    size_t index, bool of_key, int *line, int *column)
{
	struct pos_entry want = { .parent = parent, .key = (char *)(uintptr_t)key, .index = index };
	const struct pos_entry *e = NULL;
	size_t i;

	/* While parsing (a duplicate key's first position) a scan is fine: errors are rare. */
	if (pos->sorted)
		e = bsearch(&want, pos->v, pos->n, sizeof(*pos->v), cmp_entry);
	for (i = 0; !pos->sorted && !e && i < pos->n; i++)
		if (!cmp_entry(&want, &pos->v[i]))
			e = &pos->v[i];
	if (!e)
		return -ENOENT;
	*line = of_key ? e->key_line : e->line;
	*column = of_key ? e->key_col : e->col;
	return 0;
}
