/* A packet trace's filter from JSON: prefixes, ports, protocol names, drop reasons by name. */
#include "trace_filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "drop.h"

/* "198.51.100.0/24" or an address (a full-length prefix) into addr/len; family must agree with *fam (0: any). */
static int parse_prefix(const char *s, uint8_t addr[16], uint8_t *len, uint8_t *fam)
{
	char buf[64];
	const char *bad;
	char *slash, *end;
	uint8_t f;
	long bits;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (config_parse_addr(buf, addr, &f, &bad))
		return -1;
	bits = f == KEEL_AF_INET4 ? 32 : 128;
	if (slash) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || bits < 1 || bits > (f == KEEL_AF_INET4 ? 32 : 128))
			return -1;
	}
	if (*fam && *fam != f)
		return -1;
	*fam = f;
	*len = (uint8_t)bits;
	return 0;
}

static int parse_proto(const json_t *j, uint8_t *proto)
{
	const char *s = json_string_value(j);

	if (json_is_integer(j) && json_integer_value(j) > 0 && json_integer_value(j) < 256) {
		*proto = (uint8_t)json_integer_value(j);
		return 0;
	}
	if (!s)
		return -1;
	if (!strcmp(s, "tcp"))
		*proto = KEEL_PROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = KEEL_PROTO_UDP;
	else if (!strcmp(s, "icmp"))
		*proto = KEEL_PROTO_ICMP;
	else if (!strcmp(s, "icmpv6") || !strcmp(s, "icmp6"))
		*proto = KEEL_PROTO_ICMPV6;
	else
		return -1;
	return 0;
}

static int parse_port(const json_t *j, uint16_t *port)
{
	if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > 65535)
		return -1;
	*port = htons((uint16_t)json_integer_value(j));
	return 0;
}

static int parse_drop(const char *s, uint16_t *drop)
{
	unsigned int r;

	if (!strcmp(s, "any")) {
		*drop = KEEL_TRACE_DROP_ANY;
		return 0;
	}
	for (r = 1; r < KEEL_DROP_MAX; r++)
		if (!strcmp(s, keel_drop_name(r))) {
			*drop = (uint16_t)r;
			return 0;
		}
	return -1;
}

int trace_filter_parse(const json_t *body, struct keel_trace_filter *f, char *vip, size_t viplen, char *why,
		       size_t whylen)
{
	const char *key;
	json_t *v;

	memset(f, 0, sizeof(*f));
	if (viplen)
		vip[0] = '\0';
	f->vip = KEEL_TRACE_ANY_VIP;
	f->count = TRACE_DEFAULT_COUNT;
	f->duration_ms = TRACE_DEFAULT_MS;
	if (body && !json_is_object(body)) {
		snprintf(why, whylen, "the body must be a JSON object");
		errno = EINVAL;
		return -1;
	}
	json_object_foreach((json_t *)body, key, v) {
		const char *s = json_string_value(v);

		if (!strcmp(key, "count") && json_is_integer(v) && json_integer_value(v) >= 1 &&
		    json_integer_value(v) <= KEEL_TRACE_RECORDS) {
			f->count = (uint32_t)json_integer_value(v);
		} else if (!strcmp(key, "duration_ms") && json_is_integer(v) && json_integer_value(v) >= 1 &&
			   json_integer_value(v) <= KEEL_TRACE_MAX_MS) {
			f->duration_ms = (uint32_t)json_integer_value(v);
		} else if (!strcmp(key, "vip") && s && strlen(s) < viplen && *s) {
			strcpy(vip, s); /* resolved to its id by keel-control (control_trace_arm) */
		} else if (!strcmp(key, "src") && s && !parse_prefix(s, f->src, &f->src_len, &f->family)) {
		} else if (!strcmp(key, "dst") && s && !parse_prefix(s, f->dst, &f->dst_len, &f->family)) {
		} else if (!strcmp(key, "sport") && !parse_port(v, &f->sport)) {
		} else if (!strcmp(key, "dport") && !parse_port(v, &f->dport)) {
		} else if (!strcmp(key, "proto") && !parse_proto(v, &f->proto)) {
		} else if (!strcmp(key, "drop") && s && !parse_drop(s, &f->drop)) {
		} else {
			snprintf(why, whylen,
				 "bad trace member \"%.32s\" (count 1-%d, duration_ms 1-%d, vip NAME, src/dst "
				 "ADDR[/LEN] of one family, sport/dport 1-65535, proto tcp|udp|icmp|icmpv6|N, "
				 "drop REASON|any)", key, KEEL_TRACE_RECORDS, KEEL_TRACE_MAX_MS);
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

