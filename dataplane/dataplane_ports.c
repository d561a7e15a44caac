/* keel-dataplane's ports: pools, queues and TAPs set up, the TX map, placement, and link and stats reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "dataplane_ports.h"
#include "exception.h"
#include "log.h"
#include "port.h"

#define MAIN_LINK_WAIT_MS 3000

static struct rte_mempool *dataplane_pool(struct dataplane *dp, int socket, uint32_t n_mbufs)
{
	unsigned int s = socket < 0 ? 0 : (unsigned int)socket;

	if (s >= RTE_MAX_NUMA_NODES)
		s = 0;
	if (!dp->pools[s])
		dp->pools[s] = port_pool_create((int)s, n_mbufs, (uint16_t)dp->o.mtu);
	return dp->pools[s];
}

uint32_t dataplane_ports_n_mbufs(const struct opts *o, uint32_t n_ports, uint32_t n_workers)
{
	return o->mbufs ? o->mbufs : port_pool_size(n_ports * (o->exception ? 2u : 1u), (uint16_t)n_workers, n_workers);
}

int dataplane_ports_setup(struct dataplane *dp, char *err, size_t errlen)
{
	struct rte_mempool *pools[KEEL_REGION_MAX_WORKERS];
	int sockets[KEEL_REGION_MAX_WORKERS];
	uint32_t n_mbufs = dataplane_ports_n_mbufs(&dp->o, dp->n_ports, dp->n_workers);
	struct port_params pp = { .n_queues = (uint16_t)dp->n_workers, .mtu = (uint16_t)dp->o.mtu,
				  .pools = pools, .sockets = sockets };
	uint16_t i;
	uint32_t q;
	int ret;

	for (i = 0; i < dp->n_ports; i++) {
		int ps = port_socket(dp->ports[i]);

		for (q = 0; q < dp->n_workers; q++) {
			sockets[q] = ps >= 0 ? ps : (int)rte_lcore_to_socket_id(dp->lcores[q]);
			pools[q] = dataplane_pool(dp, sockets[q], n_mbufs);
			if (!pools[q]) {
				snprintf(err, errlen,
					 "cannot create a pool of %u mbufs on socket %d: %s; free hugepages or use fewer workers/ports",
					 n_mbufs, sockets[q], rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
		pp.rss = true;
		/* Only frames to the port's MAC are ours; the host behind the exception path wants the link's multicast (ND, DAD). */
		pp.allmulti = dp->o.exception;
		ret = port_setup(dp->ports[i], &pp, err, errlen);
		if (ret)
			return ret;
		dp->port_started[i] = true;
		if (!dp->o.exception)
			continue;
		ret = exception_tap_create(dp->ports[i], dp->o.iface_prefix, &dp->taps[i], err, errlen);
		if (ret)
			return ret;
		/* The kernel picks the TAP queue it sends on; any worker may take it out. */
		pp.rss = false;
		pp.allmulti = false;
		ret = port_setup(dp->taps[i], &pp, err, errlen);
		if (ret)
			return ret;
		dp->tap_started[i] = true;
	}
	return 0;
}

int dataplane_ports_tx_map(struct dataplane *dp, char *err, size_t errlen)
{
	uint32_t m;
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++)
		dp->tx_index[i] = i;
	for (m = 0; m < dp->o.n_tx_map; m++) {
		int rx = -1, tx = -1;

		for (i = 0; i < dp->n_ports; i++) {
			if (dp->ports[i] == dp->o.tx_map[m][0])
				rx = i;
			if (dp->ports[i] == dp->o.tx_map[m][1])
				tx = i;
		}
		if (rx < 0 || tx < 0) {
			snprintf(err, errlen, "--tx-port %u=%u: no such port (ports are 0..%u)",
				 dp->o.tx_map[m][0], dp->o.tx_map[m][1], dp->n_ports - 1);
			return -ENODEV;
		}
		dp->tx_index[rx] = (uint16_t)tx;
	}
	return 0;
}

/* Where everything sits; cross-socket pairs cost every packet a trip over the interconnect. */
void dataplane_ports_placement(struct dataplane *dp, bool mismatch[])
{
	char pn[PORT_NAME_LEN];
	uint32_t w;
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++) {
		const uint8_t *m = dp->port_ctx[i].mac;
		char tap[32] = "none", mac[24];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		if (dp->o.exception)
			snprintf(tap, sizeof(tap), "%s%u", dp->o.iface_prefix, dp->ports[i]);
		log_event(LOG_INFO, "port", "port=%s mac=%s socket=%d queues=%u tx_port=%u exception=%s",
			  port_name(dp->ports[i], pn, sizeof(pn)), mac, port_socket(dp->ports[i]),
			  dp->n_workers, dp->ports[dp->tx_index[i]], tap);
		if (!port_wait_link(dp->ports[i], MAIN_LINK_WAIT_MS))
			log_event(LOG_WARN, "link_down", "port=%s waited_ms=%u going_on=yes", pn,
				  MAIN_LINK_WAIT_MS);
	}
	for (w = 0; w < dp->n_workers; w++) {
		int ws = (int)rte_lcore_to_socket_id(dp->lcores[w]);

		mismatch[w] = false;
		log_event(LOG_INFO, "worker", "worker=%u lcore=%u socket=%d", w, dp->lcores[w], ws);
		for (i = 0; i < dp->n_ports; i++) {
			int ps = port_socket(dp->ports[i]);

			if (ps >= 0 && ps != ws) {
				mismatch[w] = true;
				log_event(LOG_WARN, "numa_mismatch",
					  "worker=%u lcore=%u socket=%d port=%s port_socket=%d", w, dp->lcores[w],
					  ws, port_name(dp->ports[i], pn, sizeof(pn)), ps);
			}
		}
	}
}

void dataplane_ports_stats(struct dataplane *dp)
{
	struct rte_eth_stats s;
	struct rte_eth_link link;
	uint16_t i;

	for (i = 0; i < dp->n_ports && i < 8; i++) {
		/* The link, for keel-control to take the port's next hops out of the set while it is down. */
		memset(&link, 0, sizeof(link));
		__atomic_store_n(&dp->region->port_mac[i][6],
				 rte_eth_link_get_nowait(dp->ports[i], &link) ? KEEL_PORT_LINK_UNKNOWN :
				 link.link_status == RTE_ETH_LINK_UP	      ? KEEL_PORT_LINK_UP :
										KEEL_PORT_LINK_DOWN,
				 __ATOMIC_RELAXED);
		if (rte_eth_stats_get(dp->ports[i], &s))
			continue;
		__atomic_store_n(&dp->region->port_missed[i], s.imissed, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->region->port_nombuf[i], s.rx_nombuf, __ATOMIC_RELAXED);
	}
}
