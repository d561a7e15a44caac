/* keel-dataplane: options, EAL, ports, region and workers up; then wait for a signal and bring it all down. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/random.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "capture.h"
#include "exception.h"
#include "flow_store.h"
#include "log.h"
#include "notify.h"
#include "port.h"
#include "region.h"
#include "worker.h"

#define EXIT_USAGE 64 /* sysexits.h EX_USAGE */
#define MAIN_LINK_WAIT_MS 3000
#define MAIN_STATS_US 100000 /* port stats into the region, and the quit check, every 100 ms */

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

static int quit_flag;

static void on_signal(int sig)
{
	(void)sig;
	/* Lock-free store: safe in a handler; workers and the main loop load it between bursts. */
	__atomic_store_n(&quit_flag, 1, __ATOMIC_RELAXED);
}

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    keel-dataplane - Keel's packet-forwarding process (DPDK primary)\n"
"\n"
"SYNOPSIS\n"
"    keel-dataplane [EAL options] -- --name NAME [options]\n"
"\n"
"DESCRIPTION\n"
"    Forwards the VIP traffic of every DPDK port (a PCI NIC given with -a, or a\n"
"    virtual device given with --vdev: net_af_xdp, net_af_packet, net_pcap,\n"
"    net_null, net_ring, net_tap) to backends chosen by Maglev, encapsulated.\n"
"    One worker per EAL worker lcore polls its own RX queue of every port.\n"
"    Forwarding state comes from keel-control through the shared region\n"
"    /dev/hugepages/keel-NAME (or /dev/shm/keel-NAME without hugetlbfs, or\n"
"    $KEEL_REGION_DIR/keel-NAME); until a snapshot is published every packet is\n"
"    dropped and counted as no_snapshot. SIGINT or SIGTERM stop it cleanly: the\n"
"    region stays, marked ended, for keel-control to see. dpdk-dumpcap\n"
"    --file-prefix=PREFIX (keelctl capture) records its ports as pcapng, unless\n"
"    --in-memory, --no-shconf or --huge-unlink leave it nothing to attach to.\n"
"\n"
"OPTIONS\n"
"    --name NAME             instance name (region file keel-NAME); required\n"
"    --workers N             workers (default: every EAL lcore but the main one)\n"
"    --flows N               flow-table entries per worker (default 1048576)\n"
"    --no-adopt              start with empty flow tables instead of taking over\n"
"                            those an earlier start left (keel-NAME-flows-W)\n"
"    --mtu N                 MTU, also set on ports that support it (default 1500)\n"
"    --idle busy|backoff     busy-poll (default) or pause, then sleep up to\n"
"                            100 us, while no packet comes (small hosts, CI)\n"
"    --tx-port RX=TX         send what arrives on port RX out of port TX\n"
"                            (default: the same port); repeatable\n"
"    --exception             a TAP per data port (keelP, the port's MAC) so the\n"
"                            kernel sends and receives the non-VIP traffic\n"
"    --exception-iface-prefix P   TAP names P<port> (default keel)\n"
"    --exception-rate PPS    per worker, frames to the kernel other than ARP, ND,\n"
"                            BGP, BFD and OSPF (which go first, unlimited); the\n"
"                            rest is dropped as exception_limit (default 20000,\n"
"                            0 no limit)\n"
"    --non-vip drop|kernel   non-VIP packets (default kernel with --exception,\n"
"                            else drop)\n"
"    --wait-snapshot         receive nothing until the first snapshot is active\n"
"                            (pcap replays: no packet meets an empty state)\n"
"    --slots N               snapshot slots, 2..%d (default 4)\n"
"    --slot-size BYTES       bytes per slot, K/M/G suffixes (default 64M)\n"
"    --timeout-tcp S         idle timeout of TCP flows (default 900)\n"
"    --timeout-tcp-closing S after FIN or RST (default 10)\n"
"    --timeout-udp S         UDP and other flows (default 300)\n"
"    --new-flow-rate N       new flows tracked per worker per second, 0 for no\n"
"                            limit (default 0); beyond it flows go untracked\n"
"    --new-flow-burst N      depth of that rate's bucket (default: one second)\n"
"    --mbufs N               mbufs per socket's pool (default: sized from queues;\n"
"                            net_pcap infinite_rx needs one per packet of its file)\n"
"    --log-level LEVEL       debug, info (default), warn or error: the least\n"
"                            severe log lines written (never one per packet)\n"
"    --print-memory          print the memory a start with these EAL and Keel\n"
"                            options maps (region, flow tables, mbuf pools),\n"
"                            and exit: no EAL, no hugepage, no device touched.\n"
"                            Workers from --workers or -l, ports from -a/--vdev\n"
"    --help                  this text\n"
"\n"
"EXIT STATUS\n"
"    0 after a signal, 1 when it cannot start (one line on stderr says why),\n"
"    64 for bad options.\n"
"\n"
"EXAMPLE\n"
"    keel-dataplane -l 0,1 --no-pci --file-prefix t1 \\\n"
"        --vdev 'net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap' -- --name t1\n",
		KEEL_REGION_MAX_SLOTS);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "keel-dataplane: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, bool suffix)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		return false;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (suffix && *end) {
		unsigned int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 :
				     *end == 'G' || *end == 'g' ? 30 : 0;

		if (!shift || end[1] || v > (UINT64_MAX >> shift))
			return false;
		v <<= shift;
		end++;
	}
	if (*end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, min, max, &v, false))
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse_tx_map(struct opts *o, const char *s)
{
	uint32_t rx, tx;
	char buf[32], *eq;

	if (strlen(s) >= sizeof(buf) || o->n_tx_map >= RTE_MAX_ETHPORTS)
		return -1;
	strcpy(buf, s);
	eq = strchr(buf, '=');
	if (!eq)
		return -1;
	*eq = '\0';
	if (!parse_u32(buf, 0, RTE_MAX_ETHPORTS - 1, &rx) || !parse_u32(eq + 1, 0, RTE_MAX_ETHPORTS - 1, &tx))
		return -1;
	o->tx_map[o->n_tx_map][0] = (uint16_t)rx;
	o->tx_map[o->n_tx_map][1] = (uint16_t)tx;
	o->n_tx_map++;
	return 0;
}

