/*
 * The per-configuration part of the scrape (control_metrics_rows.h): one row
 * per configured backend with its label text and ids, and the series whose
 * values only the configuration sets (weight, admin state, VIP info) as
 * ready text. At 1000 VIPs x 16 backends a scrape writes ~170 000 lines;
 * formatting the same labels and looking up the same ids for each of them on
 * every scrape was most of its cost (issue 19 measured 507 ms).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "control_metrics_rows.h"
#include "control_priv.h"

static void rows_clear(struct metrics_rows *m)
{
	free(m->rows);
	free(m->vips);
	free(m->labels);
	free(m->static_text);
	free(m->health);
	memset(m, 0, sizeof(*m));
}

void control_metrics_free(struct keel_control *c)
{
	if (!c->metrics)
		return;
	rows_clear(c->metrics);
	free(c->metrics);
	c->metrics = NULL;
}

/*
 * Ready text grown in place: at 1000 x 16 the static series are 64 000
 * lines, 4 MB, and open_memstream with fprintf spent most of the first
 * scrape after an apply growing and zeroing its buffer. Lines are written
 * by the same writers as the per-scrape ones (line_u64), into room reserved
 * beforehand.
 */
struct text {
	char *p;
	size_t len, cap;
};

#define TEXT_LINE_MAX 512 /* line_head's bounds: name 200, label 200, extra 60, value 21 */

static int text_reserve(struct text *t, size_t n)
{
	char *p;
	size_t cap = t->cap ? t->cap : 4096;

	if (t->cap - t->len >= n)
		return 0;
	while (cap - t->len < n)
		cap *= 2;
	p = realloc(t->p, cap);
	if (!p)
		return -1;
	t->p = p;
	t->cap = cap;
	return 0;
}

static int text_puts(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (text_reserve(t, n + 1))
		return -1;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	return 0;
}

static size_t line_u64(char *buf, const char *name, const char *label, const char *extra, uint64_t v);

static int text_u64(struct text *t, const char *name, const char *label, const char *extra, uint64_t v)
{
	if (text_reserve(t, TEXT_LINE_MAX))
		return -1;
	t->len += line_u64(t->p + t->len, name, label, extra, v);
	return 0;
}

/* The weight, admin-state and VIP-info series: their values change only with the configuration. */
static int static_text(struct metrics_rows *m, const struct keel_config *cfg)
{
	static const uint8_t states[] = { CONFIG_BACKEND_ACTIVE, CONFIG_BACKEND_DRAINING,
					  CONFIG_BACKEND_DISABLED };
	char a[CONFIG_TEXT_MAX], extra[3][32];
	struct text t = { 0 };
	uint32_t i, r, s;
	int err = 0;

	/* About 4 lines of 80 bytes per row: one allocation in the common case. */
	err |= text_reserve(&t, (size_t)m->n_rows * 320 + (size_t)cfg->n_vips * 160 + 4096);
	for (s = 0; s < sizeof(states); s++)
		snprintf(extra[s], sizeof(extra[s]), ",state=\"%s\"", config_backend_state_name(states[s]));
	err |= text_puts(&t, "# HELP keel_backend_weight The backend's configured weight (0 takes no new flows).\n"
			     "# TYPE keel_backend_weight gauge\n");
	for (r = 0; r < m->n_rows; r++)
		err |= text_u64(&t, "keel_backend_weight", metrics_row_label(m, r), NULL, m->rows[r].b->weight);
	err |= text_puts(&t, "# HELP keel_backend_admin_state 1 for the backend's administrative state (active, draining: no new flows, disabled: out of the table), 0 for the others.\n"
			     "# TYPE keel_backend_admin_state gauge\n");
	for (r = 0; r < m->n_rows; r++)
		for (s = 0; s < sizeof(states); s++)
			err |= text_u64(&t, "keel_backend_admin_state", metrics_row_label(m, r), extra[s],
					m->rows[r].b->state == states[s]);
	m->admin_len = t.len;
	err |= text_puts(&t, "# HELP keel_vip_info The VIP's address, port (\"all\" for every port), protocol and encapsulation; the value is always 1.\n"
			     "# TYPE keel_vip_info gauge\n");
	for (i = 0; !err && i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		char port[8];
		int w;

		snprintf(port, sizeof(port), v->all_ports ? "all" : "%u", v->port);
		/* Names and addresses are bounded by the configuration's text limits: well inside a line. */
		if (text_reserve(&t, TEXT_LINE_MAX))
			break;
		w = snprintf(t.p + t.len, TEXT_LINE_MAX,
			     "keel_vip_info{vip=\"%s\",address=\"%s\",port=\"%s\",protocol=\"%s\",encap=\"%s\"} 1\n",
			     v->name, config_format_addr(v->addr, v->family, a), port, config_proto_name(v->proto),
			     config_encap_name(v->encap));
		if (w < 0 || w >= TEXT_LINE_MAX)
			err = -1;
		else
			t.len += (size_t)w;
	}
	m->static_text = t.p;
	m->static_len = t.len;
	return err || i < cfg->n_vips ? -1 : 0;
}

