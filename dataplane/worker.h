/* A worker lcore: polls its queue of every port, runs the packet core, transmits, and obeys its command ring. */
#ifndef KEEL_DATAPLANE_WORKER_H
#define KEEL_DATAPLANE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "pkt.h"
#include "region.h"

#define WORKER_MAX_PORTS 8 /* the region counts rx/tx for 8 ports */
#define WORKER_NO_TAP UINT16_MAX

enum worker_idle {
	WORKER_IDLE_BUSY,    /* poll without pause: lowest latency, a full core */
	WORKER_IDLE_BACKOFF, /* pause, then sleep up to 100 us, when no packet comes */
};

struct worker_params {
	uint32_t id;                 /* worker index: its RX/TX queue on every port, its region ring */
	unsigned int lcore;
	struct keel_region *region;
	const struct flow_table_params *flows;
	const char *name;            /* instance: names the flow-table file (flow_store.h) */
	uint32_t n_workers;
	bool adopt_flows;            /* take over the table an earlier start left; false: --no-adopt */
	bool non_vip_to_kernel;
	uint32_t exception_rate;     /* non-control frames to the kernel per second (0: no limit) */
	enum worker_idle idle;
	bool numa_mismatch;          /* some port it polls sits on another socket */
	bool wait_snapshot;          /* leave packets in the RX queues until the first activation */
	const int *quit;             /* set by the main thread; read between bursts */
	uint16_t n_ports;
	const uint16_t *ports;       /* data port ids, by port index */
	const struct keel_port *port_ctx; /* per data port: its own MAC and its MTU */
	const uint16_t *tx_index;    /* per data port: index of the port its forwarded packets leave by */
	const uint16_t *taps;        /* per data port: its TAP port id, or WORKER_NO_TAP */
};

struct worker;

/*
 * Allocate a worker on its lcore's socket: state, flow table, TX buffers; and
 * fill its status in the region. NULL on failure with err set.
 */
struct worker *worker_create(const struct worker_params *p, char *err, size_t errlen);

/* The lcore function (rte_eal_remote_launch): runs until *quit, flushes, returns 0. */
int worker_main(void *arg);

void worker_destroy(struct worker *wk);

/* Main thread, between its stats: logs, once, what checking an adopted table against the first snapshot dropped. */
void worker_report(struct worker *wk);

#endif
