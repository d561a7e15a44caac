/* The scrape's per-configuration rows and ready text, rebuilt when the configuration changes (control_metrics_rows.c). */
#ifndef KEEL_CONTROL_METRICS_ROWS_H
#define KEEL_CONTROL_METRICS_ROWS_H

#include <stdint.h>
#include <stdio.h>

#include "health.h"

struct keel_control;
struct keel_config;
struct config_backend;

struct metrics_row {
	const struct config_backend *b; /* in the cached configuration */
	uint32_t vip;                   /* index in the configuration */
	int id;                         /* backend id (ids.h), -1 when none */
	uint32_t label;                 /* offset of 'vip="..",backend=".."' in labels */
};

/* One scrape's health figures of a row (filled per scrape; one health_get per backend). */
struct metrics_health {
	uint8_t checked; /* the VIP has a check and the checker knows the target */
	uint8_t up;
	uint32_t last_latency_us;
	uint64_t went_down, came_up, latency_sum_us;
	uint64_t hist[HEALTH_LATENCY_BUCKETS + 1];
};

struct metrics_rows {
	const struct keel_config *cfg;
	uint64_t applies;
	uint32_t n_rows;
	struct metrics_row *rows; /* in configuration order: VIP by VIP */
	struct {
		uint32_t first_row; /* rows of VIP i: [vips[i].first_row, vips[i + 1].first_row) */
		int id;             /* VIP id (ids.h), -1 when none */
	} *vips;                    /* n_vips + 1 */
	char *labels;
	/* weight and admin-state series [0, admin_len), then VIP info [admin_len, static_len) */
	char *static_text;
	size_t admin_len, static_len;
	struct metrics_health *health; /* n_rows, scratch for one scrape */
};

static inline const char *metrics_row_label(const struct metrics_rows *m, uint32_t r)
{
	return m->labels + m->rows[r].label;
}

/* The rows of the running configuration, under c->mu; NULL without memory. */
struct metrics_rows *control_metrics_rows(struct keel_control *c);
void control_metrics_free(struct keel_control *c);

/* name{label<extra>} v, with extra either NULL or ',k="v"'. */
void metrics_line_u64(FILE *f, const char *name, const char *label, const char *extra, uint64_t v);
/* The same with v millionths printed as %.6f would (durations kept in microseconds). */
void metrics_line_micro(FILE *f, const char *name, const char *label, const char *extra, uint64_t v);

#endif
