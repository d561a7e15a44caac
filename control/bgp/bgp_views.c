/* The announcement runtime's views: the JSON of keelctl bgp and the Prometheus metrics. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "bgp_priv.h"
#include "config.h"
#include "config_field.h"

json_t *bgp_json(struct bgp *b)
{
	json_t *vips = json_array(), *peers = json_array(), *o;
	uint64_t now = now_ms();
	char t[CONFIG_TEXT_MAX];
	uint32_t i;

	pthread_mutex_lock(&b->mu);
	for (i = 0; vips && i < b->in.n_vips && b->has_inputs; i++) {
		const struct bgp_addr *a = &b->addrs[b->vip_addr[i]];

		json_t *to = json_array();
		uint32_t k;

		/* announced: in keel's kernel table; exported: what BIRD sends each peer. */
		for (k = 0; to && k < b->n_peers; k++)
			if (b->speaker_up && (a->exported >> k) & 1)
				json_array_append_new(to, json_string(b->peers[k].label));
		json_array_append_new(vips, json_pack("{s:s,s:s,s:b,s:I,s:o*,s:s,s:I,s:s,s:I,s:I}",
			"vip", b->vips[i].name, "address",
			config_format_addr(a->addr, a->family, t), "announced",
			a->st.pref != BGP_PREF_WITHDRAWN, "exported", (json_int_t)json_array_size(to),
			"exported_to", to, "preference", bgp_pref_name(a->st.pref),
			"metric", (json_int_t)metric_of(b, a->st.pref), "reason",
			bgp_why_name(a->st.why), "for_ms", (json_int_t)(a->st.since_ms ? now - a->st.since_ms : 0),
			"held_for_ms", (json_int_t)(a->held_until > now ? a->held_until - now : 0)));
	}
	for (i = 0; peers && i < b->n_peers; i++)
		json_array_append_new(peers, json_pack("{s:s,s:s,s:I,s:b,s:s,s:s,s:o,s:s?}", "peer",
			b->peers[i].label, "protocol", b->peers[i].name, "asn",
			(json_int_t)b->peers[i].asn, "up", b->peers[i].p.up, "state",
			b->peers[i].p.state[0] ? b->peers[i].p.state : "unknown", "info",
			b->peers[i].p.info, "exported_routes",
			b->speaker_up && b->peers[i].export_known ?
				json_integer((json_int_t)b->peers[i].exported) : json_null(),
			"export_error", b->peers[i].export_error[0] ? b->peers[i].export_error : NULL));
	o = json_pack("{s:b,s:b,s:s?,s:b,s:b,s:I,s:I,s:{s:b,s:b,s:b},s:I,s:I,s:I,s:o,s:o}",
		"enabled", b->cfg.enabled, "speaker_up", b->speaker_up, "speaker_error",
		b->speaker_error[0] ? b->speaker_error : NULL, "draining", b->draining,
		"forwarding_stopped", b->persisted && elapsed_locked(b), "drain_wait_ms",
		(json_int_t)(b->draining ? b->drain_wait_ms : b->cfg.drain_wait_ms),
		"drain_left_ms", (json_int_t)(b->draining && !elapsed_locked(b) ?
			b->drain_wait_ms - (now - b->drain_since_ms) : 0),
		"dataplane", "alive", b->host.dp_alive, "stalled", b->host.stalled,
		"generation_current", b->host.gen_current, "table", (json_int_t)b->cfg.table,
		"announces", (json_int_t)b->announces, "withdraws", (json_int_t)b->withdraws,
		"vips", vips, "peers", peers);
	if (o)
		json_object_set_new(o, "store_lost", json_boolean(b->store_lost));
	pthread_mutex_unlock(&b->mu);
	if (!o)
		errno = ENOMEM;
	return o;
}

static void head(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void bgp_metrics(struct bgp *b, FILE *f)
{
	uint32_t i;

	pthread_mutex_lock(&b->mu);
	head(f, "keel_bgp_speaker_up", "Whether BIRD answered on its control socket at the last poll.");
	fprintf(f, "keel_bgp_speaker_up %d\n", b->cfg.enabled && b->speaker_up);
	head(f, "keel_host_draining", "Whether this host is drained (keelctl host drain) or stopping.");
	fprintf(f, "keel_host_draining %d\n", b->draining);
	head(f, "keel_bgp_announced", "Whether the VIP's address is announced (a route in keel's table).");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_announced{vip=\"%s\"} %d\n", b->vips[i].name,
			b->addrs[b->vip_addr[i]].st.pref != BGP_PREF_WITHDRAWN);
	head(f, "keel_bgp_preference",
	     "Route metric (BGP MED) announced for the VIP's address: lower is preferred, 0 withdrawn.");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_preference{vip=\"%s\"} %u\n", b->vips[i].name,
			metric_of(b, b->addrs[b->vip_addr[i]].st.pref));
	head(f, "keel_bgp_exported_peers",
	     "BGP peers BIRD exports the VIP's address to (show route export), whatever keel's table holds.");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_exported_peers{vip=\"%s\"} %d\n", b->vips[i].name,
			b->speaker_up ? __builtin_popcount(b->addrs[b->vip_addr[i]].exported) : 0);
	head(f, "keel_bgp_peer_exported_routes", "Routes BIRD exports to the peer (0 while BIRD or the session is down).");
	for (i = 0; i < b->n_peers; i++)
		fprintf(f, "keel_bgp_peer_exported_routes{peer=\"%s\"} %u\n", b->peers[i].label,
			b->speaker_up ? b->peers[i].exported : 0);
	head(f, "keel_bgp_session_up", "Whether BIRD's BGP session to the peer is Established.");
	for (i = 0; i < b->n_peers; i++)
		fprintf(f, "keel_bgp_session_up{peer=\"%s\"} %d\n", b->peers[i].label,
			b->speaker_up && b->peers[i].p.up);
	pthread_mutex_unlock(&b->mu);
}
