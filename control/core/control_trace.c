/* keelctl trace's side in keel-control: a filter from JSON armed through the seam, and the workers' records as JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "control_priv.h"
#include "audit.h"
#include "config_field.h"
#include "drop.h"

json_t *control_trace_arm(struct keel_control *c, const struct keel_trace_filter *filter, const char *vip,
			  char *why, size_t whylen)
{
	struct keel_trace_filter f = *filter;
	const char *bad = NULL;
	uint64_t seq;
	int rc;

	/* A change to the dataplane: under edit_mu, as a flush (control_flush). */
	pthread_mutex_lock(&c->edit_mu);
	if (vip && *vip) {
		int id;

		pthread_mutex_lock(&c->mu);
		id = config_vip_find(c->cfg, vip, NULL) ? ids_vip(c->ids, vip) : -1;
		pthread_mutex_unlock(&c->mu);
		if (id < 0) {
			pthread_mutex_unlock(&c->edit_mu);
			snprintf(why, whylen, "no VIP named %.64s", vip);
			errno = ENOENT;
			return NULL;
		}
		f.vip = (uint16_t)id;
	}
	rc = c->seam ? keel_seam_trace_arm(c->seam, &f, &seq, &bad) : -ENOTCONN;
	pthread_mutex_unlock(&c->edit_mu);
	if (rc) {
		snprintf(why, whylen, "%s", rc == -EINVAL && bad ? bad : "dataplane not running");
		errno = -rc;
		return NULL;
	}
	return json_pack("{s:b,s:I,s:i,s:i}", "armed", 1, "trace", (json_int_t)seq, "count", (int)f.count,
			 "duration_ms", (int)f.duration_ms);
}

int control_trace_stop(struct keel_control *c, char *why, size_t whylen)
{
	int rc = 0;

	pthread_mutex_lock(&c->edit_mu);
	if (c->seam)
		keel_seam_trace_disarm(c->seam);
	else
		rc = -ENOTCONN;
	pthread_mutex_unlock(&c->edit_mu);
	if (rc)
		snprintf(why, whylen, "dataplane not running");
	return rc;
}

static const char *verdict_name(uint8_t v)
{
	switch (v) {
	case KEEL_VERDICT_FORWARD:
		return "forward";
	case KEEL_VERDICT_REPLY:
		return "reply";
	case KEEL_VERDICT_KERNEL:
		return "kernel";
	default:
		return "drop";
	}
}

