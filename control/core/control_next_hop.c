/* Several next hops: each one's MAC and usability from the neighbour table and its port's link, and the usable set a snapshot carries. */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_field.h"
#include "control_priv.h"
#include "log.h"
#include "spec.h"
#include "neighbours.h"
#include "pipeline.h"

_Static_assert(CONFIG_MAX_NEXT_HOPS == KEEL_MAX_NEXT_HOPS, "one limit for the configuration and the snapshot");

/* Whether the kernel interface name is up with a carrier (IFF_RUNNING); its index in *ifindex. */
static bool link_running(const char *name, int *ifindex)
{
	struct ifreq ifr;
	bool up = false;
	int fd;

	*ifindex = (int)if_nametoindex(name);
	if (!*ifindex)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell: the neighbour check decides */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	else
		up = true;
	close(fd);
	return up;
}

/*
 * Whether a next hop's interface is up: a dataplane port of that name must
 * not report its link down (a DPDK device, which the kernel does not know,
 * is judged by that alone); a kernel interface must be running as well.
 */
static bool interface_up(struct keel_control *c, const char *name, int *ifindex)
{
	struct keel_seam_port ports[KEEL_NEXT_HOP_MAX_PORT];
	uint32_t k, n = c->seam ? keel_seam_ports(c->seam, ports, KEEL_NEXT_HOP_MAX_PORT) : 0;

	for (k = 0; k < n; k++)
		if (!strcmp(ports[k].name, name)) {
			if (ports[k].link == KEEL_PORT_LINK_DOWN)
				return false;
			return link_running(name, ifindex) || !*ifindex;
		}
	return link_running(name, ifindex);
}

