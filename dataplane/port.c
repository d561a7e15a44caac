/* Port setup: one RX and one TX queue per worker, RSS where the device has it, MTU, promiscuous, link wait. */
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "log.h"
#include "pipeline.h"
#include "port_queues.h"

/* What the workers hash on: RFC-style 2- and 4-tuples, v4 and v6; masked by what the device offers. */
#define PORT_RSS_WANTED (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)
#define PORT_POOL_CACHE 256
_Static_assert(KEEL_FRAME_ROOM_MIN == RTE_MBUF_DEFAULT_DATAROOM, "keel-replay models DPDK's mbuf room");
_Static_assert(KEEL_FRAME_OVERHEAD == RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN,
	       "frame overhead over the MTU: Ethernet, two tags, CRC");

uint32_t port_pool_size(uint32_t n_ports, uint16_t n_queues, uint32_t n_workers)
{
	/* Descriptors of every queue full, plus per worker a cache, a burst in flight and a TX buffer per port. */
	uint64_t n = (uint64_t)n_ports * n_queues * (PORT_RX_DESC + PORT_TX_DESC) +
		     (uint64_t)n_workers * (PORT_POOL_CACHE * 3 / 2 + 64 * (n_ports + 1)) + 1024;

	/* mempools are most memory-efficient at 2^n - 1 elements */
	n = 1ull << (64 - __builtin_clzll(n));
	return n > (1u << 20) ? (1u << 20) - 1 : (uint32_t)n - 1;
}

/* The data room of every mbuf: the same room keel-replay gives a frame, plus DPDK's headroom. */
static uint16_t port_pool_room(uint16_t mtu)
{
	return (uint16_t)(keel_frame_room(mtu) + RTE_PKTMBUF_HEADROOM);
}

uint32_t port_mbuf_size(uint16_t mtu)
{
	struct rte_mempool_objsz sz;

	return rte_mempool_calc_obj_size((uint32_t)sizeof(struct rte_mbuf) + port_pool_room(mtu), 0, &sz);
}

uint64_t port_pool_mem_size(uint32_t n_mbufs, uint16_t mtu, uint64_t page)
{
	uint64_t obj = port_mbuf_size(mtu), per_page = page / obj, mem;

	/* Objects never straddle a page (DPDK's default populate): each page wastes its tail. */
	mem = per_page ? n_mbufs / per_page * page + n_mbufs % per_page * obj : (uint64_t)n_mbufs * obj;
	/* The pool's header with a cache per possible lcore, its private area, and its ring of pointers. */
	mem += sizeof(struct rte_mempool) + (uint64_t)RTE_MAX_LCORE * sizeof(struct rte_mempool_cache) +
	       sizeof(struct rte_pktmbuf_pool_private);
	mem += (uint64_t)rte_ring_get_memsize(rte_align32pow2(n_mbufs + 1));
	return mem;
}

struct rte_mempool *port_pool_create(int socket, uint32_t n_mbufs, uint16_t mtu)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	/* Encapsulation grows the frame into the headroom: 14 + 4 + 40 + 8 + 4 at most, well under 128. */
	snprintf(name, sizeof(name), "keel-mbuf-s%d", socket);
	return rte_pktmbuf_pool_create(name, n_mbufs, PORT_POOL_CACHE, 0, port_pool_room(mtu), socket);
}

const char *port_name(uint16_t port, char *buf, size_t len)
{
	char name[RTE_ETH_NAME_MAX_LEN];

	if (rte_eth_dev_get_name_by_port(port, name))
		snprintf(name, sizeof(name), "?");
	snprintf(buf, len, "port %u (%s)", port, name);
	return buf;
}

const char *port_iface(uint16_t port, char *buf, size_t len)
{
	const struct rte_devargs *da = NULL;
	struct rte_eth_dev_info info;
	char name[RTE_ETH_NAME_MAX_LEN];
	const char *a;

	if (rte_eth_dev_info_get(port, &info) == 0 && info.device)
		da = rte_dev_devargs(info.device);
	/* "iface=ens1f0,start_queue=0,...": the interface ends at the next argument. */
	a = da && da->args ? strstr(da->args, "iface=") : NULL;
	if (a && (a == da->args || a[-1] == ',')) {
		a += strlen("iface=");
		snprintf(buf, len, "%.*s", (int)strcspn(a, ","), a);
		if (buf[0])
			return buf;
	}
	if (rte_eth_dev_get_name_by_port(port, name))
		snprintf(name, sizeof(name), "?");
	snprintf(buf, len, "%s", name);
	return buf;
}

int port_socket(uint16_t port)
{
	int s = rte_eth_dev_socket_id(port);

	return s < 0 ? -1 : s;
}

