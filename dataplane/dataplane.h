/* Everything keel-dataplane's start built (main.c and dataplane_ports.c share it). */
#ifndef KEEL_DATAPLANE_DATAPLANE_H
#define KEEL_DATAPLANE_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_config.h>
#include <rte_mempool.h>

#include "opts.h"
#include "region.h"
#include "worker.h"

/* Everything start-up built, so that one teardown undoes any prefix of it. */
struct dataplane {
	struct opts o;
	struct keel_region *region;
	uint16_t n_ports;
	uint16_t ports[WORKER_MAX_PORTS];
	struct keel_port port_ctx[WORKER_MAX_PORTS]; /* what the packet core knows of each port */
	uint16_t tx_index[WORKER_MAX_PORTS];
	uint16_t taps[WORKER_MAX_PORTS];
	bool port_started[WORKER_MAX_PORTS];
	bool tap_started[WORKER_MAX_PORTS];
	struct rte_mempool *pools[RTE_MAX_NUMA_NODES];
	uint32_t n_workers;
	unsigned int lcores[KEEL_REGION_MAX_WORKERS];
	struct worker *workers[KEEL_REGION_MAX_WORKERS];
	bool launched;
	bool capture;            /* rte_pdump's server registered */
};

#endif
