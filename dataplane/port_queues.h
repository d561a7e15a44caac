/* AF_XDP on a NIC with more RX queues than Keel has sockets on: the steering program finds no socket there. */
#ifndef KEEL_DP_PORT_QUEUES_H
#define KEEL_DP_PORT_QUEUES_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The RX queues of a kernel interface as ethtool -l reports them (combined +
 * RX-only channels, ETHTOOL_GCHANNELS; *combined: it has combined ones); -errno when the driver has no
 * channels to report (-EOPNOTSUPP) or the interface is not there.
 */
int port_nic_queues(const char *ifname, uint32_t *n, bool *combined);

/*
 * For a net_af_xdp port with n_queues queues set up: RSS spreads VIP packets
 * over every queue of the NIC, and on a queue without an AF_XDP socket the
 * steering program has nowhere to redirect them (verdict pass_no_xsk: the
 * kernel gets VIP traffic and drops it). Warn, with the fix, when the NIC
 * has queues outside [start_queue, start_queue + n_queues). A warning, not a
 * refusal: ntuple rules can keep VIP traffic on the served queues. Returns
 * the number of unserved queues (0: none, or not an AF_XDP port).
 */
uint32_t port_check_queues(uint16_t port, uint16_t n_queues);

#endif