static void format_mac(const uint8_t m[6], char *t, size_t n)
{
	snprintf(t, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The next hop's name in logs, metrics and views: its gateway, or its MAC. */
void control_next_hop_name(const struct config_next_hop *h, char *t, size_t n)
{
	char a[CONFIG_TEXT_MAX];

	if (h->has_gateway)
		snprintf(t, n, "%s", config_format_addr(h->gateway, h->gateway_family, a));
	else
		format_mac(h->mac, t, n);
}

static bool same_list(const struct config_next_hop *a, const struct config_next_hop *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (a[i].has_gateway != b[i].has_gateway || a[i].gateway_family != b[i].gateway_family ||
		    memcmp(a[i].gateway, b[i].gateway, 16) || a[i].has_mac != b[i].has_mac ||
		    memcmp(a[i].mac, b[i].mac, 6) || strcmp(a[i].interface, b[i].interface))
			return false;
	return true;
}

/*
 * Check every next hop: a fixed MAC is usable while its port (if named) runs;
 * a gateway while its neighbour entry is usable and its port runs. With more
 * than one next hop each entry is confirmed at every check (neighbours_check),
 * so a dead gateway fails within the kernel's probe time. A change of the
 * usable set or of a MAC asks for a new generation. Every second, and every
 * tick while no next hop has a MAC yet. edit_mu held.
 */
void control_next_hop_check(struct keel_control *c)
{
	const struct keel_config *cfg = c->cfg;
	uint64_t now = control_now_ms();
	bool pending = true, changed = false;
	uint32_t i;

	/* Another list of next hops (a reload): what was learnt of the old one says nothing. */
	if (c->nh_n != cfg->n_next_hops || !same_list(c->nh_cfg, cfg->next_hops, cfg->n_next_hops)) {
		pthread_mutex_lock(&c->mu);
		memset(c->nh, 0, sizeof(c->nh));
		pthread_mutex_unlock(&c->mu);
		memcpy(c->nh_cfg, cfg->next_hops, sizeof(c->nh_cfg));
		/*
		 * At start (no list yet) there is nothing to redo: a restarted
		 * keel-control must not republish what the dataplane runs.
		 */
		if (c->nh_n)
			c->need_publish = c->need_bump = true;
		c->nh_n = cfg->n_next_hops;
	}
	/* Every tick only while no next hop has a MAC (nothing to send by): one dead gateway among several does not make it poll. */
	for (i = 0; i < cfg->n_next_hops; i++)
		pending &= !c->nh[i].known;
	if (now - c->nh_checked_ms < 1000 && !pending)
		return;
	c->nh_checked_ms = now;
	for (i = 0; i < cfg->n_next_hops; i++) {
		const struct config_next_hop *h = &cfg->next_hops[i];
		struct control_next_hop st = c->nh[i];
		int ifindex = 0;
		bool link = !h->interface[0] || interface_up(c, h->interface, &ifindex);
		uint8_t m[6];

		if (h->has_mac) {
			memcpy(st.mac, h->mac, 6);
			st.known = true;
			st.usable = link;
		} else if (!link) {
			st.usable = false;
		} else {
			int v = neighbours_check(h->gateway_family, h->gateway, ifindex, cfg->n_next_hops > 1, m);

			if (v < 0)
				continue; /* netlink trouble: nothing learnt */
			if (v == NEIGHBOUR_USABLE) {
				memcpy(st.mac, m, 6);
				st.known = true;
			}
			st.usable = v == NEIGHBOUR_USABLE;
		}
		if (st.usable != c->nh[i].usable || st.known != c->nh[i].known ||
		    memcmp(st.mac, c->nh[i].mac, 6)) {
			/*
			 * A configured MAC learnt at the first check is what every
			 * snapshot of this configuration carried already (a restart
			 * publishes nothing new for it); a resolved gateway is news.
			 */
			bool first_fixed = h->has_mac && st.usable && !c->nh[i].known &&
					   !c->nh[i].changed_ms;

			char name[64], mac[24];

			control_next_hop_name(h, name, sizeof(name));
			format_mac(st.mac, mac, sizeof(mac));
			if (st.usable != c->nh[i].usable)
				st.transitions++;
			log_event(st.usable ? LOG_INFO : LOG_ERROR, "next_hop", "next_hop=%s mac=%s usable=%s%s",
				  name, st.known ? mac : "none", st.usable ? "yes" : "no",
				  st.usable || link ? "" : " reason=link_down");
			st.changed_ms = now;
			changed |= !first_fixed;
			pthread_mutex_lock(&c->mu);
			c->nh[i] = st;
			pthread_mutex_unlock(&c->mu);
		}
	}
	if (changed)
		c->need_publish = c->need_bump = true; /* the set or a MAC moved: republish */
}

/*
 * The port a next hop leaves by (keel_next_hop.port): the dataplane port
 * whose name (its kernel interface, or DPDK's device name) is the next
 * hop's interface, as its index + 1 with that port's MAC into src_mac;
 * 0 (the RX port's TX port, keel-dataplane --tx-port) when it names none,
 * none matches, or the dataplane has one port (every frame leaves by it:
 * the pipeline then pays nothing for ports).
 */
static uint8_t next_hop_port(const struct config_next_hop *h, const struct keel_seam_port *ports,
			     uint32_t n_ports, uint8_t src_mac[6])
{
	uint32_t k;

	if (!h->interface[0] || n_ports < 2)
		return 0;
	for (k = 0; k < n_ports; k++)
		if (!strcmp(ports[k].name, h->interface)) {
			memcpy(src_mac, ports[k].mac, 6);
			return (uint8_t)(k + 1);
		}
	return 0;
}

/*
 * The next hops a snapshot carries: the usable ones with a MAC; when none is
 * usable, every one with a MAC (a guess at a stale MAC beats dropping all).
 * in->gw_mac is the first one's (zero while none has a MAC). Each with its
 * port (next_hop_port).
 */
void control_next_hop_inputs(struct keel_control *c, struct spec_inputs *in)
{
	const struct keel_config *cfg = c->cfg;
	struct keel_seam_port ports[KEEL_NEXT_HOP_MAX_PORT];
	uint32_t i, n = 0, n_ports = c->seam ? keel_seam_ports(c->seam, ports, KEEL_NEXT_HOP_MAX_PORT) : 0;
	int pass;

	memset(in->gw_mac, 0, 6);
	in->n_next_hops = 0;
	in->n_next_hops_configured = cfg->n_next_hops;
	for (pass = 0; pass < 2 && n == 0; pass++)
		for (i = 0; i < cfg->n_next_hops; i++) {
			if (!c->nh[i].known || (pass == 0 && !c->nh[i].usable))
				continue;
			memset(&in->next_hop[n], 0, sizeof(in->next_hop[n]));
			memcpy(in->next_hop[n].mac, c->nh[i].mac, 6);
			in->next_hop[n].id = (uint8_t)i;
			in->next_hop[n].port = next_hop_port(&cfg->next_hops[i], ports, n_ports,
							     in->next_hop[n].src_mac);
			n++;
		}
	in->n_next_hops = n;
	if (n)
		memcpy(in->gw_mac, in->next_hop[0].mac, 6);
}

/* status: "next_hops": [{"next_hop", "mac", "resolved", "usable", "transitions", "interface", "packets"}]; k NULL: no packets. mu held. */
json_t *control_next_hop_view(struct keel_control *c, const struct keel_worker_counters *k)
{
	const struct keel_config *cfg = c->cfg;
	json_t *arr = json_array();
	uint32_t i;

	for (i = 0; arr && i < cfg->n_next_hops; i++) {
		char name[64], mac[24];
		json_t *o;

		control_next_hop_name(&cfg->next_hops[i], name, sizeof(name));
		format_mac(c->nh[i].mac, mac, sizeof(mac));
		o = json_pack("{s:s,s:s,s:b,s:b,s:I}", "next_hop", name, "mac", mac, "resolved",
			      c->nh[i].known, "usable", c->nh[i].usable, "transitions",
			      (json_int_t)c->nh[i].transitions);
		if (o && k)
			json_object_set_new(o, "packets", json_integer((json_int_t)k->core.next_hop_pkts[i]));
		if (o && cfg->next_hops[i].interface[0])
			json_object_set_new(o, "interface", json_string(cfg->next_hops[i].interface));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* keel_next_hop_up and keel_next_hop_packets_total, per configured next hop. mu held. */
void control_next_hop_metrics(struct keel_control *c, const struct keel_worker_counters *k, FILE *f)
{
	const struct keel_config *cfg = c->cfg;
	char name[64];
	uint32_t i;

	fprintf(f, "# HELP keel_next_hop_up Whether the next hop is in the usable set (neighbour resolved, port up).\n"
		   "# TYPE keel_next_hop_up gauge\n");
	for (i = 0; i < cfg->n_next_hops; i++) {
		control_next_hop_name(&cfg->next_hops[i], name, sizeof(name));
		fprintf(f, "keel_next_hop_up{next_hop=\"%s\"} %d\n", name, c->nh[i].usable);
	}
	fprintf(f, "# HELP keel_next_hop_packets_total Packets forwarded by way of the next hop.\n"
		   "# TYPE keel_next_hop_packets_total counter\n");
	for (i = 0; i < cfg->n_next_hops; i++) {
		control_next_hop_name(&cfg->next_hops[i], name, sizeof(name));
		fprintf(f, "keel_next_hop_packets_total{next_hop=\"%s\"} %" PRIu64 "\n", name,
			k ? k->core.next_hop_pkts[i] : 0);
	}
}