static const char *flow_name(uint8_t f)
{
	static const char *const names[] = { "none", "hit", "miss", "inserted", "rechosen" };

	return f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

static const char *proto_name(uint8_t p, char *buf)
{
	switch (p) {
	case KEEL_PROTO_TCP:
		return "tcp";
	case KEEL_PROTO_UDP:
		return "udp";
	case KEEL_PROTO_ICMP:
		return "icmp";
	case KEEL_PROTO_ICMPV6:
		return "icmpv6";
	default:
		snprintf(buf, 8, "%u", p);
		return buf;
	}
}

/* The output frame's outer IP header (after Ethernet and one VLAN tag), or null when not IP. */
static json_t *outer_json(const struct keel_trace_record *r)
{
	const uint8_t *b = r->out;
	char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[8];
	uint32_t off = 14, l4;
	uint16_t et;
	uint8_t proto;
	json_t *o;

	if (r->out_caplen < 14)
		return json_null();
	et = (uint16_t)(b[12] << 8 | b[13]);
	if (et == 0x8100 && r->out_caplen >= 18) {
		et = (uint16_t)(b[16] << 8 | b[17]);
		off = 18;
	}
	if (et == 0x0800 && r->out_caplen >= off + 20) {
		inet_ntop(AF_INET, b + off + 12, a, sizeof(a));
		inet_ntop(AF_INET, b + off + 16, d, sizeof(d));
		proto = b[off + 9];
		l4 = off + (uint32_t)(b[off] & 15) * 4;
		o = json_pack("{s:s,s:s,s:s,s:i,s:i}", "src", a, "dst", d, "proto", proto_name(proto, pb),
			      "ttl", b[off + 8], "len", b[off + 2] << 8 | b[off + 3]);
	} else if (et == 0x86dd && r->out_caplen >= off + 40) {
		inet_ntop(AF_INET6, b + off + 8, a, sizeof(a));
		inet_ntop(AF_INET6, b + off + 24, d, sizeof(d));
		proto = b[off + 6];
		l4 = off + 40;
		o = json_pack("{s:s,s:s,s:s,s:i,s:i}", "src", a, "dst", d, "proto", proto_name(proto, pb),
			      "ttl", b[off + 7], "len", 40 + (b[off + 4] << 8 | b[off + 5]));
	} else {
		return json_null();
	}
	if (!o)
		return json_null();
	/* GUE and other UDP encapsulations: the outer destination port. */
	if (proto == KEEL_PROTO_UDP && r->out_caplen >= l4 + 4)
		json_object_set_new(o, "dport", json_integer(b[l4 + 2] << 8 | b[l4 + 3]));
	if (off == 18)
		json_object_set_new(o, "vlan", json_integer((b[14] << 8 | b[15]) & 0xfff));
	return o;
}

/* A backend id of the active snapshot as its address, or null. */
static json_t *backend_json(const struct keel_snapshot *s, uint16_t id)
{
	char a[INET6_ADDRSTRLEN];

	if (!s || id >= s->n_backends)
		return json_null();
	return json_string(config_format_addr(keel_snapshot_backends(s)[id].addr,
					      keel_snapshot_backends(s)[id].family, a));
}

/* A stable VIP id as its name in the running configuration, or null. */
static json_t *vip_name_json(struct keel_control *c, uint16_t id)
{
	uint32_t i;

	if (id == KEEL_TRACE_ANY_VIP)
		return json_null();
	for (i = 0; i < c->cfg->n_vips; i++)
		if (ids_vip(c->ids, c->cfg->vips[i].name) == id)
			return json_string(c->cfg->vips[i].name);
	return json_null();
}

static json_t *record_json(struct keel_control *c, const struct keel_snapshot *s,
			   const struct keel_seam_trace_record *sr)
{
	const struct keel_trace_record *r = &sr->rec;
	char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[8];
	json_t *o;

	o = json_pack("{s:i,s:i,s:i,s:I,s:i}", "worker", (int)sr->worker, "port", r->port, "queue", r->queue,
		      "time_ms", (json_int_t)r->now_ms, "in_len", r->in_len);
	if (r->parsed) {
		int af = r->key.family == KEEL_AF_INET4 ? AF_INET : AF_INET6;

		inet_ntop(af, r->key.src, a, sizeof(a));
		inet_ntop(af, r->key.dst, d, sizeof(d));
		json_object_set_new(o, "tuple", json_pack("{s:i,s:s,s:s,s:i,s:s,s:i}", "family",
							  r->key.family, "proto", proto_name(r->key.proto, pb),
							  "src", a, "sport", ntohs(r->key.sport), "dst", d,
							  "dport", ntohs(r->key.dport)));
	} else {
		json_object_set_new(o, "tuple", json_null());
	}
	json_object_set_new(o, "vip", vip_name_json(c, r->vip));
	json_object_set_new(o, "flow", json_string(flow_name(r->flow)));
	if (r->vip != KEEL_TRACE_ANY_VIP && r->flow != KEEL_TRACE_FLOW_NONE) {
		json_object_set_new(o, "slot", json_integer(r->slot));
		json_object_set_new(o, "hash", json_integer(r->hash));
	}
	json_object_set_new(o, "backend", backend_json(s, r->backend));
	json_object_set_new(o, "second_chance", json_boolean(r->second_chance));
	if (r->second_chance)
		json_object_set_new(o, "previous_owner", backend_json(s, r->prev_backend));
	json_object_set_new(o, "verdict", json_string(verdict_name(r->verdict)));
	json_object_set_new(o, "drop_reason", r->verdict == KEEL_VERDICT_DROP ?
				json_string(keel_drop_name(r->drop)) : json_null());
	json_object_set_new(o, "out_len", json_integer(r->out_len));
	json_object_set_new(o, "outer", outer_json(r));
	return o;
}

json_t *control_trace_json(struct keel_control *c, char *why, size_t whylen)
{
	struct keel_seam_trace_record *recs;
	struct keel_seam_trace t;
	const struct keel_snapshot *s = NULL;
	json_t *out = NULL, *arr;
	uint32_t i, max = KEEL_TRACE_RECORDS * 2;

	recs = calloc(max, sizeof(*recs));
	if (!recs) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	if (!c->seam) {
		snprintf(why, whylen, "dataplane not running");
		errno = ENOTCONN;
		goto out;
	}
	keel_seam_trace_collect(c->seam, &t, recs, max);
	/* Records oldest first, over all workers. */
	for (i = 1; i < t.n; i++) {
		struct keel_seam_trace_record x = recs[i];
		uint32_t j = i;

		while (j > 0 && recs[j - 1].rec.now_ms > x.rec.now_ms) {
			recs[j] = recs[j - 1];
			j--;
		}
		recs[j] = x;
	}
	s = keel_seam_read_active(c->seam);
	arr = json_array();
	for (i = 0; i < t.n; i++)
		json_array_append_new(arr, record_json(c, s, &recs[i]));
	if (s)
		keel_seam_read_done(c->seam);
	out = json_pack("{s:I,s:b,s:b,s:I,s:i,s:i,s:i,s:o}", "trace", (json_int_t)t.seq, "armed", t.armed,
			/* Done once every worker took it up and none traces any more (or the count is in). */
			"done", !t.armed || (t.taken_up == t.n_workers && t.running == 0) || t.taken >= t.filter.count,
			"taken",
			(json_int_t)(t.taken < t.filter.count ? t.taken : t.filter.count), "count",
			(int)t.filter.count, "duration_ms", (int)t.filter.duration_ms, "workers_tracing",
			(int)t.running, "records", arr);
out:
	pthread_mutex_unlock(&c->mu);
	free(recs);
	return out;
}

json_t *control_history_json(struct keel_control *c, size_t n)
{
	/* The audit log has its own lock: no control lock needed, c->audit is set once at start. */
	return json_pack("{s:o}", "events", audit_history_json(c->audit, n));
}
