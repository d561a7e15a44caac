/* Prometheus text exposition (format 0.0.4) of keel-control's and the dataplane's figures, written by hand. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "control_bgp.h"
#include "control_fleet.h"
#include "control_metrics_rows.h"
#include "control_fleet_health.h"
#include "control_priv.h"
#include "control_slow_start.h"
#include "drop.h"
#include "pipeline.h"
#include "steering.h"

/*
 * Labels come from the configuration only (VIP names, backend addresses,
 * worker numbers, drop reasons), never from traffic, so the number of series
 * is bounded by what the operator configured. Every configured VIP and
 * backend has its series from the start, at zero.
 */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One health_get per backend and scrape, into the rows' scratch (control_metrics_rows.h). */
static void rows_health(struct keel_control *c, struct metrics_rows *m)
{
	const struct keel_config *cfg = c->cfg;
	uint32_t r, l;

	for (r = 0; r < m->n_rows; r++) {
		const struct config_vip *v = &cfg->vips[m->rows[r].vip];
		struct metrics_health *h = &m->health[r];
		struct health_status st = { 0 };
		struct health_target t;

		memset(h, 0, sizeof(*h));
		h->up = 1; /* no check, or not checked yet: a new backend starts up */
		if (v->health.type == CONFIG_HEALTH_NONE)
			continue;
		control_health_target(v, m->rows[r].b, &t);
		if (health_get(c->health, &t, &st))
			continue;
		h->checked = 1;
		h->up = health_status_routable(&st);
		h->last_latency_us = st.last_latency_us;
		h->went_down = st.went_down;
		h->came_up = st.came_up;
		h->latency_sum_us = st.latency_sum_us;
		for (l = 0; l <= HEALTH_LATENCY_BUCKETS; l++)
			h->hist[l] = st.latency_hist[l];
	}
}

/* Health transitions and check durations of the backends that have a check. */
static void backend_health_metrics(const struct keel_config *cfg, const struct metrics_rows *m, FILE *f)
{
	char le[HEALTH_LATENCY_BUCKETS + 1][32];
	uint32_t r, l;

	for (l = 0; l < HEALTH_LATENCY_BUCKETS; l++)
		snprintf(le[l], sizeof(le[l]), ",le=\"%g\"", health_latency_bounds_us[l] / 1e6);
	snprintf(le[HEALTH_LATENCY_BUCKETS], sizeof(le[0]), ",le=\"+Inf\"");
	head(f, "keel_backend_health_transitions_total", "counter",
	     "Health transitions of the backend: to=\"down\" when it stopped taking new flows, to=\"up\" when it came back.");
	for (r = 0; r < m->n_rows; r++) {
		if (cfg->vips[m->rows[r].vip].health.type == CONFIG_HEALTH_NONE)
			continue;
		metrics_line_u64(f, "keel_backend_health_transitions_total", metrics_row_label(m, r),
				 ",to=\"down\"", m->health[r].went_down);
		metrics_line_u64(f, "keel_backend_health_transitions_total", metrics_row_label(m, r),
				 ",to=\"up\"", m->health[r].came_up);
	}
	head(f, "keel_backend_check_duration_seconds", "histogram",
	     "Durations of the backend's health checks (connect, or HTTP to the status line).");
	for (r = 0; r < m->n_rows; r++) {
		const struct metrics_health *h = &m->health[r];
		const char *lab = metrics_row_label(m, r);
		uint64_t cum = 0;

		if (cfg->vips[m->rows[r].vip].health.type == CONFIG_HEALTH_NONE)
			continue;
		for (l = 0; l <= HEALTH_LATENCY_BUCKETS; l++) {
			cum += h->hist[l];
			metrics_line_u64(f, "keel_backend_check_duration_seconds_bucket", lab, le[l], cum);
		}
		metrics_line_micro(f, "keel_backend_check_duration_seconds_sum", lab, NULL, h->latency_sum_us);
		metrics_line_u64(f, "keel_backend_check_duration_seconds_count", lab, NULL, cum);
	}
}

/* A label value from outside the configuration (a port's name), escaped as the text format says. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/*
 * The health checker's schedule (health.h): probes in flight are bounded by a
 * budget from the open-file limit; checks that start late say the budget or
 * the intervals do not fit the number of targets.
 */
