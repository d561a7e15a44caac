/* keel-dataplane's own options: --help's text, the parser and its range checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "region.h"

void opts_usage(FILE *f)
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

int opts_usage_error(const char *fmt, ...)
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

int opts_parse(int argc, char **argv, struct opts *o)
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
				return opts_usage_error("--workers: expected 1..64, got '%s'", optarg);
			break;
		case O_FLOWS:
			if (!parse_u32(optarg, 16, 1u << 30, &o->flows))
				return opts_usage_error("--flows: expected 16..1073741824, got '%s'", optarg);
			break;
		case O_MTU:
			if (!parse_u32(optarg, 68, 9702, &o->mtu))
				return opts_usage_error("--mtu: expected 68..9702, got '%s'", optarg);
			break;
		case O_IDLE:
			if (!strcmp(optarg, "busy"))
				o->idle = WORKER_IDLE_BUSY;
			else if (!strcmp(optarg, "backoff"))
				o->idle = WORKER_IDLE_BACKOFF;
			else
				return opts_usage_error("--idle: expected busy or backoff, got '%s'", optarg);
			break;
		case O_TXPORT:
			if (parse_tx_map(o, optarg))
				return opts_usage_error("--tx-port: expected RX=TX port ids, got '%s'", optarg);
			break;
		case O_EXC:
			o->exception = true;
			break;
		case O_EXC_PREFIX:
			/* IFNAMSIZ is 16 with the NUL: leave room for the port number. */
			if (!*optarg || strlen(optarg) > 12 || strpbrk(optarg, "/ ,=:%"))
				return opts_usage_error("--exception-iface-prefix: 1-12 plain characters, got '%s'",
						   optarg);
			o->iface_prefix = optarg;
			break;
		case O_EXC_RATE:
			/* The bucket's debt is rate * 1000 in 64 bits: any uint32_t fits; 10M is far past a TAP. */
			if (!parse_u32(optarg, 0, 10000000, &o->exception_rate))
				return opts_usage_error("--exception-rate: expected 0..10000000 frames per second, got '%s'",
						   optarg);
			break;
		case O_NONVIP:
			if (!strcmp(optarg, "drop"))
				o->non_vip = 0;
			else if (!strcmp(optarg, "kernel"))
				o->non_vip = 1;
			else
				return opts_usage_error("--non-vip: expected drop or kernel, got '%s'", optarg);
			break;
		case O_WAIT:
			o->wait_snapshot = true;
			break;
		case O_NOADOPT:
			o->no_adopt = true;
			break;
		case O_SLOTS:
			if (!parse_u32(optarg, 2, KEEL_REGION_MAX_SLOTS, &o->slots))
				return opts_usage_error("--slots: expected 2..8, got '%s'", optarg);
			break;
		case O_SLOTSIZE:
			if (!parse_u64(optarg, 64 << 10, 16ull << 30, &o->slot_size, true))
				return opts_usage_error("--slot-size: expected 64K..16G, got '%s'", optarg);
			break;
		case O_TTCP:
		case O_TTCPC:
		case O_TUDP: {
			unsigned int cls = c == O_TTCP ? FLOW_TIMEOUT_TCP :
					   c == O_TTCPC ? FLOW_TIMEOUT_TCP_CLOSING : FLOW_TIMEOUT_UDP;

			if (!parse_u32(optarg, 1, tmax, &o->timeout_s[cls]))
				return opts_usage_error("timeouts: expected 1..4294967 seconds, got '%s'", optarg);
			break;
		}
		case O_RATE:
			if (!parse_u32(optarg, 0, UINT32_MAX / 1000, &o->new_flow_rate))
				return opts_usage_error("--new-flow-rate: expected 0..4294967, got '%s'", optarg);
			break;
		case O_BURST:
			if (!parse_u32(optarg, 1, UINT32_MAX / 1000, &o->new_flow_burst))
				return opts_usage_error("--new-flow-burst: expected 1..4294967, got '%s'", optarg);
			break;
		case O_MBUFS:
			if (!parse_u32(optarg, 1023, 1u << 24, &o->mbufs))
				return opts_usage_error("--mbufs: expected 1023..16777216, got '%s'", optarg);
			break;
		case O_LOGLEVEL: {
			enum log_level l;

			if (log_parse_level(optarg, &l))
				return opts_usage_error("--log-level: expected debug, info, warn or error, got '%s'", optarg);
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
			return opts_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return opts_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->name)
		return opts_usage_error("--name NAME is required");
	if (keel_region_path(o->name, (char[256]){ 0 }, 256))
		return opts_usage_error("--name: 1-31 of [A-Za-z0-9_.-], not starting with '.' or '-', got '%s'",
				   o->name);
	if (o->non_vip == 1 && !o->exception)
		return opts_usage_error("--non-vip kernel needs --exception");
	if (o->non_vip < 0)
		o->non_vip = o->exception;
	return 0;
}
