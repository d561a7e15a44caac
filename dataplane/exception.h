/* The exception path: a TAP twin per data port, so the kernel keeps talking on a NIC that DPDK owns. */
#ifndef KEEL_DATAPLANE_EXCEPTION_H
#define KEEL_DATAPLANE_EXCEPTION_H

#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

/*
 * Create the TAP of data port `port`: kernel interface <prefix><port> with the
 * port's MAC, so neighbours that resolve the host's address reach the NIC and
 * the worker hands the frames to the kernel. The TAP is probed, not yet
 * configured (port_setup does that like any port). Returns 0 and *tap, or a
 * negative errno and one line in err.
 */
int exception_tap_create(uint16_t port, const char *prefix, uint16_t *tap, char *err, size_t errlen);

/*
 * Hand frames that are not for a VIP to the kernel on TAP queue q; what the TAP
 * refuses is freed. Returns how many the kernel got. Worker context: no
 * allocation, no logging.
 */
static inline uint16_t exception_to_kernel(uint16_t tap, uint16_t q, struct rte_mbuf **m, uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(tap, q, m, n);

	if (sent < n)
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	return sent;
}

#endif