static void health_checker_metrics(struct keel_control *c, FILE *f)
{
	struct health_stats hs;

	health_stats(c->health, &hs);
	head(f, "keel_health_probe_budget", "gauge",
	     "Health probes allowed in flight at once (from the open-file limit).");
	fprintf(f, "keel_health_probe_budget %u\n", hs.budget);
	head(f, "keel_health_probes_in_flight", "gauge", "Health probes in flight now.");
	fprintf(f, "keel_health_probes_in_flight %u\n", hs.in_flight);
	head(f, "keel_health_probes_waiting", "gauge", "Health probes due now that wait for the budget.");
	fprintf(f, "keel_health_probes_waiting %u\n", hs.waiting);
	head(f, "keel_health_checks_started_total", "counter", "Health probes started.");
	fprintf(f, "keel_health_checks_started_total %" PRIu64 "\n", hs.started_total);
	head(f, "keel_health_checks_late_total", "counter",
	     "Health probes started more than a quarter of their interval (at least 100 ms) after they were due.");
	fprintf(f, "keel_health_checks_late_total %" PRIu64 "\n", hs.late_total);
	head(f, "keel_health_checks_deferred_total", "counter",
	     "Health probe starts put off because no socket could be opened (EMFILE, ENOBUFS).");
	fprintf(f, "keel_health_checks_deferred_total %" PRIu64 "\n", hs.deferred_total);
	head(f, "keel_health_schedule_behind", "gauge",
	     "1 while health checks run late (a late start in the last 10 s, or one waiting now).");
	fprintf(f, "keel_health_schedule_behind %d\n", hs.behind);
	head(f, "keel_health_schedule_lag_seconds", "gauge",
	     "How long the longest-waiting due health probe has waited.");
	fprintf(f, "keel_health_schedule_lag_seconds %.3f\n", hs.lag_ms / 1e3);
}

