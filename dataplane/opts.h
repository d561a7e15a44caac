/* keel-dataplane's own options (those after the EAL's "--"): parsed and checked before the EAL starts. */
#ifndef KEEL_DATAPLANE_OPTS_H
#define KEEL_DATAPLANE_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_config.h>

#include "worker.h"

#define EXIT_USAGE 64 /* sysexits.h EX_USAGE */

struct opts {
	const char *name;
	uint32_t workers;        /* 0: every EAL worker lcore */
	uint32_t flows;
	uint32_t mtu;
	enum worker_idle idle;
	bool exception;
	bool wait_snapshot;
	bool no_adopt;           /* start with empty flow tables whatever the files hold */
	bool print_memory;       /* print what a start with these options maps, and exit */
	const char *iface_prefix;
	int non_vip;             /* -1 unset, 0 drop, 1 kernel */
	uint32_t slots;
	uint64_t slot_size;
	uint32_t timeout_s[FLOW_TIMEOUT_MAX];
	uint32_t new_flow_rate;
	uint32_t exception_rate; /* per worker: non-control frames to the kernel per second, 0: no limit */
	uint32_t new_flow_burst;
	uint32_t mbufs;          /* 0: sized from queues and workers */
	uint32_t n_tx_map;
	uint16_t tx_map[RTE_MAX_ETHPORTS][2]; /* RX port id, TX port id */
};

/* The manual page's text, as --help prints it. */
void opts_usage(FILE *f);
/* One line on stderr naming the option and what it wants; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2)))
int opts_usage_error(const char *fmt, ...);
/* Returns 0, or the exit code: EXIT_USAGE after one line on stderr, or -1 for --help (exit 0). */
int opts_parse(int argc, char **argv, struct opts *o);

#endif
