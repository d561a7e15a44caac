/* --print-memory: what a start with these EAL and Keel options would map, without starting the EAL. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include "dataplane_ports.h"
#include "flow_store.h"
#include "opts.h"
#include "port.h"
#include "print_memory.h"
#include "region.h"
#include "worker.h"

/*
 * --print-memory. The EAL is not started, so what it would find comes from
 * its options: workers from --workers or -l (every lcore but the main one),
 * ports from -a/--allow/--vdev. The figures come from the functions a start
 * sizes things with; only the EAL's own share is an allowance.
 */
#define MEM_EAL_BASE (4ull << 20)    /* EAL memzones, ethdev data, heap metadata: about 2 MiB measured (22.11) */
#define MEM_PER_QUEUE (256ull << 10) /* RX and TX descriptor and software rings of one queue (1024 each way) */
#define MEM_PER_WORKER (256ull << 10) /* a worker's state and TX buffers */

static int eal_count_lcores(const char *list)
{
	int n = 0;

	while (*list) {
		char *end;
		long a = strtol(list, &end, 10), b = a;

		if (end == list || a < 0)
			return -1;
		if (*end == '-') {
			list = end + 1;
			b = strtol(list, &end, 10);
			if (end == list || b < a)
				return -1;
		}
		n += (int)(b - a + 1);
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		list = end;
	}
	return n;
}

int print_memory(const struct opts *o, int argc, char **argv)
{
	uint32_t workers = o->workers, ports = 0, mbufs, w;
	struct region_params rp;
	char path[256], *slash;
	uint64_t page, hpage = 2u << 20, region, flow, pool, eal, queues, total;
	const uint64_t mib = 1u << 20;
	bool huge;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-a") || !strcmp(a, "--allow") || !strcmp(a, "--vdev"))
			ports++, i++;
		else if (!strncmp(a, "-a", 2) || !strncmp(a, "--allow=", 8) || !strncmp(a, "--vdev=", 7))
			ports++;
		else if (!strcmp(a, "-l") && i + 1 < argc && !workers) {
			int n = eal_count_lcores(argv[++i]);

			if (n < 2)
				return opts_usage_error("--print-memory: -l '%s' gives no worker lcore (one main + one per worker)",
						   argv[i]);
			workers = (uint32_t)(n - 1);
		}
	}
	if (!workers)
		return opts_usage_error("--print-memory needs --workers N (or the EAL's -l list)");
	if (workers > KEEL_REGION_MAX_WORKERS)
		return opts_usage_error("--print-memory: at most %d workers", KEEL_REGION_MAX_WORKERS);
	if (!ports)
		return opts_usage_error("--print-memory needs the devices of the start (-a PCI or --vdev ...)");
	if (ports > WORKER_MAX_PORTS)
		return opts_usage_error("--print-memory: more than %d ports", WORKER_MAX_PORTS);

	/* The region and the flow tables live in the region's directory: hugetlbfs pages there. */
	if (keel_region_path(o->name, path, sizeof(path)))
		return opts_usage_error("--name: bad instance name '%s'", o->name);
	slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	{
		struct statfs st;

		huge = statfs(path, &st) == 0 && st.f_type == HUGETLBFS_MAGIC;
	}
	page = region_dir_page_size(path);
	f = fopen("/proc/meminfo", "r");
	if (f) {
		char line[128];
		unsigned long long kb;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1)
				hpage = kb << 10;
		fclose(f);
	}
	rp = (struct region_params){ .name = o->name, .n_workers = workers, .n_slots = o->slots,
				     .slot_size = o->slot_size, .n_ports = ports, .flow_capacity = o->flows };
	region = region_file_size(&rp, page);
	flow = flow_store_file_size(o->flows, page);
	mbufs = dataplane_ports_n_mbufs(o, ports, workers);
	pool = port_pool_mem_size(mbufs, (uint16_t)o->mtu, hpage);
	queues = (uint64_t)ports * (o->exception ? 2u : 1u) * workers;
	eal = MEM_EAL_BASE + queues * MEM_PER_QUEUE + workers * MEM_PER_WORKER + pool;
	eal = (eal + hpage - 1) / hpage * hpage;
	w = workers;
	printf("instance=%s workers=%u ports=%u exception=%s flows=%u slots=%u slot_size=%" PRIu64 " mtu=%u\n",
	       o->name, workers, ports, o->exception ? "yes" : "no", o->flows, o->slots, o->slot_size, o->mtu);
	printf("region_dir=%s hugetlbfs=%s page=%" PRIu64 "\n", path, huge ? "yes" : "no", page);
	printf("region_bytes=%" PRIu64 "\n", region);
	printf("flow_file_bytes=%" PRIu64 " flow_files=%u flow_bytes=%" PRIu64 "\n", flow, w, flow * w);
	printf("mbufs=%u mbuf_bytes=%u pool_bytes=%" PRIu64 " pools=one per NUMA node with ports or workers\n",
	       mbufs, port_mbuf_size((uint16_t)o->mtu), pool);
	printf("eal_bytes=%" PRIu64 " eal_allowance_bytes=%" PRIu64 " hugepage=%" PRIu64 "\n", eal, eal - pool, hpage);
	total = region + flow * w + eal;
	/* Outside hugetlbfs (/dev/shm) the region and tables take ordinary memory, not hugepages. */
	printf("total_bytes=%" PRIu64 " total_mib=%" PRIu64 " hugepages=%" PRIu64 "\n", total,
	       (total + mib - 1) / mib, ((huge ? total : eal) + hpage - 1) / hpage);
	return 0;
}
