/* Next-hop MAC resolution from the kernel's neighbour table (netlink), with resolution triggered when missing. */
#ifndef KEEL_CONTROL_NEIGHBOURS_H
#define KEEL_CONTROL_NEIGHBOURS_H

#include <stdint.h>

/*
 * The MAC of addr (family KEEL_AF_INET4/6) from the neighbour table. Returns
 * 0 with mac filled when an entry is usable (reachable, stale, delay, probe,
 * permanent); -EAGAIN when there is none yet, after asking the kernel to
 * resolve it (a datagram to the discard port makes it send ARP / ND); other
 * -errno for netlink failures.
 */
int neighbours_resolve(uint8_t family, const uint8_t addr[16], uint8_t mac[6]);

#endif
