/* What keel-dataplane's EAL options mean for tools that attach to it (dpdk-dumpcap): its file prefix, and whether they can. */
#ifndef KEEL_CONTROL_DATAPLANE_EAL_H
#define KEEL_CONTROL_DATAPLANE_EAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct dataplane_eal {
	char file_prefix[64];   /* DPDK's --file-prefix ("rte" when not given) */
	bool capture;           /* a secondary (dpdk-dumpcap) can attach */
	char why[96];           /* when it cannot: the option that prevents it */
};

/*
 * From a command line as /proc/PID/cmdline holds it (arguments each ended by a
 * NUL, len bytes): the EAL options are those before the first "--". Returns 0,
 * or -1 when there is no "--" (not keel-dataplane's command line) or the prefix
 * does not fit.
 */
int dataplane_eal_parse(const char *cmdline, size_t len, struct dataplane_eal *out);

/* The same from /proc/PID/cmdline. 0, or -1 with errno (ESRCH: no such process, EACCES). */
int dataplane_eal_read(pid_t pid, struct dataplane_eal *out);

#endif
