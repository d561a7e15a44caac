/* keel-dataplane: options, EAL, ports, region and workers up; then wait for a signal and bring it all down. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "capture.h"
#include "dataplane.h"
#include "dataplane_ports.h"
#include "eal_hint.h"
#include "flow_store.h"
#include "log.h"
#include "notify.h"
#include "opts.h"
#include "port.h"
#include "print_memory.h"
#include "region.h"
#include "worker.h"

#define MAIN_STATS_US 100000 /* port stats into the region, and the quit check, every 100 ms */

static int quit_flag;

static void on_signal(int sig)
{
	(void)sig;
	/* Lock-free store: safe in a handler; workers and the main loop load it between bursts. */
	__atomic_store_n(&quit_flag, 1, __ATOMIC_RELAXED);
}

/* Leave the region marked ended when it ran; remove it when it never did. */
static void dataplane_teardown(struct dataplane *dp, bool ran)
{
	uint32_t w;
	uint16_t i;

	__atomic_store_n(&quit_flag, 1, __ATOMIC_RELAXED);
	if (dp->launched)
		rte_eal_mp_wait_lcore();
	/* No new capture requests while the ports go (one still running sees its ring go quiet). */
	capture_fini(dp->capture);
	dp->capture = false;
	for (i = 0; i < dp->n_ports; i++) {
		if (dp->port_started[i])
			port_stop(dp->ports[i]);
		if (dp->tap_started[i])
			port_stop(dp->taps[i]);
	}
	if (dp->region && ran)
		region_set_state(dp->region, KEEL_REGION_ENDED);
	for (w = 0; w < dp->n_workers; w++)
		worker_destroy(dp->workers[w]);
	for (i = 0; i < RTE_MAX_NUMA_NODES; i++)
		rte_mempool_free(dp->pools[i]);
	region_close(dp->region, !ran);
	dp->region = NULL;
	rte_eal_cleanup();
}