static int rows_build(struct keel_control *c, struct metrics_rows *m)
{
	const struct keel_config *cfg = c->cfg;
	char a[CONFIG_TEXT_MAX];
	uint32_t i, j, n = 0, r = 0;
	size_t off = 0, cap;

	for (i = 0; i < cfg->n_vips; i++)
		n += cfg->vips[i].n_backends;
	/* vip="<name>",backend="<address>": both bounded by the configuration's text limits. */
	cap = (size_t)n * (CONFIG_NAME_MAX + CONFIG_TEXT_MAX + 20) + 1;
	m->rows = calloc(n ? n : 1, sizeof(*m->rows));
	m->health = calloc(n ? n : 1, sizeof(*m->health));
	m->vips = calloc(cfg->n_vips + 1, sizeof(*m->vips));
	m->labels = malloc(cap);
	if (!m->rows || !m->health || !m->vips || !m->labels)
		return -1;
	m->n_rows = n;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		m->vips[i].first_row = r;
		m->vips[i].id = ids_vip(c->ids, v->name);
		for (j = 0; j < v->n_backends; j++, r++) {
			const struct config_backend *b = &v->backends[j];
			int w = snprintf(m->labels + off, cap - off, "vip=\"%s\",backend=\"%s\"", v->name,
					 config_format_addr(b->addr, b->family, a));

			if (w < 0 || (size_t)w >= cap - off)
				return -1;
			m->rows[r].vip = i;
			m->rows[r].b = b;
			m->rows[r].id = ids_backend(c->ids, v->name, b->addr, b->family);
			m->rows[r].label = (uint32_t)off;
			off += (size_t)w + 1;
		}
	}
	m->vips[cfg->n_vips].first_row = r;
	return static_text(m, cfg);
}

/* Under c->mu. The key is the configuration and the apply count: both change together with ids. */
struct metrics_rows *control_metrics_rows(struct keel_control *c)
{
	struct metrics_rows *m = c->metrics;

	if (m && m->cfg == c->cfg && m->applies == c->applies)
		return m;
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return NULL;
		c->metrics = m;
	}
	rows_clear(m);
	if (rows_build(c, m)) {
		rows_clear(m);
		return NULL;
	}
	m->cfg = c->cfg;
	m->applies = c->applies;
	return m;
}

static size_t put_u64(char *buf, uint64_t v, int min_digits)
{
	char digits[24];
	size_t n = 0;
	int d = 0;

	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v || d < min_digits);
	while (d)
		buf[n++] = digits[--d];
	return n;
}

/* name{label extra} and the space; 0 when a part is longer than the line allows. */
static size_t line_head(char *buf, const char *name, const char *label, const char *extra)
{
	size_t ln = strlen(name), ll = strlen(label), le = extra ? strlen(extra) : 0, n = 0;

	if (ln > 200 || ll > 200 || le > 60)
		return 0;
	memcpy(buf, name, ln);
	n = ln;
	buf[n++] = '{';
	memcpy(buf + n, label, ll);
	n += ll;
	memcpy(buf + n, extra ? extra : "", le);
	n += le;
	buf[n++] = '}';
	buf[n++] = ' ';
	return n;
}

static size_t line_u64(char *buf, const char *name, const char *label, const char *extra, uint64_t v)
{
	size_t n = line_head(buf, name, label, extra);

	if (!n)
		return 0;
	n += put_u64(buf + n, v, 1);
	buf[n++] = '\n';
	return n;
}

/* One series line without printf's format parsing: the scrape writes ~170 000 of them. */
void metrics_line_u64(FILE *f, const char *name, const char *label, const char *extra, uint64_t v)
{
	char buf[TEXT_LINE_MAX];
	size_t n = line_u64(buf, name, label, extra, v);

	if (n)
		fwrite(buf, 1, n, f);
}

void metrics_line_micro(FILE *f, const char *name, const char *label, const char *extra, uint64_t v)
{
	char buf[TEXT_LINE_MAX];
	size_t n = line_head(buf, name, label, extra);

	if (!n)
		return;
	n += put_u64(buf + n, v / 1000000, 1);
	buf[n++] = '.';
	n += put_u64(buf + n, v % 1000000, 6);
	buf[n++] = '\n';
	fwrite(buf, 1, n, f);
}
