/* keelctl capture: dpdk-dumpcap on the running keel-dataplane, with a filter for one VIP's packets in and out. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keelctl.h"

#define CAPTURE_FILTER_MAX 4096
#define GUE_DEFAULT_PORT 6080

/* Appends to a bounded string; false once it no longer fits (the caller refuses then). */
struct sbuf {
	char *s;
	size_t len, cap;
	bool full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->full = true;
	else
		b->len += (size_t)n;
}

/*
 * The packet inside an encapsulation, as a libpcap expression on the outer
 * header `ol` ("ip" or "ip6") whose inner IP header starts at byte `base`:
 * destination address, protocol and (single-port VIP) destination port. The
 * inner IPv4 header's length is read from the packet (options move the port);
 * an inner IPv6 header is taken without extension headers, as the dataplane
 * does for VIP traffic.
 */
static void inner(struct sbuf *b, const char *ol, unsigned int base, bool v6, const uint8_t *a,
		  unsigned int proto, int port)
{
	unsigned int i;

	if (!v6) {
		put(b, "%s[%u:4] = 0x%02x%02x%02x%02x and %s[%u] = %u", ol, base + 16, a[0], a[1], a[2],
		    a[3], ol, base + 9, proto);
		if (port >= 0)
			put(b, " and %s[%u + ((%s[%u] & 15) << 2):2] = %d", ol, base + 2, ol, base, port);
		return;
	}
	for (i = 0; i < 16; i += 4)
		put(b, "%s[%u:4] = 0x%02x%02x%02x%02x and ", ol, base + 24 + i, a[i], a[i + 1], a[i + 2],
		    a[i + 3]);
	put(b, "%s[%u] = %u", ol, base + 6, proto);
	if (port >= 0)
		put(b, " and %s[%u:2] = %d", ol, base + 42, port);
}

/*
 * Every frame of one VIP at the dataplane's ports: what arrives for it (RX),
 * what the dataplane answers from it (ICMP), and what it sends on towards a
 * backend (TX): IPIP/6in6/4in6/6in4 or GUE over either outer family, matched
 * on the inner packet, since the outer header names the backend. Keel writes
 * outer headers without options or extension headers, so offsets are fixed.
 * No VLAN tag (a tagged port needs "vlan and ..." in --filter).
 */
static int vip_filter(struct sbuf *b, json_t *vip, unsigned int gue_port)
{
	const char *addr = jstr(vip, "address"), *pr = jstr(vip, "protocol"), *encap = jstr(vip, "encap");
	json_t *pj = json_object_get(vip, "port");
	int port = json_is_integer(pj) ? (int)json_integer_value(pj) : -1; /* -1: all ports */
	unsigned int proto = !strcmp(pr, "udp") ? 17 : 6;
	bool v6 = strchr(addr, ':') != NULL, gue = !strcmp(encap, "gue");
	const char *fam = v6 ? "ip6" : "ip";
	uint8_t a[16];

	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1)
		return -1;
	put(b, "(%s dst host %s and %s", fam, addr, pr);
	if (port >= 0)
		put(b, " dst port %d", port);
	put(b, ") or (%s src host %s)", fam, addr);
	if (gue) {
		put(b, " or (ip and udp dst port %u and ", gue_port);
		inner(b, "ip", 20 + 8 + 4, v6, a, proto, port);
		put(b, ") or (ip6 and udp dst port %u and ", gue_port);
		inner(b, "ip6", 40 + 8 + 4, v6, a, proto, port);
		put(b, ")");
	} else {
		put(b, " or (ip proto %u and ", v6 ? 41 : 4);
		inner(b, "ip", 20, v6, a, proto, port);
		put(b, ") or (ip6 proto %u and ", v6 ? 41 : 4);
		inner(b, "ip6", 40, v6, a, proto, port);
		put(b, ")");
	}
	return b->full ? -1 : 0;
}

