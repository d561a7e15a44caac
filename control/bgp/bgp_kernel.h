/* The announcements as kernel routes: one blackhole host route per announced VIP address in keel's own table, over rtnetlink. */
#ifndef KEEL_CONTROL_BGP_KERNEL_H
#define KEEL_CONTROL_BGP_KERNEL_H

#include <stdint.h>

/*
 * A route is (family, address/32 or /128, metric) in table `table` with
 * rtm_protocol `protocol`. It is a blackhole: BIRD's kernel protocol learns
 * it and exports it with next hop self, and since no ip rule looks up that
 * table it never changes how this host forwards.
 */
struct bgp_route {
	uint8_t family; /* KEEL_AF_INET4 or KEEL_AF_INET6 */
	uint8_t addr[16];
	uint32_t metric;
};

/* Add (or keep) one route. 0 or -errno; an existing identical route is 0. */
int bgp_kernel_add(uint32_t table, uint8_t protocol, const struct bgp_route *r);
/* Delete one route (that metric only). 0 or -errno; an absent route is 0. */
int bgp_kernel_del(uint32_t table, uint8_t protocol, const struct bgp_route *r);
/*
 * Every route of protocol `protocol` in `table` (a previous keel-control's),
 * into out (at most max; the count is returned, or -errno).
 */
int bgp_kernel_list(uint32_t table, uint8_t protocol, struct bgp_route *out, int max);

#endif
