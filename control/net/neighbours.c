/* Neighbour table lookups over rtnetlink (libmnl). */
#include "neighbours.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "nl_route.h"
#include "pkt.h"

struct lookup {
	int af;
	const uint8_t *addr;
	uint8_t mac[6];
	int found;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NDA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	struct lookup *l = data;
	size_t alen = l->af == AF_INET6 ? 16 : 4;

	if (nd->ndm_family != l->af)
		return MNL_CB_OK;
	/* Failed and incomplete entries have no usable address. */
	if (!(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nd), attr_cb, tb);
	if (!tb[NDA_DST] || !tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb[NDA_DST]) != alen ||
	    mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
		return MNL_CB_OK;
	if (memcmp(mnl_attr_get_payload(tb[NDA_DST]), l->addr, alen))
		return MNL_CB_OK;
	memcpy(l->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	l->found = 1;
	return MNL_CB_OK;
}

static int dump(struct lookup *l)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)l->af;
	return nl_route_talk(nlh, neigh_cb, l);
}

/* Any datagram towards the address makes the kernel resolve its next hop. */
static void provoke(int af, const uint8_t *addr)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	if (af == AF_INET6) {
		memcpy(&s6.sin6_addr, addr, 16);
		(void)!sendto(fd, "", 0, 0, (struct sockaddr *)&s6, sizeof(s6));
	} else {
		memcpy(&s4.sin_addr, addr, 4);
		(void)!sendto(fd, "", 0, 0, (struct sockaddr *)&s4, sizeof(s4));
	}
	close(fd);
}

int neighbours_resolve(uint8_t family, const uint8_t addr[16], uint8_t mac[6])
{
	struct lookup l = { .af = family == KEEL_AF_INET6 ? AF_INET6 : AF_INET, .addr = addr };
	int ret = dump(&l);

	if (ret)
		return ret;
	if (!l.found) {
		provoke(l.af, addr);
		return -EAGAIN;
	}
	memcpy(mac, l.mac, 6);
	return 0;
}

/* --- next-hop checks (several next hops, neighbours_check) --- */

struct entry {
	int af;
	int ifindex;              /* 0: any */
	const uint8_t *addr;
	bool found;
	uint16_t state;
	int found_ifindex;
	uint8_t mac[6];
	bool has_mac;
};

static int entry_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	struct entry *e = data;
	size_t alen = e->af == AF_INET6 ? 16 : 4;

	if (nd->ndm_family != e->af || (e->ifindex && nd->ndm_ifindex != e->ifindex))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nd), attr_cb, tb);
	if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != alen ||
	    memcmp(mnl_attr_get_payload(tb[NDA_DST]), e->addr, alen))
		return MNL_CB_OK;
	/* A usable entry on any interface wins over a failed one elsewhere. */
	if (e->found && e->has_mac && !(nd->ndm_state & (NUD_FAILED | NUD_INCOMPLETE)))
		return MNL_CB_OK;
	e->found = true;
	e->state = nd->ndm_state;
	e->found_ifindex = nd->ndm_ifindex;
	e->has_mac = tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6;
	if (e->has_mac)
		memcpy(e->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	return MNL_CB_OK;
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* Ask the kernel to confirm the entry now: NUD_PROBE keeps its MAC while unicast probes go out. */
static int confirm_entry(const struct entry *e)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)e->af;
	nd->ndm_ifindex = e->found_ifindex;
	nd->ndm_state = NUD_PROBE;
	mnl_attr_put(nlh, NDA_DST, e->af == AF_INET6 ? 16 : 4, e->addr);
	mnl_attr_put(nlh, NDA_LLADDR, 6, e->mac);
	return nl_route_talk(nlh, ack_cb, NULL);
}

int neighbours_check(uint8_t family, const uint8_t addr[16], int ifindex, bool confirm,
		     uint8_t mac[6])
{
	struct entry e = { .af = family == KEEL_AF_INET6 ? AF_INET6 : AF_INET, .ifindex = ifindex,
			   .addr = addr };
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;
	int ret;

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = (uint8_t)e.af;
	if ((ret = nl_route_talk(nlh, entry_cb, &e)))
		return ret;
	if (e.found && e.has_mac &&
	    (e.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP))) {
		memcpy(mac, e.mac, 6);
		/* Already probing, or nothing to confirm (permanent, noarp): leave it. */
		if (confirm && (e.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY)))
			(void)confirm_entry(&e);
		return NEIGHBOUR_USABLE;
	}
	/* Failed or missing: a datagram makes the kernel try again, so the next hop can come back. */
	provoke(e.af, addr);
	return e.found && (e.state & NUD_FAILED) ? NEIGHBOUR_FAILED : NEIGHBOUR_PENDING;
}
