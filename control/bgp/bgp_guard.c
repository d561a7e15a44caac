/* keel-announce-guard: the dataplane's liveness, without keel-control, tied to keel's announcement routes. */
#include "bgp_guard.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bgp.h"
#include "bgp_kernel.h"
#include "config.h"
#include "config_field.h"
#include "log.h"
#include "notify.h"
#include "seam.h"

struct guard {
	char instance[CONFIG_NAME_MAX];
	bool enabled;
	uint32_t table;
	uint8_t protocol;
	struct keel_seam *seam;
	uint64_t seam_tried_ms;
	bool serving;    /* the last tick's verdict (logged on change) */
	bool first;      /* no verdict logged yet */
	bool list_error; /* the table could not be read: logged once */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int load(struct guard *g, const char *path)
{
	struct keel_config *cfg = NULL;
	struct config_error err;

	if (config_load_file(path, &cfg, &err)) {
		log_event(LOG_ERROR, "guard_config_refused", "file=%s reason=%s", path, err.msg);
		return -1;
	}
	if (strcmp(g->instance, cfg->instance) && g->seam) {
		keel_seam_close(g->seam);
		g->seam = NULL;
	}
	snprintf(g->instance, sizeof(g->instance), "%s", cfg->instance);
	g->enabled = cfg->bgp.enabled;
	g->table = cfg->bgp.table;
	g->protocol = cfg->bgp.protocol;
	config_free(cfg);
	log_event(LOG_INFO, "guard_watching", "instance=%s table=%u protocol=%u bgp=%s", g->instance,
		  g->table, g->protocol, g->enabled ? "enabled" : "disabled");
	return 0;
}

/* The same verdict as keel-control's liveness thread: alive, current and no worker stalled. */
static bool dataplane_serving(struct guard *g, uint64_t now, const char **why)
{
	struct keel_seam_workers sum;

	if (g->seam && !keel_seam_current(g->seam, g->instance)) {
		keel_seam_close(g->seam);
		g->seam = NULL;
	}
	if (!g->seam && now - g->seam_tried_ms >= 200) {
		g->seam_tried_ms = now;
		g->seam = keel_seam_attach(g->instance, NULL);
	}
	if (!g->seam || !keel_seam_alive(g->seam)) {
		*why = "dataplane down";
		return false;
	}
	keel_seam_workers(g->seam, BGP_STALL_MS, &sum);
	if (sum.stalled) {
		*why = "worker stalled";
		return false;
	}
	*why = "dataplane running";
	return true;
}

/* Delete every route of ours in the table: a dump, then one delete per route (none: one dump). */
static void withdraw_all(struct guard *g, const char *why)
{
	struct bgp_route r[CONFIG_MAX_VIPS];
	char t[CONFIG_TEXT_MAX];
	int n = bgp_kernel_list(g->table, g->protocol, r, CONFIG_MAX_VIPS), i;

	if (n < 0) {
		if (!g->list_error)
			log_event(LOG_ERROR, "guard_table_unreadable", "table=%u reason=%s", g->table,
				  strerror(-n));
		g->list_error = true;
		return;
	}
	g->list_error = false;
	for (i = 0; i < n; i++) {
		int ret = bgp_kernel_del(g->table, g->protocol, &r[i]);

		log_event(ret ? LOG_ERROR : LOG_WARN, "guard_withdraw", "address=%s table=%u reason=%s%s%s",
			  config_format_addr(r[i].addr, r[i].family, t), g->table, why,
			  ret ? " error=" : "", ret ? strerror(-ret) : "");
	}
}

int bgp_guard_run(const char *config_path, int sfd)
{
	struct guard g = { .first = true };

	if (!config_path) {
		fprintf(stderr, "keel-control: --announce-guard needs --config FILE\n");
		return 64;
	}
	if (load(&g, config_path))
		return 65;
	/* Type=notify: ready once it watches (keel-control's unit may start after it). */
	notify_send("READY=1\nSTATUS=watching");
	for (;;) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;
		const char *why;
		bool serving;

		if (g.enabled) {
			serving = dataplane_serving(&g, now_ms(), &why);
			if (g.first || serving != g.serving)
				log_event(serving ? LOG_INFO : LOG_WARN, "guard_dataplane", "instance=%s state=%s",
					  g.instance, why);
			g.first = false;
			g.serving = serving;
			/* Every tick while it is down: whatever a keel-control adds meanwhile goes too. */
			if (!serving)
				withdraw_all(&g, why);
		}
		if (poll(&pfd, 1, BGP_TICK_MS) <= 0 || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			load(&g, config_path); /* refused: the last good one stays */
			g.first = true;
			continue;
		}
		/* A stopping guard leaves the routes: keel-control (or the next guard) owns them. */
		log_event(LOG_INFO, "guard_stopping", "signal=%s routes=%s", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM",
			  "left as they are");
		break;
	}
	if (g.seam)
		keel_seam_close(g.seam);
	return 0;
}