/* VIP names are [A-Za-z0-9_.-] (config validation), addresses are inet_ntop text: no escaping needed. */
void control_metrics(struct keel_control *c, FILE *f)
{
	struct keel_worker_counters *k = calloc(1, sizeof(*k));
	const struct keel_config *cfg;
	struct keel_seam_workers sum = { 0 }, *r = NULL; /* r: the dataplane's summary, NULL when none */
	struct keel_seam_port pp[8];
	struct metrics_rows *m;
	uint32_t np = 0;
	uint32_t i, j, w;

	if (!k)
		return;
	pthread_mutex_lock(&c->mu);
	cfg = c->cfg;
	if (c->seam && keel_seam_alive(c->seam)) {
		keel_seam_workers(c->seam, CONTROL_STALL_MS, &sum);
		r = &sum;
		np = keel_seam_ports(c->seam, pp, 8);
		keel_seam_sum_counters(c->seam, k);
	}

	head(f, "keel_build_info", "gauge", "Keel build; the value is always 1.");
	fprintf(f, "keel_build_info{version=\"0.1.0\"} 1\n");
	head(f, "keel_dataplane_up", "gauge", "Whether keel-dataplane is running and attached.");
	fprintf(f, "keel_dataplane_up %d\n", r != NULL);
	head(f, "keel_generation", "gauge", "Generation of the running forwarding state.");
	fprintf(f, "keel_generation %" PRIu64 "\n", c->generation);
	head(f, "keel_publishes_total", "counter", "Snapshots published to the dataplane.");
	fprintf(f, "keel_publishes_total %" PRIu64 "\n", c->publishes);
	head(f, "keel_publish_failures_total", "counter", "Snapshot publications that failed.");
	fprintf(f, "keel_publish_failures_total %" PRIu64 "\n", c->publish_failures);
	head(f, "keel_config_applies_total", "counter", "Configuration changes applied.");
	fprintf(f, "keel_config_applies_total %" PRIu64 "\n", c->applies);
	head(f, "keel_config_refused_total", "counter", "Configuration changes refused.");
	fprintf(f, "keel_config_refused_total %" PRIu64 "\n", c->refused);
	head(f, "keel_config_dry_run_refused_total", "counter",
	     "Previews (dry runs) of configuration changes that would be refused; not in keel_config_refused_total.");
	fprintf(f, "keel_config_dry_run_refused_total %" PRIu64 "\n", c->dry_run_refused);
	control_reload_metrics(c, f); /* reloads and API changes since the file (control_reload.c) */
	control_bgp_metrics(c, f); /* announcements and fleet consistency (control_bgp.h) */
	if (c->fleet)
		control_fleet_metrics(c->fleet, f); /* the fleet store (control_fleet.c) */
	if (c->fleet_health)
		fleet_health_metrics(c->fleet_health, f); /* health the fleet agrees on */

	head(f, "keel_received_packets_total", "counter", "Packets received by the workers.");
	fprintf(f, "keel_received_packets_total %" PRIu64 "\n", k->core.rx_pkts);
	head(f, "keel_received_bytes_total", "counter", "Bytes received by the workers.");
	fprintf(f, "keel_received_bytes_total %" PRIu64 "\n", k->core.rx_bytes);
	head(f, "keel_forwarded_packets_total", "counter", "Packets encapsulated to a backend.");
	fprintf(f, "keel_forwarded_packets_total %" PRIu64 "\n", k->core.fwd_pkts);
	head(f, "keel_answered_packets_total", "counter", "ICMP answers sent by the load balancer.");
	fprintf(f, "keel_answered_packets_total %" PRIu64 "\n", k->core.reply_pkts);
	head(f, "keel_kernel_packets_total", "counter", "Packets handed to the kernel (exception path).");
	fprintf(f, "keel_kernel_packets_total %" PRIu64 "\n", k->core.kernel_pkts);
	head(f, "keel_tx_refused_packets_total", "counter", "Packets the NIC refused to send.");
	fprintf(f, "keel_tx_refused_packets_total %" PRIu64 "\n", k->tx_dropped);
	head(f, "keel_dropped_packets_total", "counter", "Packets dropped, by reason.");
	for (i = 1; i < KEEL_DROP_MAX; i++)
		fprintf(f, "keel_dropped_packets_total{reason=\"%s\"} %" PRIu64 "\n", keel_drop_name(i),
			k->core.drops[i]);

	head(f, "keel_flow_table_entries", "gauge", "Tracked flows, summed over workers.");
	fprintf(f, "keel_flow_table_entries %" PRIu64 "\n", k->flows.occupancy);
	head(f, "keel_flow_table_capacity", "gauge", "Flow-table entries available, summed over workers.");
	fprintf(f, "keel_flow_table_capacity %" PRIu64 "\n",
		r ? (uint64_t)r->flow_capacity * r->n : 0);
	head(f, "keel_flow_table_lookups_total", "counter", "Flow-table lookups by result.");
	fprintf(f, "keel_flow_table_lookups_total{result=\"hit\"} %" PRIu64 "\n", k->flows.hits);
	fprintf(f, "keel_flow_table_lookups_total{result=\"miss\"} %" PRIu64 "\n", k->flows.misses);
	head(f, "keel_flow_table_evictions_total", "counter", "Live flows pushed out of a full table.");
	fprintf(f, "keel_flow_table_evictions_total %" PRIu64 "\n", k->flows.evictions);
	head(f, "keel_flow_table_untracked_total", "counter", "New flows forwarded untracked (new-flow rate).");
	fprintf(f, "keel_flow_table_untracked_total %" PRIu64 "\n", k->flows.insert_skipped);
	head(f, "keel_second_chance_total", "counter",
	     "Packets sent to a slot's new owner naming its previous one (second chance).");
	fprintf(f, "keel_second_chance_total %" PRIu64 "\n", k->core.second_chance);
	/* QUIC VIPs (docs/quic.md): short headers by whether their server id chose the backend. */
	head(f, "keel_quic_cid_routed_total", "counter",
	     "QUIC short-header packets routed to the backend their connection ID names.");
	fprintf(f, "keel_quic_cid_routed_total %" PRIu64 "\n", k->core.quic_cid_routed);
	head(f, "keel_quic_cid_unknown_total", "counter",
	     "QUIC short-header packets whose connection ID names no live backend: sent by flow hash.");
	fprintf(f, "keel_quic_cid_unknown_total %" PRIu64 "\n", k->core.quic_cid_unknown);

	control_next_hop_metrics(c, r ? k : NULL, f); /* several next hops (control_next_hop.c) */

	m = control_metrics_rows(c);
	if (!m)
		goto out;
	rows_health(c, m);
	head(f, "keel_vip_packets_total", "counter", "Packets forwarded per VIP.");
	for (i = 0; i < cfg->n_vips; i++)
		fprintf(f, "keel_vip_packets_total{vip=\"%s\"} %" PRIu64 "\n", cfg->vips[i].name,
			m->vips[i].id >= 0 ? k->core.vip[m->vips[i].id].pkts : 0);
	head(f, "keel_vip_bytes_total", "counter", "Bytes forwarded per VIP (as received).");
	for (i = 0; i < cfg->n_vips; i++)
		fprintf(f, "keel_vip_bytes_total{vip=\"%s\"} %" PRIu64 "\n", cfg->vips[i].name,
			m->vips[i].id >= 0 ? k->core.vip[m->vips[i].id].bytes : 0);
	/*
	 * Source lists: only VIPs that have one. One series whatever the mode (a
	 * label would restart it at each switch); the mode is in the configuration.
	 */
	head(f, "keel_vip_source_denied_packets_total", "counter",
	     "Packets the VIP's source list refused: dropped (mode enforce) or forwarded (mode count).");
	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].sources)
			fprintf(f, "keel_vip_source_denied_packets_total{vip=\"%s\"} %" PRIu64 "\n",
				cfg->vips[i].name,
				m->vips[i].id >= 0 ? k->core.vip_source_denied[m->vips[i].id] : 0);
	fwrite(m->static_text + m->admin_len, 1, m->static_len - m->admin_len, f); /* keel_vip_info */
	head(f, "keel_vip_tracked_flows", "gauge",
	     "Live flows the workers track for the VIP (IPVS's ActiveConn + InActConn), from their last census (about a second).");
	for (i = 0; i < cfg->n_vips; i++) {
		uint64_t n = 0;

		for (j = m->vips[i].first_row; j < m->vips[i + 1].first_row; j++)
			if (m->rows[j].id >= 0)
				n += k->backend_flows[m->rows[j].id];
		fprintf(f, "keel_vip_tracked_flows{vip=\"%s\"} %" PRIu64 "\n", cfg->vips[i].name, n);
	}
	head(f, "keel_vip_panic", "gauge", "1 while the VIP's panic threshold makes it ignore health checks.");
	for (i = 0; i < cfg->n_vips; i++)
		fprintf(f, "keel_vip_panic{vip=\"%s\"} %d\n", cfg->vips[i].name, c->panic[i]);

	{
		static const struct {
			const char *name, *help;
			int what;
		} per_be[] = {
			{ "keel_backend_packets_total", "Packets forwarded per backend.", 0 },
			{ "keel_backend_bytes_total", "Bytes forwarded per backend (as received).", 1 },
			{ "keel_backend_new_flows_total", "Flows assigned to the backend.", 2 },
			{ "keel_backend_tracked_flows",
			  "Live flows the workers track for the backend (IPVS's ActiveConn + InActConn), from their last census (about a second).",
			  3 },
		};

		for (w = 0; w < 4; w++) {
			head(f, per_be[w].name, w == 3 ? "gauge" : "counter", per_be[w].help);
			for (j = 0; j < m->n_rows; j++) {
				int id = m->rows[j].id;
				uint64_t val = 0;

				if (id >= 0)
					val = per_be[w].what == 0 ? k->core.backend[id].pkts :
					      per_be[w].what == 1 ? k->core.backend[id].bytes :
					      per_be[w].what == 2 ? k->core.backend[id].new_flows :
								    k->backend_flows[id];
				metrics_line_u64(f, per_be[w].name, metrics_row_label(m, j), NULL, val);
			}
		}
	}
	head(f, "keel_backend_up", "gauge", "1 when the backend passes its health check (or has none).");
	for (j = 0; j < m->n_rows; j++)
		metrics_line_u64(f, "keel_backend_up", metrics_row_label(m, j), NULL, m->health[j].up);
	head(f, "keel_backend_check_latency_seconds", "gauge", "Duration of the backend's last health check.");
	for (j = 0; j < m->n_rows; j++)
		metrics_line_micro(f, "keel_backend_check_latency_seconds", metrics_row_label(m, j), NULL,
				   m->health[j].last_latency_us);

	fwrite(m->static_text, 1, m->admin_len, f); /* keel_backend_weight, keel_backend_admin_state */
	backend_health_metrics(cfg, m, f);
	/* Slow start (control_slow_start.c): the weight a backend has in the running table. */
	head(f, "keel_backend_effective_weight", "gauge",
	     "The configured weight times the share slow start gives it while it ramps (health and admin state: keel_backend_up, keel_backend_admin_state).");
	for (j = 0; j < m->n_rows; j++) {
		uint32_t pct = 100;
		uint64_t until;

		if (!control_slow_start_ramp(c, m->rows[j].id, &pct, &until))
			pct = 100;
		metrics_line_micro(f, "keel_backend_effective_weight", metrics_row_label(m, j), NULL,
				   (uint64_t)m->rows[j].b->weight * pct * 10000);
	}

	{
		uint64_t sp[KEEL_STEER_MAX], sb[KEEL_STEER_MAX];
		const char *names[8];
		const struct steering_state *st = &c->steer;

		/* A VIP without its steering entries is passed to the kernel: it is not announced. */
		head(f, "keel_steer_required", "gauge",
		     "Whether a steering program (AF_XDP on a shared NIC) decides what reaches the dataplane.");
		fprintf(f, "keel_steer_required %d\n", st->required);
		head(f, "keel_steer_maps_visible", "gauge",
		     "Whether keel-control can read and write the steering program's VIP maps.");
		fprintf(f, "keel_steer_maps_visible %d\n", st->visible);
		head(f, "keel_steer_vips_missing", "gauge",
		     "VIPs the steering program does not steer (no entry in its maps): not announced.");
		fprintf(f, "keel_steer_vips_missing %u\n", st->required ? st->n_missing : 0);
		head(f, "keel_steer_sync_failures_total", "counter",
		     "Steering syncs that found a steering program whose maps could not be opened.");
		fprintf(f, "keel_steer_sync_failures_total %" PRIu64 "\n", st->failures);
		for (i = 0; i < np; i++)
			names[i] = pp[i].name;
		if (steering_counters(names, np, sp, sb) == 0) {
			head(f, "keel_steer_packets_total", "counter",
			     "Packets judged by the AF_XDP steering program, by verdict.");
			for (i = 0; i < KEEL_STEER_MAX; i++)
				fprintf(f, "keel_steer_packets_total{verdict=\"%s\"} %" PRIu64 "\n",
					steering_verdict_name(i), sp[i]);
		}
	}

	health_checker_metrics(c, f);

	if (r) {
		const struct {
			const char *name, *help;
			const uint64_t *v;
			size_t stride; /* of v, in uint64_t */
		} ports[] = {
			{ "keel_port_received_packets_total", "Packets received per port.", k->port_rx, 1 },
			{ "keel_port_transmitted_packets_total", "Packets sent per port.", k->port_tx, 1 },
			{ "keel_port_missed_packets_total", "Packets the NIC dropped: RX queues full.",
			  &pp[0].missed, sizeof(pp[0]) / sizeof(uint64_t) },
			{ "keel_port_rx_nombuf_total", "RX mbuf allocation failures per port.",
			  &pp[0].nombuf, sizeof(pp[0]) / sizeof(uint64_t) },
		};
		struct keel_worker_status st[KEEL_REGION_MAX_WORKERS];

		for (w = 0; w < sizeof(ports) / sizeof(ports[0]); w++) {
			head(f, ports[w].name, "counter", ports[w].help);
			for (i = 0; i < np; i++) {
				fprintf(f, "%s{port=\"%u\",interface=\"", ports[w].name, i);
				put_label(f, pp[i].name[0] ? pp[i].name : "?");
				fprintf(f, "\"} %" PRIu64 "\n", ports[w].v[i * ports[w].stride]);
			}
		}
		for (w = 0; w < r->n; w++)
			keel_seam_read_status(c->seam, w, &st[w]);
		head(f, "keel_worker_generation", "gauge", "Generation each worker forwards with.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_worker_generation{worker=\"%u\"} %" PRIu64 "\n", w,
				st[w].active_generation);
		head(f, "keel_worker_stalled", "gauge", "1 when a worker's heartbeat has not moved for a second.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_worker_stalled{worker=\"%u\"} %d\n", w, c->stalled[w]);
		head(f, "keel_worker_busy_cycles_total", "counter", "TSC cycles spent in loops that moved packets.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_worker_busy_cycles_total{worker=\"%u\"} %" PRIu64 "\n", w,
				st[w].busy_cycles);
		head(f, "keel_worker_idle_cycles_total", "counter", "TSC cycles spent in empty polls.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_worker_idle_cycles_total{worker=\"%u\"} %" PRIu64 "\n", w,
				st[w].idle_cycles);
		if (r->tsc_hz) {
			head(f, "keel_worker_busy_seconds_total", "counter",
			     "Seconds spent in polling loops that moved packets.");
			for (w = 0; w < r->n; w++)
				fprintf(f, "keel_worker_busy_seconds_total{worker=\"%u\"} %.6f\n", w,
					(double)st[w].busy_cycles / (double)r->tsc_hz);
			head(f, "keel_worker_idle_seconds_total", "counter", "Seconds spent in empty polls.");
			for (w = 0; w < r->n; w++)
				fprintf(f, "keel_worker_idle_seconds_total{worker=\"%u\"} %.6f\n", w,
					(double)st[w].idle_cycles / (double)r->tsc_hz);
		}
		head(f, "keel_worker_numa_mismatch", "gauge", "1 when a worker polls a port on another NUMA node.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_worker_numa_mismatch{worker=\"%u\"} %u\n", w, st[w].numa_mismatch);
		head(f, "keel_snapshot_refused_total", "counter", "Snapshots a worker refused as invalid.");
		for (w = 0; w < r->n; w++)
			fprintf(f, "keel_snapshot_refused_total{worker=\"%u\"} %" PRIu64 "\n", w,
				st[w].refused);
	}
out: /* without memory for the rows the scrape ends early; Prometheus sees the series it got */
	pthread_mutex_unlock(&c->mu);
	free(k);
}