static int fail(struct dataplane *dp, const char *msg)
{
	log_event(LOG_ERROR, "start_failed", "reason=%s", msg);
	dataplane_teardown(dp, false);
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static struct dataplane dp; /* large (pool and worker tables); static keeps it off the stack */
	struct flow_table_params fp = { 0 };
	bool mismatch[KEEL_REGION_MAX_WORKERS];
	struct region_params rp;
	char err[512];
	unsigned int lcore;
	const char *capture_blocked;
	int i, dash = -1, ret;
	uint32_t w;

	log_init();
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	/* Options first, without EAL: --help and usage errors need no hugepages. */
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		opts_usage(stdout);
		return 0;
	}
	if (dash < 0) {
		fprintf(stderr, "keel-dataplane: expected '--' before the Keel options (see --help)\n");
		return EXIT_USAGE;
	}
	{
		char **av = argv + dash;
		char *prg = argv[0];

		/* getopt wants argv[0]; borrow the "--" slot and put it back for EAL. */
		av[0] = prg;
		ret = opts_parse(argc - dash, av, &dp.o);
		av[0] = "--";
		if (ret < 0) {
			opts_usage(stdout);
			return 0;
		}
		if (ret)
			return ret;
	}
	if (dp.o.print_memory)
		return print_memory(&dp.o, dash, argv);

	ret = eal_hint_vdev_ifaces(dash, argv);
	if (ret)
		return ret;
	capture_blocked = capture_blocked_by(dash, argv);
	ret = rte_eal_init(dash, argv);
	if (ret < 0) {
		int e = rte_errno;

		log_event(LOG_ERROR, "start_failed", "reason=%s error=%s hint=%s", "DPDK EAL init failed",
			  rte_strerror(e), eal_hint(e));
		return e == EINVAL ? EXIT_USAGE : EXIT_FAILURE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* Lcores: the main one keeps the control duties; every worker needs one of its own. */
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (dp.n_workers == KEEL_REGION_MAX_WORKERS ||
		    (dp.o.workers && dp.n_workers == dp.o.workers))
			break;
		dp.lcores[dp.n_workers++] = lcore;
	}
	if (dp.n_workers == 0 || (dp.o.workers && dp.n_workers < dp.o.workers)) {
		uint32_t want = dp.o.workers ? dp.o.workers : 1;

		snprintf(err, sizeof(err),
			 "%u worker%s need%s %u lcores (one main + one per worker), EAL gave %u: pass e.g. -l 0-%u",
			 want, want > 1 ? "s" : "", want > 1 ? "" : "s", want + 1, rte_lcore_count(), want);
		dp.n_workers = 0;
		return fail(&dp, err);
	}

	/* Every probed port is a data port; TAPs created later are not (they are probed after this). */
	RTE_ETH_FOREACH_DEV(i) {
		if (dp.n_ports == WORKER_MAX_PORTS) {
			snprintf(err, sizeof(err), "more than %d ports: give fewer devices", WORKER_MAX_PORTS);
			return fail(&dp, err);
		}
		dp.taps[dp.n_ports] = WORKER_NO_TAP;
		dp.ports[dp.n_ports++] = (uint16_t)i;
	}
	if (dp.n_ports == 0)
		return fail(&dp, "no ports: give a device (-a PCI address bound to vfio-pci, or --vdev net_af_xdp0,iface=..., net_pcap0,rx_pcap=..., net_null0)");
	if (dataplane_ports_tx_map(&dp, err, sizeof(err)))
		return fail(&dp, err);

	rp = (struct region_params){ .name = dp.o.name, .n_workers = dp.n_workers, .n_slots = dp.o.slots,
				     .slot_size = dp.o.slot_size, .n_ports = dp.n_ports,
				     .flow_capacity = dp.o.flows };
	dp.region = region_create(&rp, err, sizeof(err));
	if (!dp.region)
		return fail(&dp, err);

	if (dataplane_ports_setup(&dp, err, sizeof(err)))
		return fail(&dp, err);
	for (i = 0; i < dp.n_ports && i < 8; i++) {
		struct rte_ether_addr mac;

		if (rte_eth_macaddr_get(dp.ports[i], &mac)) {
			snprintf(err, sizeof(err), "port %u: cannot read its MAC address", dp.ports[i]);
			return fail(&dp, err);
		}
		memcpy(dp.region->port_mac[i], mac.addr_bytes, 6);
		port_iface(dp.ports[i], dp.region->port_name[i], sizeof(dp.region->port_name[i]));
		/* The core takes only frames to this MAC and answers from it; the MTU bounds echo replies. */
		memcpy(dp.port_ctx[i].mac, mac.addr_bytes, 6);
		dp.port_ctx[i].mtu = (uint16_t)dp.o.mtu;
	}
	dp.region->tsc_hz = rte_get_tsc_hz();
	dataplane_ports_placement(&dp, mismatch);

	fp.capacity = dp.o.flows;
	if (getrandom(&fp.secret, sizeof(fp.secret), 0) != sizeof(fp.secret))
		fp.secret = rte_rdtsc();
	for (i = 0; i < FLOW_TIMEOUT_MAX; i++)
		fp.timeout_ms[i] = dp.o.timeout_s[i] * 1000;
	fp.new_flow_rate = dp.o.new_flow_rate;
	fp.new_flow_burst = dp.o.new_flow_burst;
	for (w = 0; w < dp.n_workers; w++) {
		struct worker_params wp = {
			.id = w, .lcore = dp.lcores[w], .region = dp.region, .flows = &fp,
			.name = dp.o.name, .n_workers = dp.n_workers, .adopt_flows = !dp.o.no_adopt,
			.non_vip_to_kernel = dp.o.non_vip == 1, .idle = dp.o.idle,
			.exception_rate = dp.o.exception_rate,
			.numa_mismatch = mismatch[w], .wait_snapshot = dp.o.wait_snapshot, .quit = &quit_flag, .n_ports = dp.n_ports,
			.ports = dp.ports, .port_ctx = dp.port_ctx, .tx_index = dp.tx_index,
			.taps = dp.o.exception ? dp.taps : NULL,
		};

		dp.workers[w] = worker_create(&wp, err, sizeof(err));
		if (!dp.workers[w])
			return fail(&dp, err);
	}
	flow_store_prune(dp.o.name, dp.n_workers, KEEL_REGION_MAX_WORKERS);
	for (w = 0; w < dp.n_workers; w++) {
		ret = rte_eal_remote_launch(worker_main, dp.workers[w], dp.lcores[w]);
		if (ret) {
			snprintf(err, sizeof(err), "cannot launch worker %u on lcore %u: %s", w, dp.lcores[w],
				 strerror(-ret));
			dp.launched = w > 0;
			return fail(&dp, err);
		}
		dp.launched = true;
	}
	/* dpdk-dumpcap may attach from now on: the ports are up, the workers poll them. */
	dp.capture = capture_init(capture_blocked);
	/* Workers run: from here keel-control may publish (it waits for RUNNING). */
	region_set_state(dp.region, KEEL_REGION_RUNNING);
	log_event(LOG_INFO, "running", "instance=%s workers=%u ports=%u flows_per_worker=%u epoch=%016" PRIx64,
		  dp.o.name, dp.n_workers, dp.n_ports, dp.o.flows, dp.region->epoch);
	/* Type=notify: ready once the workers run and keel-control can publish. */
	notify_send("READY=1\nSTATUS=forwarding");

	for (uint32_t tick = 0; !__atomic_load_n(&quit_flag, __ATOMIC_RELAXED); tick++) {
		dataplane_ports_stats(&dp);
		for (w = 0; w < dp.n_workers; w++)
			worker_report(dp.workers[w]);
		if (tick % 10 == 0) /* about every second */
			capture_reap(dp.capture);
		usleep(MAIN_STATS_US);
	}
	log_event(LOG_INFO, "stopping", "instance=%s", dp.o.name);
	notify_send("STOPPING=1");
	dataplane_ports_stats(&dp);
	dataplane_teardown(&dp, true);
	return 0;
}
