/* keel-dataplane's ports: pools, queues and TAPs set up, the TX map, placement, and link and stats reports. */
#ifndef KEEL_DATAPLANE_DATAPLANE_PORTS_H
#define KEEL_DATAPLANE_DATAPLANE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "opts.h"

/* Mbufs per socket's pool: --mbufs, or enough for every queue of the ports (and their TAPs) to be full. */
uint32_t dataplane_ports_n_mbufs(const struct opts *o, uint32_t n_ports, uint32_t n_workers);
/* Data ports and their TAPs: each queue's mbufs from the socket of the port, or of the worker that polls it. */
int dataplane_ports_setup(struct dataplane *dp, char *err, size_t errlen);
/* --tx-port into per-port indices; every port sends by itself unless mapped. */
int dataplane_ports_tx_map(struct dataplane *dp, char *err, size_t errlen);
/* Logs where everything sits (ports, workers, sockets); mismatch[w]: worker w polls a port on another socket. */
void dataplane_ports_placement(struct dataplane *dp, bool mismatch[]);
/* Link state, missed and no-mbuf counts of every port into the region. */
void dataplane_ports_stats(struct dataplane *dp);

#endif
