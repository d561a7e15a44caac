/* Inside the validator: where a value sits, how a refusal is reported, typed readers of a json_t tree. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "maglev.h"
#include "snapshot.h"

/* "vips[2].backends[0].weight"; empty for the root. */
static void path_of(const struct loc *l, char *buf, size_t n)
{
	size_t len;

	if (!l || !l->parent) {
		buf[0] = '\0';
		return;
	}
	path_of(l->up, buf, n);
	len = strlen(buf);
	if (l->key)
		config_textf(buf + len, n - len, "%s%s", len ? "." : "", l->key);
	else
		config_textf(buf + len, n - len, "[%zu]", l->index);
}

/* The whole message: position from the YAML side table, path always (it names the field). */
static void locate(struct check *c, const struct loc *at, bool of_key, struct config_error *out,
		   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void locate(struct check *c, const struct loc *at, bool of_key, struct config_error *out,
		   const char *fmt, va_list ap)
{
	char path[192], reason[320], text[512];
	int line = 0, column = 0;

	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (c->pos && config_pos_find(c->pos, at->parent, at->key, at->index, of_key, &line, &column))
		line = column = 0;
	/* An unknown or duplicate key is named in the reason; its path is the mapping's. */
	path_of(of_key ? at->up : at, path, sizeof(path));
	if (path[0])
		config_textf(text, sizeof(text), "%s: %s", path, reason);
	else
		config_textf(text, sizeof(text), "%s", reason);
	config_error_set(out, c->origin, line, column, "%s", text);
}

static int refuse(struct check *c, const struct loc *at, bool of_key, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int refuse(struct check *c, const struct loc *at, bool of_key, const char *fmt, va_list ap)
{
	locate(c, at, of_key, c->err, fmt, ap);
	return -EINVAL;
}

int check_bad(struct check *c, const struct loc *at, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = refuse(c, at, false, fmt, ap);
	va_end(ap);
	return rc;
}

int check_bad_key(struct check *c, const struct loc *at, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = refuse(c, at, true, fmt, ap);
	va_end(ap);
	return rc;
}

int check_warn(struct check *c, const struct loc *at, const char *fmt, ...)
{
	struct config_error w;
	va_list ap;

	va_start(ap, fmt);
	locate(c, at, false, &w, fmt, ap);
	va_end(ap);
	return config_add_warning(c->cfg, w.msg);
}

const char *check_describe(const json_t *v, char *buf, size_t n)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		snprintf(buf, n, "the string \"%.40s%s\"", json_string_value(v),
			 json_string_length(v) > 40 ? "..." : "");
		return buf;
	case JSON_INTEGER:
		snprintf(buf, n, "the integer %lld", (long long)json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, n, "the number %g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "an empty value";
	}
}

int check_object(struct check *c, const struct loc *at, const json_t *v, const char *what,
		 const char *const *allowed)
{
	const char *key;
	char d[64];
	json_t *x;

	if (!json_is_object(v))
		return check_bad(c, at, "expected %s (a mapping), got %s", what,
				 check_describe(v, d, sizeof(d)));
	json_object_foreach((json_t *)v, key, x) {
		char list[256] = "";
		size_t i, len = 0;

		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (allowed[i])
			continue;
		for (i = 0; allowed[i] && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
						allowed[i]);
		struct loc k = LOC_KEY(at, v, key);

		return check_bad_key(c, &k, "unknown key \"%.64s\" in %s (known: %s)", key, what,
				     list);
	}
	return 0;
}

/* The member, or NULL; a required one that is absent is refused at its mapping. */
static const json_t *member(struct check *c, const struct loc *at, const json_t *obj,
			    const char *key, int required, int *rc)
{
	const json_t *v = json_object_get(obj, key);

	*rc = 0;
	if (!v && required)
		*rc = check_bad(c, at, "missing required key \"%s\"", key);
	return v;
}

int check_uint(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, uint64_t min, uint64_t max, uint64_t *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	const json_t *v;
	json_int_t i;
	char d[64];
	int rc;

	if (!(v = member(c, at, obj, key, required, &rc)))
		return rc;
	if (!json_is_integer(v))
		return check_bad(c, &l, "expected an integer %llu..%llu, got %s",
				 (unsigned long long)min, (unsigned long long)max,
				 check_describe(v, d, sizeof(d)));
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return check_bad(c, &l, "%lld is out of range %llu..%llu", (long long)i,
				 (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

int check_bool(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, bool *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	const json_t *v;
	char d[64];
	int rc;

	if (!(v = member(c, at, obj, key, required, &rc)))
		return rc;
	if (!json_is_boolean(v))
		return check_bad(c, &l, "expected true or false, got %s",
				 check_describe(v, d, sizeof(d)));
	*out = json_is_true(v);
	return 0;
}

int check_string(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		 int required, const char **out)
{
	struct loc l = LOC_KEY(at, obj, key);
	const json_t *v;
	char d[64];
	int rc;

	if (!(v = member(c, at, obj, key, required, &rc)))
		return rc;
	if (!json_is_string(v))
		return check_bad(c, &l, "expected a string, got %s", check_describe(v, d, sizeof(d)));
	/* JSON strings may hold NUL (\u0000); every consumer here is C. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return check_bad(c, &l, "NUL character in a string");
	*out = json_string_value(v);
	return 0;
}

int check_enum(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, const char *const *names, uint8_t *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	char list[128] = "";
	const char *s = NULL;
	size_t i, len = 0;
	int rc;

	rc = check_string(c, at, obj, key, required, &s);
	if (rc || !s)
		return rc;
	for (i = 0; names[i] && len < sizeof(list); i++) {
		if (!strcmp(names[i], s)) {
			*out = (uint8_t)i;
			return 0;
		}
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
					names[i]);
	}
	return check_bad(c, &l, "\"%.40s\" is not one of: %s", s, list);
}

int check_addr(struct check *c, const struct loc *at, const json_t *obj, const char *key,
	       int required, uint8_t addr[16], uint8_t *family)
{
	struct loc l = LOC_KEY(at, obj, key);
	const char *s = NULL, *why;
	int rc;

	rc = check_string(c, at, obj, key, required, &s);
	if (rc || !s)
		return rc;
	if (config_parse_addr(s, addr, family, &why))
		return check_bad(c, &l, "\"%.64s\": %s", s, why);
	return 0;
}

int check_duration(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		   uint32_t min_ms, uint32_t max_ms, uint32_t *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	char d[64], lo[CONFIG_TEXT_MAX], hi[CONFIG_TEXT_MAX];
	const json_t *v = json_object_get(obj, key);
	const char *why;
	uint64_t ms;

	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t s = json_integer_value(v);

		ms = s < 0 || s > UINT32_MAX / 1000 ? UINT64_MAX : (uint64_t)s * 1000;
	} else if (json_is_string(v)) {
		if (config_parse_duration(json_string_value(v), &ms, &why))
			return check_bad(c, &l, "\"%.40s\": %s", json_string_value(v), why);
	} else {
		return check_bad(c, &l, "expected a duration like \"2s\" or \"500ms\", got %s",
				 check_describe(v, d, sizeof(d)));
	}
	if (ms < min_ms || ms > max_ms) {
		config_format_duration(min_ms, lo);
		config_format_duration(max_ms, hi);
		return check_bad(c, &l, "must be between %s and %s", lo, hi);
	}
	*out = (uint32_t)ms;
	return 0;
}

int check_table_size(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		     uint32_t *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	uint64_t m = 0;
	uint32_t p;
	int rc;

	rc = check_uint(c, at, obj, key, OPTIONAL, 1, KEEL_MAGLEV_MAX_SIZE, &m);
	if (rc || !m)
		return rc;
	if (!maglev_is_prime((uint32_t)m)) {
		/* Prime gaps below 2^20 are under 200: this loop is short. */
		for (p = (uint32_t)m + 1; p < KEEL_MAGLEV_MAX_SIZE && !maglev_is_prime(p); p++)
			;
		return check_bad(c, &l, "%llu is not prime (Maglev needs a prime size; try %u)",
				 (unsigned long long)m, p);
	}
	*out = (uint32_t)m;
	return 0;
}

