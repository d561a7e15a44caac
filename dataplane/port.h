/* Setting up DPDK ports for the workers: queues, RSS, MTU, mempools, link. */
#ifndef KEEL_DATAPLANE_PORT_H
#define KEEL_DATAPLANE_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#define PORT_RX_DESC 1024
#define PORT_TX_DESC 1024
#define PORT_NAME_LEN (RTE_ETH_NAME_MAX_LEN + 16) /* port_name() output */

struct port_params {
	uint16_t n_queues;  /* RX and TX queues: one per worker */
	uint16_t mtu;       /* applied where the PMD accepts it; else warned and left */
	bool rss;           /* spread flows over the RX queues (data ports; not the TAPs) */
	bool allmulti;      /* every multicast group, for the kernel behind the exception path */
	/* Per queue: the pool its RX descriptors take mbufs from and the socket of its rings. */
	struct rte_mempool *const *pools;
	const int *sockets;
};

/* Mbufs one pool needs so every queue it feeds can be full while workers hold bursts. */
uint32_t port_pool_size(uint32_t n_ports, uint16_t n_queues, uint32_t n_workers);

/* Bytes of one mbuf in a pool for mtu (header, mbuf, room), and hugepage bytes a pool of n_mbufs takes on page-byte pages. */
uint32_t port_mbuf_size(uint16_t mtu);
uint64_t port_pool_mem_size(uint32_t n_mbufs, uint16_t mtu, uint64_t page);

/* A packet mbuf pool on a socket, its data room fitting mtu plus our encapsulation headroom. NULL on failure. */
struct rte_mempool *port_pool_create(int socket, uint32_t n_mbufs, uint16_t mtu);

/* Configure and start a port. Returns 0 or a negative errno; err receives one line. */
int port_setup(uint16_t port, const struct port_params *p, char *err, size_t errlen);

/* Wait at most timeout_ms for the link; returns whether it is up. */
bool port_wait_link(uint16_t port, uint32_t timeout_ms);

/* Socket of a port, or -1 when the PMD does not know (virtual devices). */
int port_socket(uint16_t port);

/* Name for messages ("0000:3b:00.0", "net_pcap0"). */
const char *port_name(uint16_t port, char *buf, size_t len);

/*
 * What operators call the port: the kernel interface of a port opened on one
 * (the iface= argument of net_af_xdp / net_af_packet), else DPDK's device name
 * (a PCI address, net_null0). Always NUL-terminated, "?" when unknown.
 */
const char *port_iface(uint16_t port, char *buf, size_t len);

void port_stop(uint16_t port);

#endif
