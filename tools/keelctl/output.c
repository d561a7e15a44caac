/* keelctl's human output: tables sized to the terminal, numbers with units; and JSON as the API gave it. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "keelctl.h"

#define TABLE_MAX_COLS 12

struct table {
	int ncols, nrows, cap;
	const char *heads[TABLE_MAX_COLS];
	bool right[TABLE_MAX_COLS];
	int flex; /* -1: none */
	char **cells; /* nrows * ncols */
};

int term_cols(void)
{
	struct winsize ws;
	const char *e = getenv("COLUMNS");

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 20)
		return ws.ws_col;
	if (e && atoi(e) >= 20)
		return atoi(e);
	return 80;
}

struct table *table_new(int ncols, const char *const *heads)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t || ncols > TABLE_MAX_COLS) {
		free(t);
		return NULL;
	}
	t->ncols = ncols;
	t->flex = -1;
	memcpy(t->heads, heads, (size_t)ncols * sizeof(*heads));
	return t;
}

void table_right(struct table *t, int col)
{
	if (t && col < t->ncols)
		t->right[col] = true;
}

void table_flex(struct table *t, int col)
{
	if (t)
		t->flex = col;
}

void table_add(struct table *t, ...)
{
	va_list ap;
	char **nc;
	int i;

	if (!t)
		return;
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		nc = realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof(*nc));
		if (!nc)
			abort(); /* a CLI out of memory has nothing better to do */
		t->cells = nc;
	}
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		/* NULL: no value ("-"); "": a blank cell, e.g. a row that continues the one above. */
		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

void table_print(struct ctl *c, struct table *t)
{
	int w[TABLE_MAX_COLS], total = 0, i, r;

	if (!t)
		return;
	for (i = 0; i < t->ncols; i++) {
		w[i] = (int)strlen(t->heads[i]);
		for (r = 0; r < t->nrows; r++) {
			int l = (int)strlen(t->cells[r * t->ncols + i]);

			if (l > w[i])
				w[i] = l;
		}
		total += w[i] + (i ? 2 : 0);
	}
	/* Too wide: the flexible column (reasons, messages) gives way, down to 8 characters. */
	if (total > c->cols && t->flex >= 0) {
		int cut = total - c->cols;

		w[t->flex] = w[t->flex] - cut < 8 ? (w[t->flex] < 8 ? w[t->flex] : 8) : w[t->flex] - cut;
	}
	for (r = -1; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const char *s = r < 0 ? t->heads[i] : t->cells[r * t->ncols + i];
			int l = (int)strlen(s), last = i == t->ncols - 1;

			if (i)
				fputs("  ", stdout);
			if (l > w[i]) /* truncated: say so */
				printf("%.*s~", w[i] - 1, s);
			else if (t->right[i])
				printf("%*s", w[i], s);
			else if (last) /* no trailing blanks */
				fputs(s, stdout);
			else
				printf("%-*s", w[i], s);
		}
		putchar('\n');
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* SI prefixes (powers of 1000), as ipvsadm --rate and iproute2 -h print rates. */
static const char *si(double v, const char *unit, const char *sep, char *buf, size_t len)
{
	static const char p[] = " KMGTP";
	int i = 0;

	while (fabs(v) >= 999.95 && i < 5) {
		v /= 1000;
		i++;
	}
	if (!i)
		snprintf(buf, len, "%.0f%s%s", v, sep, unit);
	else
		snprintf(buf, len, "%.*f%s%c%s", fabs(v) < 10 ? 2 : fabs(v) < 100 ? 1 : 0, v, sep, p[i],
			 unit);
	return buf;
}

const char *fmt_count(double v, char *buf, size_t len)
{
	return si(v, "", "", buf, len);
}

const char *fmt_rate(double v, const char *unit, char *buf, size_t len)
{
	return si(v, unit, " ", buf, len);
}

const char *fmt_bytes(double v, char *buf, size_t len)
{
	return si(v, "B", " ", buf, len);
}

const char *fmt_share(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f%%", v * 100);
	return buf;
}

const char *fmt_age(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

void json_print(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

int64_t jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

double jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}
