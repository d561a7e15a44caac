/* Why the EAL will not start, or did not: a missing interface found before it, a hint after it fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <unistd.h>

#include "eal_hint.h"
#include "log.h"

/* CAP_IPC_LOCK (14) and CAP_SYS_ADMIN (21) in the effective set: what a non-root DPDK needs first. */
static bool dataplane_has_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long eff = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff & (1ull << 14)) && (eff & (1ull << 21));
}

/*
 * An AF_XDP or AF_PACKET vdev names a kernel interface: say so before the EAL, whose own
 * report is only that probing failed (and then that there are no ports).
 */
int eal_hint_vdev_ifaces(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++) {
		const char *v, *p;
		char name[IF_NAMESIZE + 1];
		size_t n;

		if (strcmp(argv[i], "--vdev"))
			continue;
		v = argv[i + 1];
		p = strstr(v, "iface=");
		if (!p || (p != v && p[-1] != ','))
			continue;
		p += 6;
		n = strcspn(p, ",");
		if (n == 0 || n > IF_NAMESIZE)
			continue;
		memcpy(name, p, n);
		name[n] = '\0';
		if (!if_nametoindex(name)) {
			log_event(LOG_ERROR, "start_failed", "iface=%s vdev=%s reason=%s hint=%s", name, v,
				  "no such interface in this network namespace",
				  "check `ip link`, or start keel-dataplane in the interface's namespace");
			return EXIT_FAILURE;
		}
	}
	return 0;
}

const char *eal_hint(int err)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long total = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Total: %ld", &total) == 1)
			break;
	if (f)
		fclose(f);
	if (geteuid() != 0 && !dataplane_has_caps())
		return "not root: run as root, or with the capabilities keel-dataplane@.service gives (CapabilityBoundingSet)";
	if (total == 0)
		return "no hugepages reserved: run tools/deps, or reserve 2 MiB pages (sysctl vm.nr_hugepages=1024) and mount hugetlbfs on /dev/hugepages";
	if (err == EACCES)
		return "no usable hugepages: run tools/deps or set up hugepages, and run as root (or with the capabilities DPDK needs)";
	if (err == ENOMEM)
		return "not enough free hugepages for the EAL: free some, lower -m/--socket-mem, or reserve more (tools/deps)";
	if (err == EINVAL)
		return "the EAL options were refused (DPDK's message above says which)";
	return "check the EAL options and hugepages (tools/deps sets them up); DPDK's log above says more";
}