static void port_set_mtu(uint16_t port, const struct rte_eth_dev_info *info, uint16_t mtu)
{
	char pn[PORT_NAME_LEN];
	int ret;

	if (mtu < info->min_mtu || mtu > info->max_mtu) {
		log_event(LOG_WARN, "mtu_not_set", "port=%s mtu=%u min=%u max=%u reason=%s",
			  port_name(port, pn, sizeof(pn)), mtu, info->min_mtu, info->max_mtu,
			  "outside the device's range, left as is");
		return;
	}
	ret = rte_eth_dev_set_mtu(port, mtu);
	/* Virtual devices often have no MTU to set; frames then go through whatever their size. */
	if (ret && ret != -ENOTSUP)
		log_event(LOG_WARN, "mtu_not_set", "port=%s mtu=%u reason=%s", port_name(port, pn, sizeof(pn)),
			  mtu, strerror(-ret));
}

int port_setup(uint16_t port, const struct port_params *p, char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint16_t nrxd = PORT_RX_DESC, ntxd = PORT_TX_DESC, q;
	char pn[PORT_NAME_LEN];
	int ret;

	port_name(port, pn, sizeof(pn));
	ret = rte_eth_dev_info_get(port, &info);
	if (ret) {
		snprintf(err, errlen, "%s: cannot read device info: %s", pn, strerror(-ret));
		return ret;
	}
	if (info.max_rx_queues < p->n_queues || info.max_tx_queues < p->n_queues) {
		snprintf(err, errlen,
			 "%s supports %u RX / %u TX queues, %u workers need %u of each: use --workers %u or give the device more queues",
			 pn, info.max_rx_queues, info.max_tx_queues, p->n_queues, p->n_queues,
			 RTE_MIN(info.max_rx_queues, info.max_tx_queues));
		return -ENOSPC;
	}
	if (p->rss && p->n_queues > 1) {
		uint64_t hf = PORT_RSS_WANTED & info.flow_type_rss_offloads;

		if (hf) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		} else {
			/* Each queue still gets whatever the device puts on it (e.g. one pcap file per queue). */
			log_event(LOG_WARN, "no_rss", "port=%s reason=%s", pn,
				  "flows are spread only as the device spreads them");
		}
	}
	ret = rte_eth_dev_configure(port, p->n_queues, p->n_queues, &conf);
	if (ret) {
		snprintf(err, errlen, "%s: configure with %u queues failed: %s", pn, p->n_queues,
			 strerror(-ret));
		return ret;
	}
	port_set_mtu(port, &info, p->mtu);
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrxd, &ntxd);
	if (ret) {
		snprintf(err, errlen, "%s: descriptor counts refused: %s", pn, strerror(-ret));
		return ret;
	}
	for (q = 0; q < p->n_queues; q++) {
		ret = rte_eth_rx_queue_setup(port, q, nrxd, (unsigned int)p->sockets[q], NULL, p->pools[q]);
		if (ret) {
			snprintf(err, errlen, "%s: RX queue %u setup failed: %s", pn, q, strerror(-ret));
			return ret;
		}
		ret = rte_eth_tx_queue_setup(port, q, ntxd, (unsigned int)p->sockets[q], NULL);
		if (ret) {
			snprintf(err, errlen, "%s: TX queue %u setup failed: %s", pn, q, strerror(-ret));
			return ret;
		}
	}
	ret = rte_eth_dev_start(port);
	if (ret) {
		snprintf(err, errlen, "%s: start failed: %s", pn, strerror(-ret));
		return ret;
	}
	/*
	 * Not promiscuous: routers address VIP traffic to this port's MAC, and
	 * what is for other hosts is not ours (RFC 1812 5.3.4; the packet core
	 * checks again, for devices that pass everything).
	 */
	ret = rte_eth_promiscuous_disable(port);
	if (ret && ret != -ENOTSUP)
		log_event(LOG_WARN, "promiscuous_off_failed", "port=%s reason=%s", pn, strerror(-ret));
	port_check_queues(port, p->n_queues);
	if (p->allmulti) {
		ret = rte_eth_allmulticast_enable(port);
		if (ret && ret != -ENOTSUP)
			log_event(LOG_WARN, "allmulticast_failed", "port=%s reason=%s", pn, strerror(-ret));
	}
	return 0;
}

bool port_wait_link(uint16_t port, uint32_t timeout_ms)
{
	struct rte_eth_link link;
	uint32_t waited = 0;

	for (;;) {
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
			return true;
		if (waited >= timeout_ms)
			return false;
		usleep(50 * 1000);
		waited += 50;
	}
}

void port_stop(uint16_t port)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}
