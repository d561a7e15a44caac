/* The audit log's compact diff of two configuration models (by VIP name and backend address, not position). */
#include "config_diff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_field.h"
#include "config_sources.h"

struct diff {
	json_t *out;
	size_t max, more;
};

static void line(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct diff *d, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (json_array_size(d->out) >= d->max) {
		d->more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(d->out, json_string(buf));
}

static const char *state_name(uint8_t s)
{
	return s == CONFIG_BACKEND_DRAINING ? "draining" : s == CONFIG_BACKEND_DISABLED ? "disabled" : "active";
}

static const char *proto_name(uint8_t p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : "other";
}

static const struct config_backend *find_backend(const struct config_vip *v, const struct config_backend *b)
{
	uint32_t i;

	for (i = 0; i < v->n_backends; i++)
		if (v->backends[i].family == b->family && !memcmp(v->backends[i].addr, b->addr, 16))
			return &v->backends[i];
	return NULL;
}

/* One VIP in both: its own fields, then its backends. */
static void vip_diff(struct diff *d, const struct config_vip *a, const struct config_vip *b)
{
	char x[CONFIG_TEXT_MAX], y[CONFIG_TEXT_MAX];
	uint32_t i;

	if (a->family != b->family || memcmp(a->addr, b->addr, 16))
		line(d, "%s/address: %s -> %s", a->name, config_format_addr(a->addr, a->family, x),
		     config_format_addr(b->addr, b->family, y));
	if (a->port != b->port || a->all_ports != b->all_ports)
		line(d, "%s/port: %s%u -> %s%u", a->name, a->all_ports ? "all " : "", a->port,
		     b->all_ports ? "all " : "", b->port);
	if (a->proto != b->proto)
		line(d, "%s/protocol: %s -> %s", a->name, proto_name(a->proto), proto_name(b->proto));
	if (a->encap != b->encap)
		line(d, "%s/encap: %u -> %u", a->name, a->encap, b->encap);
	if (a->fragments != b->fragments)
		line(d, "%s/fragments: %s -> %s", a->name, a->fragments ? "yes" : "no", b->fragments ? "yes" : "no");
	if (a->table_size != b->table_size)
		line(d, "%s/maglev_table_size: %u -> %u", a->name, a->table_size, b->table_size);
	if (memcmp(&a->health, &b->health, sizeof(a->health)))
		line(d, "%s/health: changed", a->name);
	if (a->quic != b->quic)
		line(d, "%s/quic: %s -> %s", a->name, a->quic ? "yes" : "no", b->quic ? "yes" : "no");
	if (a->slow_start_ms != b->slow_start_ms) {
		config_format_duration(a->slow_start_ms, x);
		config_format_duration(b->slow_start_ms, y);
		line(d, "%s/slow_start: %s -> %s", a->name, a->slow_start_ms ? x : "off",
		     b->slow_start_ms ? y : "off");
	}
	if (!config_sources_equal(a->sources, b->sources)) { /* source lists */
		char sa[64], sb[64];

		config_sources_describe(a->sources, sa, sizeof(sa));
		config_sources_describe(b->sources, sb, sizeof(sb));
		line(d, "%s/sources: %s -> %s%s", a->name, sa, sb,
		     a->sources && b->sources && a->sources->mode == b->sources->mode ? " (entries changed)" : "");
	}
	for (i = 0; i < a->n_backends; i++) {
		const struct config_backend *o = &a->backends[i], *n = find_backend(b, o);

		config_format_addr(o->addr, o->family, x);
		if (!n) {
			line(d, "%s/%s: removed (weight %u)", a->name, x, o->weight);
			continue;
		}
		if (o->weight != n->weight)
			line(d, "%s/%s/weight: %u -> %u", a->name, x, o->weight, n->weight);
		if (o->state != n->state)
			line(d, "%s/%s/state: %s -> %s", a->name, x, state_name(o->state), state_name(n->state));
		if (o->server_id != n->server_id)
			line(d, "%s/%s/server_id: %u -> %u", a->name, x, o->server_id, n->server_id);
	}
	for (i = 0; i < b->n_backends; i++)
		if (!find_backend(a, &b->backends[i]))
			line(d, "%s/%s: added (weight %u)", a->name,
			     config_format_addr(b->backends[i].addr, b->backends[i].family, x), b->backends[i].weight);
}

json_t *config_diff(const struct keel_config *a, const struct keel_config *b, size_t max)
{
	struct diff d = { json_array(), max ? max : 1, 0 };
	char x[CONFIG_TEXT_MAX];
	uint32_t i;

	if (!d.out)
		return NULL;
	for (i = 0; i < a->n_vips; i++) {
		const struct config_vip *o = &a->vips[i], *n = config_vip_find_at(b, o->name, i, NULL);

		if (n)
			vip_diff(&d, o, n);
		else
			line(&d, "%s: removed", o->name);
	}
	for (i = 0; i < b->n_vips; i++)
		if (!config_vip_find_at(a, b->vips[i].name, i, NULL))
			line(&d, "%s: added (%s:%u/%s, %u backends)", b->vips[i].name,
			     config_format_addr(b->vips[i].addr, b->vips[i].family, x), b->vips[i].port,
			     proto_name(b->vips[i].proto), b->vips[i].n_backends);
	if (d.more) {
		char buf[64];

		snprintf(buf, sizeof(buf), "... and %zu more", d.more);
		json_array_append_new(d.out, json_string(buf));
	}
	return d.out;
}