static int capture(struct ctl *c, int argc, char **argv)
{
	const char *vip = NULL, *expr = NULL, *count = NULL, *file = NULL, *port = NULL,
		   *duration = NULL, *snaplen = NULL;
	bool promisc = false, dry = false;
	const struct ctl_opt opts[] = {
		{ "vip", 0, true, &vip, NULL },
		{ "filter", 'f', true, &expr, NULL },
		{ "count", 'c', true, &count, NULL },
		{ "write", 'w', true, &file, NULL },
		{ "port", 'i', true, &port, NULL },
		{ "duration", 'a', true, &duration, NULL },
		{ "snaplen", 's', true, &snaplen, NULL },
		{ "promisc", 0, false, NULL, &promisc },
		{ "dry-run", 'n', false, NULL, &dry },
		{ 0 },
	};
	static char filter[CAPTURE_FILTER_MAX], pfx[96], cnt[32], dur[48], snap[32];
	struct sbuf fb = { filter, 0, sizeof(filter), false };
	const char *dumpcap = getenv("KEEL_DUMPCAP");
	const char *args[24];
	json_t *st, *dp, *cap, *v = NULL;
	uint32_t n_ports, u;
	int n, rc, na = 0;

	if ((rc = ctl_parse(c, &capture_object, argc, argv, opts, NULL, 0, &n)))
		return rc;
	if (!vip && !expr)
		return ctl_usage_error(&capture_object, "capture: needs --vip NAME or --filter EXPR");
	if (!file)
		return ctl_usage_error(&capture_object, "capture: needs -w FILE (pcapng)");
	if (count && (rc = ctl_parse_u32(&capture_object, "-c", count, UINT32_MAX, &u)))
		return rc;
	if (duration && (rc = ctl_parse_u32(&capture_object, "--duration", duration, 86400, &u)))
		return rc;
	if (snaplen && (rc = ctl_parse_u32(&capture_object, "--snaplen", snaplen, 262144, &u)))
		return rc;

	/* Where to attach: the dataplane's DPDK file prefix, from keel-control. */
	if ((rc = api_get(c, KEEL_API_ROUTE_STATUS, NULL, NULL, &st)))
		return rc;
	dp = json_object_get(st, "dataplane");
	cap = json_object_get(dp, "capture");
	if (!json_is_true(json_object_get(dp, "alive"))) {
		fprintf(stderr, "keelctl: capture: the dataplane (instance %s) is not running\n",
			jstr(dp, "instance"));
		json_decref(st);
		return KEELCTL_UNAVAILABLE;
	}
	if (!cap || !json_is_true(json_object_get(cap, "available"))) {
		fprintf(stderr, "keelctl: capture: dpdk-dumpcap cannot attach to keel-dataplane: %s\n",
			cap ? jstr(cap, "reason") : "keel-control cannot read its command line");
		json_decref(st);
		return KEELCTL_UNAVAILABLE;
	}
	snprintf(pfx, sizeof(pfx), "--file-prefix=%s", jstr(cap, "file_prefix"));
	n_ports = (uint32_t)jint(dp, "ports");
	json_decref(st);

	if (vip) {
		json_t *cfg;
		unsigned int gue = GUE_DEFAULT_PORT;

		if (!api_arg_fits(vip))
			return ctl_usage_error(&capture_object, "capture: VIP name too long");
		if ((rc = api_get(c, KEEL_API_ROUTE_VIP, vip, NULL, &v)))
			return rc;
		/* GUE's UDP port is the configuration's (gue_port), the same for every VIP. */
		if (!strcmp(jstr(v, "encap"), "gue") && !api_get(c, KEEL_API_ROUTE_CONFIG, NULL, NULL, &cfg)) {
			if (json_is_integer(json_object_get(cfg, "gue_port")))
				gue = (unsigned int)jint(cfg, "gue_port");
			json_decref(cfg);
		}
		if (expr)
			put(&fb, "(");
		rc = vip_filter(&fb, v, gue);
		json_decref(v);
		if (rc) {
			fprintf(stderr, "keelctl: capture: cannot build a filter for VIP %s\n", vip);
			return KEELCTL_DATAERR;
		}
		if (expr)
			put(&fb, ") and (%s)", expr);
	} else {
		put(&fb, "%s", expr);
	}
	if (fb.full)
		return ctl_usage_error(&capture_object, "capture: filter longer than %d bytes",
				       CAPTURE_FILTER_MAX - 1);

	args[na++] = dumpcap && *dumpcap ? dumpcap : "dpdk-dumpcap";
	args[na++] = pfx;
	/*
	 * One port per capture: DPDK 22.11's dpdk-dumpcap keeps only its last -i (and one
	 * dumpcap at a time: its ring has a fixed name). A dataplane that sends out of another
	 * port (--tx-port) has its encapsulated output there: --port names it.
	 */
	args[na++] = "-i";
	args[na++] = port ? port : "0";
	if (!port && n_ports > 1)
		fprintf(stderr, "keelctl: capture: port 0 of %u (one port per capture; --port P for another)\n",
			n_ports);
	args[na++] = "-f";
	args[na++] = filter;
	/* Promiscuous mode would hand the workers every frame on the wire: only on request. */
	if (!promisc)
		args[na++] = "-p";
	if (count) {
		snprintf(cnt, sizeof(cnt), "%s", count);
		args[na++] = "-c";
		args[na++] = cnt;
	}
	if (duration) {
		snprintf(dur, sizeof(dur), "duration:%s", duration);
		args[na++] = "-a";
		args[na++] = dur;
	}
	if (snaplen) {
		snprintf(snap, sizeof(snap), "%s", snaplen);
		args[na++] = "-s";
		args[na++] = snap;
	}
	args[na++] = "-w";
	args[na++] = file;
	args[na] = NULL;

	if (dry) {
		/* The command it would run: -j as a JSON array of its arguments. */
		json_t *j = json_array();

		for (int i = 0; i < na; i++)
			json_array_append_new(j, json_string(args[i]));
		if (c->json) {
			json_print(j);
		} else {
			for (int i = 0; i < na; i++)
				printf(i ? " '%s'" : "%s", args[i]);
			putchar('\n');
		}
		json_decref(j);
		return KEELCTL_OK;
	}
	fflush(stdout);
	/* dpdk-dumpcap takes over: Ctrl-C stops it, its exit status is ours. */
	execvp(args[0], (char *const *)args);
	fprintf(stderr, "keelctl: capture: cannot run %s: %s%s\n", args[0], strerror(errno),
		errno == ENOENT ? " (Debian: apt install dpdk, or set KEEL_DUMPCAP)" : "");
	return KEELCTL_UNAVAILABLE;
}

static const struct ctl_verb capture_verbs[] = {
	{ "", "--vip NAME|--filter EXPR [-c N] -w FILE [--port P] [--duration S] [--snaplen N] "
	      "[--promisc] [--dry-run]",
	  "pcapng of the dataplane's ports (RX and TX, the encapsulated output too) with "
	  "dpdk-dumpcap: a VIP's packets, or a libpcap filter", capture },
	{ 0 },
};

const struct ctl_object capture_object = { "capture", "packets at the dataplane's ports (dpdk-dumpcap)",
					   capture_verbs, true };