/* Returns 0, or the exit code: EXIT_USAGE after one line on stderr, or -1 for --help (exit 0). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_NAME = 256, O_WORKERS, O_FLOWS, O_MTU, O_IDLE, O_TXPORT, O_EXC, O_EXC_PREFIX,
	       O_NONVIP, O_WAIT, O_SLOTS, O_SLOTSIZE, O_TTCP, O_TTCPC, O_TUDP, O_RATE, O_BURST, O_MBUFS,
	       O_LOGLEVEL, O_NOADOPT, O_PRINTMEM, O_EXC_RATE, O_HELP };
	static const struct option lo[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "no-adopt", no_argument, NULL, O_NOADOPT },
		{ "mtu", required_argument, NULL, O_MTU },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "tx-port", required_argument, NULL, O_TXPORT },
		{ "exception", no_argument, NULL, O_EXC },
		{ "exception-iface-prefix", required_argument, NULL, O_EXC_PREFIX },
		{ "exception-rate", required_argument, NULL, O_EXC_RATE },
		{ "non-vip", required_argument, NULL, O_NONVIP },
		{ "wait-snapshot", no_argument, NULL, O_WAIT },
		{ "slots", required_argument, NULL, O_SLOTS },
		{ "slot-size", required_argument, NULL, O_SLOTSIZE },
		{ "timeout-tcp", required_argument, NULL, O_TTCP },
		{ "timeout-tcp-closing", required_argument, NULL, O_TTCPC },
		{ "timeout-udp", required_argument, NULL, O_TUDP },
		{ "new-flow-rate", required_argument, NULL, O_RATE },
		{ "new-flow-burst", required_argument, NULL, O_BURST },
		{ "mbufs", required_argument, NULL, O_MBUFS },
		{ "log-level", required_argument, NULL, O_LOGLEVEL },
		{ "print-memory", no_argument, NULL, O_PRINTMEM },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	/* Timeouts become ms in a uint32_t: 49 days is plenty. */
	const uint32_t tmax = UINT32_MAX / 1000;
	int c;

	*o = (struct opts){
		.flows = 1u << 20, .mtu = 1500, .idle = WORKER_IDLE_BUSY, .iface_prefix = "keel",
		.non_vip = -1, .slots = 4, .slot_size = 64ull << 20, .exception_rate = 20000,
		.timeout_s = { [FLOW_TIMEOUT_TCP] = 900, [FLOW_TIMEOUT_TCP_CLOSING] = 10,
			       [FLOW_TIMEOUT_UDP] = 300 },
	};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_NAME:
			o->name = optarg;
			break;
		case O_WORKERS:
			if (!parse_u32(optarg, 1, KEEL_REGION_MAX_WORKERS, &o->workers))
				return usage_error("--workers: expected 1..64, got '%s'", optarg);
			break;
		case O_FLOWS:
			if (!parse_u32(optarg, 16, 1u << 30, &o->flows))
				return usage_error("--flows: expected 16..1073741824, got '%s'", optarg);
			break;
		case O_MTU:
			if (!parse_u32(optarg, 68, 9702, &o->mtu))
				return usage_error("--mtu: expected 68..9702, got '%s'", optarg);
			break;
		case O_IDLE:
			if (!strcmp(optarg, "busy"))
				o->idle = WORKER_IDLE_BUSY;
			else if (!strcmp(optarg, "backoff"))
				o->idle = WORKER_IDLE_BACKOFF;
			else
				return usage_error("--idle: expected busy or backoff, got '%s'", optarg);
			break;
		case O_TXPORT:
			if (parse_tx_map(o, optarg))
				return usage_error("--tx-port: expected RX=TX port ids, got '%s'", optarg);
			break;
		case O_EXC:
			o->exception = true;
			break;
		case O_EXC_PREFIX:
			/* IFNAMSIZ is 16 with the NUL: leave room for the port number. */
			if (!*optarg || strlen(optarg) > 12 || strpbrk(optarg, "/ ,=:%"))
				return usage_error("--exception-iface-prefix: 1-12 plain characters, got '%s'",
						   optarg);
			o->iface_prefix = optarg;
			break;
		case O_EXC_RATE:
			/* The bucket's debt is rate * 1000 in 64 bits: any uint32_t fits; 10M is far past a TAP. */
			if (!parse_u32(optarg, 0, 10000000, &o->exception_rate))
				return usage_error("--exception-rate: expected 0..10000000 frames per second, got '%s'",
						   optarg);
			break;
		case O_NONVIP:
			if (!strcmp(optarg, "drop"))
				o->non_vip = 0;
			else if (!strcmp(optarg, "kernel"))
				o->non_vip = 1;
			else
				return usage_error("--non-vip: expected drop or kernel, got '%s'", optarg);
			break;
		case O_WAIT:
			o->wait_snapshot = true;
			break;
		case O_NOADOPT:
			o->no_adopt = true;
			break;
		case O_SLOTS:
			if (!parse_u32(optarg, 2, KEEL_REGION_MAX_SLOTS, &o->slots))
				return usage_error("--slots: expected 2..8, got '%s'", optarg);
			break;
		case O_SLOTSIZE:
			if (!parse_u64(optarg, 64 << 10, 16ull << 30, &o->slot_size, true))
				return usage_error("--slot-size: expected 64K..16G, got '%s'", optarg);
			break;
		case O_TTCP:
		case O_TTCPC:
		case O_TUDP: {
			unsigned int cls = c == O_TTCP ? FLOW_TIMEOUT_TCP :
					   c == O_TTCPC ? FLOW_TIMEOUT_TCP_CLOSING : FLOW_TIMEOUT_UDP;

			if (!parse_u32(optarg, 1, tmax, &o->timeout_s[cls]))
				return usage_error("timeouts: expected 1..4294967 seconds, got '%s'", optarg);
			break;
		}
		case O_RATE:
			if (!parse_u32(optarg, 0, UINT32_MAX / 1000, &o->new_flow_rate))
				return usage_error("--new-flow-rate: expected 0..4294967, got '%s'", optarg);
			break;
		case O_BURST:
			if (!parse_u32(optarg, 1, UINT32_MAX / 1000, &o->new_flow_burst))
				return usage_error("--new-flow-burst: expected 1..4294967, got '%s'", optarg);
			break;
		case O_MBUFS:
			if (!parse_u32(optarg, 1023, 1u << 24, &o->mbufs))
				return usage_error("--mbufs: expected 1023..16777216, got '%s'", optarg);
			break;
		case O_LOGLEVEL: {
			enum log_level l;

			if (log_parse_level(optarg, &l))
				return usage_error("--log-level: expected debug, info, warn or error, got '%s'", optarg);
			log_set_level(l);
			break;
		}
		case O_PRINTMEM:
			o->print_memory = true;
			break;
		case 'h':
		case O_HELP:
			return -1;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->name)
		return usage_error("--name NAME is required");
	if (keel_region_path(o->name, (char[256]){ 0 }, 256))
		return usage_error("--name: 1-31 of [A-Za-z0-9_.-], not starting with '.' or '-', got '%s'",
				   o->name);
	if (o->non_vip == 1 && !o->exception)
		return usage_error("--non-vip kernel needs --exception");
	if (o->non_vip < 0)
		o->non_vip = o->exception;
	return 0;
}

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

