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
