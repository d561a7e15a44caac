/* Announcement routes in keel's kernel table over rtnetlink (libmnl): add, delete, list. */
#include "bgp_kernel.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "nl_route.h"
#include "pkt.h"

static int af_of(uint8_t family)
{
	return family == KEEL_AF_INET6 ? AF_INET6 : AF_INET;
}

static void put_route(struct nlmsghdr *nlh, uint32_t table, uint8_t protocol,
		      const struct bgp_route *r)
{
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));

	rt->rtm_family = (uint8_t)af_of(r->family);
	rt->rtm_dst_len = r->family == KEEL_AF_INET6 ? 128 : 32;
	rt->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = protocol;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_BLACKHOLE;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put(nlh, RTA_DST, r->family == KEEL_AF_INET6 ? 16 : 4, r->addr);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
}

int bgp_kernel_add(uint32_t table, uint8_t protocol, const struct bgp_route *r)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int ret;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	put_route(nlh, table, protocol, r);
	ret = nl_route_talk(nlh, NULL, NULL);
	return ret == -EEXIST ? 0 : ret;
}

int bgp_kernel_del(uint32_t table, uint8_t protocol, const struct bgp_route *r)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int ret;

	nlh->nlmsg_type = RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	put_route(nlh, table, protocol, r);
	ret = nl_route_talk(nlh, NULL, NULL);
	return ret == -ESRCH || ret == -ENOENT ? 0 : ret;
}

struct list_ctx {
	uint32_t table;
	uint8_t protocol;
	struct bgp_route *out;
	int max, n;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	struct list_ctx *l = data;
	struct bgp_route r = { 0 };
	uint32_t table = rt->rtm_table;
	size_t alen;

	mnl_attr_parse(nlh, sizeof(*rt), attr_cb, tb);
	if (tb[RTA_TABLE])
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != l->table || rt->rtm_protocol != l->protocol || !tb[RTA_DST])
		return MNL_CB_OK;
	r.family = rt->rtm_family == AF_INET6 ? KEEL_AF_INET6 : KEEL_AF_INET4;
	alen = rt->rtm_family == AF_INET6 ? 16 : 4;
	if (rt->rtm_dst_len != alen * 8 || mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
		return MNL_CB_OK;
	memcpy(r.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	r.metric = tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0;
	if (l->n < l->max)
		l->out[l->n] = r;
	l->n++;
	return MNL_CB_OK;
}

static int list_family(struct list_ctx *l, int af)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (uint8_t)af;
	return nl_route_talk(nlh, route_cb, l);
}

int bgp_kernel_list(uint32_t table, uint8_t protocol, struct bgp_route *out, int max)
{
	struct list_ctx l = { .table = table, .protocol = protocol, .out = out, .max = max };
	int ret;

	if ((ret = list_family(&l, AF_INET)) || (ret = list_family(&l, AF_INET6)))
		return ret;
	return l.n < max ? l.n : max;
}
