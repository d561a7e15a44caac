/* Packet capture: DPDK's pdump server in the primary, so that dpdk-dumpcap and dpdk-pdump can attach. */
#ifndef KEEL_DATAPLANE_CAPTURE_H
#define KEEL_DATAPLANE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Why the EAL options given leave no way for a secondary process (dpdk-dumpcap)
 * to attach, or NULL when one can: --in-memory and --no-shconf turn off the
 * multi-process channel, --huge-unlink (=always, the default of the bare
 * option) removes the hugepage files a secondary maps. Read before rte_eal_init
 * (which may reorder argv). `argc` counts the EAL options only.
 */
const char *capture_blocked_by(int argc, char **argv);

/*
 * After rte_eal_init: answer dpdk-dumpcap's requests (rte_pdump_init for its
 * statistics, then Keel's handler of the pdump protocol, see capture.c) unless
 * `blocked` says why no secondary could attach; logs one "capture" event either
 * way. Costs the workers nothing while no capture runs: the RX/TX callbacks
 * exist only during a capture. Returns whether it is on (capture_fini undoes it).
 */
bool capture_init(const char *blocked);
/*
 * Main thread, now and then: stop the captures of processes that are gone
 * (dpdk-dumpcap killed with SIGKILL sends no stop), so the workers stop copying
 * for nobody and the port can be captured again.
 */
void capture_reap(bool on);
void capture_fini(bool on);

#endif
