/* Next-hop MAC resolution from the kernel's neighbour table (netlink), with resolution triggered when missing. */
#ifndef KEEL_CONTROL_NEIGHBOURS_H
#define KEEL_CONTROL_NEIGHBOURS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The MAC of addr (family KEEL_AF_INET4/6) from the neighbour table. Returns
 * 0 with mac filled when an entry is usable (reachable, stale, delay, probe,
 * permanent); -EAGAIN when there is none yet, after asking the kernel to
 * resolve it (a datagram to the discard port makes it send ARP / ND); other
 * -errno for netlink failures.
 */
int neighbours_resolve(uint8_t family, const uint8_t addr[16], uint8_t mac[6]);

/* What neighbours_check found of a next hop. */
enum neighbour_verdict {
	NEIGHBOUR_USABLE = 0,  /* an entry with a MAC: reachable, stale, delay, probe or permanent */
	NEIGHBOUR_PENDING,     /* no entry, or incomplete: resolution asked for */
	NEIGHBOUR_FAILED,      /* the kernel gave up (NUD_FAILED): resolution asked for again */
};

/*
 * The neighbour entry of addr, on interface ifindex (0: any). USABLE fills
 * mac; with confirm, an entry the kernel merely believes (reachable, stale,
 * delay) is set to NUD_PROBE, so the kernel asks the neighbour itself now
 * (unicast ARP / ND, ucast_solicit tries retrans_time apart) and the entry
 * fails within that time if nobody answers: a bound that the kernel's own
 * reachable time (30 s and more) does not give. Returns a verdict >= 0, or
 * a negative errno for netlink failures.
 */
int neighbours_check(uint8_t family, const uint8_t addr[16], int ifindex, bool confirm,
		     uint8_t mac[6]);

#endif