static struct rte_mempool *dataplane_pool(struct dataplane *dp, int socket, uint32_t n_mbufs)
{
	unsigned int s = socket < 0 ? 0 : (unsigned int)socket;

	if (s >= RTE_MAX_NUMA_NODES)
		s = 0;
	if (!dp->pools[s])
		dp->pools[s] = port_pool_create((int)s, n_mbufs, (uint16_t)dp->o.mtu);
	return dp->pools[s];
}

/* Mbufs per socket's pool: --mbufs, or enough for every queue of the ports (and their TAPs) to be full. */
static uint32_t dataplane_n_mbufs(const struct opts *o, uint32_t n_ports, uint32_t n_workers)
{
	return o->mbufs ? o->mbufs : port_pool_size(n_ports * (o->exception ? 2u : 1u), (uint16_t)n_workers, n_workers);
}

/* Data ports and their TAPs: each queue's mbufs from the socket of the port, or of the worker that polls it. */
static int dataplane_ports(struct dataplane *dp, char *err, size_t errlen)
{
	struct rte_mempool *pools[KEEL_REGION_MAX_WORKERS];
	int sockets[KEEL_REGION_MAX_WORKERS];
	uint32_t n_mbufs = dataplane_n_mbufs(&dp->o, dp->n_ports, dp->n_workers);
	struct port_params pp = { .n_queues = (uint16_t)dp->n_workers, .mtu = (uint16_t)dp->o.mtu,
				  .pools = pools, .sockets = sockets };
	uint16_t i;
	uint32_t q;
	int ret;

	for (i = 0; i < dp->n_ports; i++) {
		int ps = port_socket(dp->ports[i]);

		for (q = 0; q < dp->n_workers; q++) {
			sockets[q] = ps >= 0 ? ps : (int)rte_lcore_to_socket_id(dp->lcores[q]);
			pools[q] = dataplane_pool(dp, sockets[q], n_mbufs);
			if (!pools[q]) {
				snprintf(err, errlen,
					 "cannot create a pool of %u mbufs on socket %d: %s; free hugepages or use fewer workers/ports",
					 n_mbufs, sockets[q], rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
		pp.rss = true;
		/* Only frames to the port's MAC are ours; the host behind the exception path wants the link's multicast (ND, DAD). */
		pp.allmulti = dp->o.exception;
		ret = port_setup(dp->ports[i], &pp, err, errlen);
		if (ret)
			return ret;
		dp->port_started[i] = true;
		if (!dp->o.exception)
			continue;
		ret = exception_tap_create(dp->ports[i], dp->o.iface_prefix, &dp->taps[i], err, errlen);
		if (ret)
			return ret;
		/* The kernel picks the TAP queue it sends on; any worker may take it out. */
		pp.rss = false;
		pp.allmulti = false;
		ret = port_setup(dp->taps[i], &pp, err, errlen);
		if (ret)
			return ret;
		dp->tap_started[i] = true;
	}
	return 0;
}

static int dataplane_tx_map(struct dataplane *dp, char *err, size_t errlen)
{
	uint32_t m;
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++)
		dp->tx_index[i] = i;
	for (m = 0; m < dp->o.n_tx_map; m++) {
		int rx = -1, tx = -1;

		for (i = 0; i < dp->n_ports; i++) {
			if (dp->ports[i] == dp->o.tx_map[m][0])
				rx = i;
			if (dp->ports[i] == dp->o.tx_map[m][1])
				tx = i;
		}
		if (rx < 0 || tx < 0) {
			snprintf(err, errlen, "--tx-port %u=%u: no such port (ports are 0..%u)",
				 dp->o.tx_map[m][0], dp->o.tx_map[m][1], dp->n_ports - 1);
			return -ENODEV;
		}
		dp->tx_index[rx] = (uint16_t)tx;
	}
	return 0;
}

/* Where everything sits; cross-socket pairs cost every packet a trip over the interconnect. */
static void dataplane_placement(struct dataplane *dp, bool mismatch[])
{
	char pn[PORT_NAME_LEN];
	uint32_t w;
	uint16_t i;

	for (i = 0; i < dp->n_ports; i++) {
		const uint8_t *m = dp->port_ctx[i].mac;
		char tap[32] = "none", mac[24];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		if (dp->o.exception)
			snprintf(tap, sizeof(tap), "%s%u", dp->o.iface_prefix, dp->ports[i]);
		log_event(LOG_INFO, "port", "port=%s mac=%s socket=%d queues=%u tx_port=%u exception=%s",
			  port_name(dp->ports[i], pn, sizeof(pn)), mac, port_socket(dp->ports[i]),
			  dp->n_workers, dp->ports[dp->tx_index[i]], tap);
		if (!port_wait_link(dp->ports[i], MAIN_LINK_WAIT_MS))
			log_event(LOG_WARN, "link_down", "port=%s waited_ms=%u going_on=yes", pn,
				  MAIN_LINK_WAIT_MS);
	}
	for (w = 0; w < dp->n_workers; w++) {
		int ws = (int)rte_lcore_to_socket_id(dp->lcores[w]);

		mismatch[w] = false;
		log_event(LOG_INFO, "worker", "worker=%u lcore=%u socket=%d", w, dp->lcores[w], ws);
		for (i = 0; i < dp->n_ports; i++) {
			int ps = port_socket(dp->ports[i]);

			if (ps >= 0 && ps != ws) {
				mismatch[w] = true;
				log_event(LOG_WARN, "numa_mismatch",
					  "worker=%u lcore=%u socket=%d port=%s port_socket=%d", w, dp->lcores[w],
					  ws, port_name(dp->ports[i], pn, sizeof(pn)), ps);
			}
		}
	}
}

static void dataplane_port_stats(struct dataplane *dp)
{
	struct rte_eth_stats s;
	struct rte_eth_link link;
	uint16_t i;

	for (i = 0; i < dp->n_ports && i < 8; i++) {
		/* The link, for keel-control to take the port's next hops out of the set while it is down. */
		memset(&link, 0, sizeof(link));
		__atomic_store_n(&dp->region->port_mac[i][6],
				 rte_eth_link_get_nowait(dp->ports[i], &link) ? KEEL_PORT_LINK_UNKNOWN :
				 link.link_status == RTE_ETH_LINK_UP	      ? KEEL_PORT_LINK_UP :
										KEEL_PORT_LINK_DOWN,
				 __ATOMIC_RELAXED);
		if (rte_eth_stats_get(dp->ports[i], &s))
			continue;
		__atomic_store_n(&dp->region->port_missed[i], s.imissed, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->region->port_nombuf[i], s.rx_nombuf, __ATOMIC_RELAXED);
	}
}

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
static int check_vdev_ifaces(int argc, char **argv)
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

static int print_memory(const struct opts *o, int argc, char **argv)
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
				return usage_error("--print-memory: -l '%s' gives no worker lcore (one main + one per worker)",
						   argv[i]);
			workers = (uint32_t)(n - 1);
		}
	}
	if (!workers)
		return usage_error("--print-memory needs --workers N (or the EAL's -l list)");
	if (workers > KEEL_REGION_MAX_WORKERS)
		return usage_error("--print-memory: at most %d workers", KEEL_REGION_MAX_WORKERS);
	if (!ports)
		return usage_error("--print-memory needs the devices of the start (-a PCI or --vdev ...)");
	if (ports > WORKER_MAX_PORTS)
		return usage_error("--print-memory: more than %d ports", WORKER_MAX_PORTS);

	/* The region and the flow tables live in the region's directory: hugetlbfs pages there. */
	if (keel_region_path(o->name, path, sizeof(path)))
		return usage_error("--name: bad instance name '%s'", o->name);
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
	mbufs = dataplane_n_mbufs(o, ports, workers);
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

static const char *eal_hint(int err)
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
		usage(stdout);
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
		ret = parse_opts(argc - dash, av, &dp.o);
		av[0] = "--";
		if (ret < 0) {
			usage(stdout);
			return 0;
		}
		if (ret)
			return ret;
	}
	if (dp.o.print_memory)
		return print_memory(&dp.o, dash, argv);

	ret = check_vdev_ifaces(dash, argv);
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
	if (dataplane_tx_map(&dp, err, sizeof(err)))
		return fail(&dp, err);

	rp = (struct region_params){ .name = dp.o.name, .n_workers = dp.n_workers, .n_slots = dp.o.slots,
				     .slot_size = dp.o.slot_size, .n_ports = dp.n_ports,
				     .flow_capacity = dp.o.flows };
	dp.region = region_create(&rp, err, sizeof(err));
	if (!dp.region)
		return fail(&dp, err);

	if (dataplane_ports(&dp, err, sizeof(err)))
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
	dataplane_placement(&dp, mismatch);

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
		dataplane_port_stats(&dp);
		for (w = 0; w < dp.n_workers; w++)
			worker_report(dp.workers[w]);
		if (tick % 10 == 0) /* about every second */
			capture_reap(dp.capture);
		usleep(MAIN_STATS_US);
	}
	log_event(LOG_INFO, "stopping", "instance=%s", dp.o.name);
	notify_send("STOPPING=1");
	dataplane_port_stats(&dp);
	dataplane_teardown(&dp, true);
	return 0;
}
