/* One rtnetlink exchange (libmnl): open, bind, send a request, read replies until done, close. */
#ifndef KEEL_CONTROL_NL_ROUTE_H
#define KEEL_CONTROL_NL_ROUTE_H

#include <libmnl/libmnl.h>

/*
 * Sends nlh on a fresh NETLINK_ROUTE socket and runs cb over every reply
 * until the kernel says done: NLMSG_DONE for a dump (NLM_F_DUMP), or the
 * acknowledgement of a single request, which must therefore carry NLM_F_ACK
 * (the flags are the caller's: NLM_F_DUMP shares its bits with NLM_F_EXCL
 * and NLM_F_REPLACE, so they cannot tell a dump from a new route). Returns 0,
 * or -errno: the kernel's refusal (-EEXIST, -ESRCH, ...) or a socket error.
 * cb may be NULL when the request only wants its acknowledgement.
 *
 * A socket per exchange costs a few system calls, and buys a reply stream
 * that nothing else can interleave with; the callers run at control-plane
 * rates (a route change per announcement step, a neighbour lookup per
 * backend change), never per packet.
 */
int nl_route_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif
