/* keel-bench: the real per-burst pipeline (DPDK mbufs -> packet core -> mbufs) on generated traffic, without a NIC. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "burst.h"
#include "flow_table.h"
#include "hash.h"
#include "pipeline.h"
#include "snapshot_build.h"
#include "pmu.h"

/* The stages build (keel-bench-stages) forces stage_clock.h in; elsewhere a mark costs nothing (pipeline.h). */
#ifndef KEEL_BENCH_STAGE_CLOCK_H
#define KEEL_BENCH_HAS_STAGES 0
#else
#define KEEL_BENCH_HAS_STAGES 1
struct keel_stage_clock keel_stage_clock = { .collect = -1 };
#endif

#define MAX_BURST KEEL_BURST_MAX

struct opts {
	uint64_t flows;
	double new_share;
	double v6_share;
	uint32_t burst;
	double seconds;
	uint32_t backends;
	uint64_t capacity;
	uint32_t table_size;
	uint64_t packets; /* fixed packet count instead of a time (callgrind) */
	bool json;
	bool stages;
	bool quic; /* UDP QUIC VIPs, every packet a short header routed by its server id */
	uint32_t sources; /* source lists: prefixes on each VIP (0: no list) */
	uint32_t next_hops; /* 1: the snapshot's gateway alone; more: the per-flow choice (next_hop.h) */
	bool next_hop_ports; /* each next hop on a port of its own (keel_next_hop.port) */
};

/* --quic: read by the traffic templates and the snapshot (one run, one setting). */
static bool bench_quic;
static uint32_t bench_backends = 1;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keel-bench [EAL options --] [options]\n"
		"Runs keel-dataplane's burst pipeline on one core over generated mbufs.\n"
		"  --flows N        established flows (1 .. 16777216, default 1000000)\n"
		"  --new-share F    share of packets that open a new flow (0..1, default 0)\n"
		"  --v6-share F     share of IPv6 packets (0..1, default 0)\n"
		"  --burst N        burst size (1..%d, default 32)\n"
		"  --seconds S      measured time (default 3)\n"
		"  --backends N     backends of the VIP (default 100)\n"
		"  --capacity N     flow-table entries (default 2 x flows)\n"
		"  --table-size M   Maglev table size, prime (default 65537)\n"
		"  --packets N      run exactly N packets (rounded up to 64 bursts) instead of --seconds\n"
		"  --stages         cycles per stage of the burst (runs keel-bench-stages)\n"
		"  --json           one JSON line instead of text\n"
		"  --quic           QUIC VIPs (udp/443, a server id per backend): every packet a short\n"
		"                   header whose connection ID names backend (flow mod backends)\n"
		"  --sources N      a source list of N prefixes on each VIP, mode count (IPv4: /28../32 in\n"
		"                   10.0.0.0/8 around the clients; IPv6: /48../64 in 2001:db8::/32)\n"
		"  --next-hops N    next hops to spread over per flow (1..%d, default 1)\n"
		"  --next-hop-ports each next hop on a port of its own (next hop i: port i)\n"
		"Without EAL options it runs with: -l <current cpu> --no-pci --in-memory\n",
		MAX_BURST, KEEL_MAX_NEXT_HOPS);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'f' },
		{ "new-share", required_argument, NULL, 'n' },
		{ "v6-share", required_argument, NULL, '6' },
		{ "burst", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "backends", required_argument, NULL, 'B' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "table-size", required_argument, NULL, 'm' },
		{ "packets", required_argument, NULL, 'p' },
		{ "stages", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "quic", no_argument, NULL, 'Q' },
		{ "sources", required_argument, NULL, 'L' },
		{ "next-hops", required_argument, NULL, 'H' },
		{ "next-hop-ports", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*o = (struct opts){ .flows = 1000000, .burst = 32, .seconds = 3, .backends = 100,
			    .table_size = 65537, .next_hops = 1 };
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'f': o->flows = strtoull(optarg, &end, 0); break;
		case 'n': o->new_share = strtod(optarg, &end); break;
		case '6': o->v6_share = strtod(optarg, &end); break;
		case 'b': o->burst = (uint32_t)strtoul(optarg, &end, 0); break;
		case 's': o->seconds = strtod(optarg, &end); break;
		case 'B': o->backends = (uint32_t)strtoul(optarg, &end, 0); break;
		case 'c': o->capacity = strtoull(optarg, &end, 0); break;
		case 'm': o->table_size = (uint32_t)strtoul(optarg, &end, 0); break;
		case 'p': o->packets = strtoull(optarg, &end, 0); break;
		case 'L': o->sources = (uint32_t)strtoul(optarg, &end, 0); break;
		case 'H': o->next_hops = (uint32_t)strtoul(optarg, &end, 0); break;
		case 'S': o->stages = true; continue;
		case 'j': o->json = true; continue;
		case 'Q': o->quic = bench_quic = true; continue;
		case 'O': o->next_hop_ports = true; continue;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		if (errno || *end) {
			fprintf(stderr, "keel-bench: bad number '%s'\n", optarg);
			return -1;
		}
	}
	if (o->flows < 1 || o->flows > 16777216 || o->new_share < 0 || o->new_share > 1 ||
	    o->v6_share < 0 || o->v6_share > 1 || o->burst < 1 || o->burst > MAX_BURST ||
	    o->seconds <= 0 || o->backends < 1 || o->backends > 4096 ||
	    o->sources > KEEL_SRC_MAX_PREFIXES / 2 || o->next_hops < 1 ||
	    o->next_hops > KEEL_MAX_NEXT_HOPS) {
		fprintf(stderr, "keel-bench: option out of range (see --help)\n");
		return -1;
	}
	bench_backends = o->backends;
	if (!o->capacity)
		o->capacity = o->flows * 2;
	if (o->capacity > (1u << 31)) {
		fprintf(stderr, "keel-bench: capacity too large\n");
		return -1;
	}
	return 0;
}

/* --- traffic ------------------------------------------------------------- */

static uint8_t tmpl4[64], tmpl6[86];
static uint16_t tmpl4_csum;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The port the generated traffic arrives on: frames are addressed to its MAC. */
static const struct keel_port bench_port = { .mac = { 0x02, 0, 0, 0, 0, 0x02 }, .mtu = 1500 };

/*
 * --quic: the same frames as UDP to port 443 carrying a QUIC short header
 * (docs/quic.md): first octet 0x40, then the DCID: config rotation 0 and
 * length bits, the server id (patched per packet), nonce.
 */
static void make_quic_templates(void)
{
	uint8_t *ip4 = tmpl4 + 14, *ip6 = tmpl6 + 14, *u;

	ip4[9] = 17;
	put16(ip4 + 10, 0);
	tmpl4_csum = csum16(ip4, 20);
	put16(ip4 + 10, tmpl4_csum);
	ip6[6] = 17;
	for (u = ip4 + 20; u; u = u == ip4 + 20 ? ip6 + 40 : NULL) {
		memset(u, 0, 20);
		put16(u + 2, 443);
		put16(u + 4, 20);    /* UDP header + 12 octets of QUIC */
		put16(u + 6, 0xffff); /* not checked by a load balancer; never 0 over IPv6 */
		u[8] = 0x40;
		u[9] = 0x07;
		memset(u + 12, 0x5a, 8);
	}
}

/* Client TCP ACK to the VIP, 64-byte frame (60 + FCS); the source is patched per flow. */
static void make_templates(void)
{
	const uint8_t *lb_mac = bench_port.mac;
	static const uint8_t cl_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *ip, *tcp;

	memcpy(tmpl4, lb_mac, 6);
	memcpy(tmpl4 + 6, cl_mac, 6);
	put16(tmpl4 + 12, 0x0800);
	ip = tmpl4 + 14;
	ip[0] = 0x45;
	put16(ip + 2, 40);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 1; /* VIP 192.0.2.1 */
	tmpl4_csum = csum16(ip, 20);
	put16(ip + 10, tmpl4_csum);
	tcp = ip + 20;
	put16(tcp + 2, 80);
	tcp[12] = 0x50;
	tcp[13] = 0x10;
	put16(tcp + 14, 65535);

	memcpy(tmpl6, lb_mac, 6);
	memcpy(tmpl6 + 6, cl_mac, 6);
	put16(tmpl6 + 12, 0x86dd);
	ip = tmpl6 + 14;
	ip[0] = 0x60;
	put16(ip + 4, 20);
	ip[6] = 6;
	ip[7] = 64;
	ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[13] = 0x0c; /* 2001:db8:c::/48 */
	ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 1; /* VIP 2001:db8::1 */
	tcp = ip + 40;
	put16(tcp + 2, 80);
	tcp[12] = 0x50;
	tcp[13] = 0x10;
	put16(tcp + 14, 65535);
	if (bench_quic)
		make_quic_templates();
}

/* Flow f -> source address and port: unique for every f < 2^47. */
static inline void write_packet(struct rte_mbuf *m, uint64_t f, bool v6)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t src = 0x0a000000u | (uint32_t)((f >> 15) & 0xffffff);
	uint16_t sport = (uint16_t)(1024 + (f & 0x7fff));

	if (!v6) {
		uint32_t s;

		memcpy(d, tmpl4, 64);
		d[26] = (uint8_t)(src >> 24), d[27] = (uint8_t)(src >> 16);
		d[28] = (uint8_t)(src >> 8), d[29] = (uint8_t)src;
		/* RFC 1624 incremental update from the template's zero source. */
		s = (uint16_t)~tmpl4_csum + (src >> 16) + (src & 0xffff);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		d[24] = (uint8_t)(~s >> 8), d[25] = (uint8_t)~s;
		put16(d + 34, sport);
		if (bench_quic)
			put16(d + 44, (uint16_t)(1 + f % bench_backends)); /* the DCID's server id */
		m->data_len = m->pkt_len = 64;
	} else {
		memcpy(d, tmpl6, 86);
		/* Source address bytes 22..37: the flow goes in its last six. */
		d[32] = (uint8_t)(f >> 40), d[33] = (uint8_t)(f >> 32);
		d[34] = (uint8_t)(src >> 24), d[35] = (uint8_t)(src >> 16);
		d[36] = (uint8_t)(src >> 8), d[37] = (uint8_t)src;
		put16(d + 54, sport);
		if (bench_quic)
			put16(d + 64, (uint16_t)(1 + f % bench_backends));
		m->data_len = m->pkt_len = 86;
	}
}

struct gen {
	uint64_t rng;
	uint64_t flows;
	uint64_t next_new;
	uint32_t new_thresh; /* new flow when rand32 < this */
	uint32_t v6_thresh;
	bool all_new;
};

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void gen_burst(struct gen *g, struct rte_mbuf **m, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint64_t r = xorshift(&g->rng);
		uint32_t lo = (uint32_t)r, hi = (uint32_t)(r >> 32);
		uint64_t f;

		if (g->all_new || lo < g->new_thresh)
			f = g->next_new++;
		else
			f = ((uint64_t)hi * g->flows) >> 32;
		write_packet(m[i], f, (uint32_t)(r >> 16) < g->v6_thresh);
	}
}

/* --- forwarding state ------------------------------------------------------ */

/*
 * Source lists (--sources N): N deny prefixes per VIP, in count mode so every
 * packet still goes the whole way. Where the clients are: IPv4 small
 * prefixes under 10.0.0.0/8 (the clients are in 10.0.0.0/16, which gets
 * ~N/256 of them through the index), IPv6 all under one /16 of the index
 * (2001:db8::/32, the clients' too): the worst case, the binary search runs
 * over all the boundaries.
 */
static struct keel_src_spec bench_src[2];

static int bench_sources(uint32_t n)
{
	uint64_t r = 0x243f6a8885a308d3ull;
	uint32_t i;

	for (int f = 0; f < 2; f++) {
		bench_src[f].mode = KEEL_SRC_COUNT;
		bench_src[f].n_deny = n;
		bench_src[f].deny = calloc(n ? n : 1, sizeof(struct keel_src_prefix));
		if (!bench_src[f].deny)
			return -1;
	}
	for (i = 0; i < n; i++) {
		struct keel_src_prefix *p4 = &bench_src[0].deny[i], *p6 = &bench_src[1].deny[i];
		uint32_t a, plen;
		uint64_t hi;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		plen = 28 + (uint32_t)(r % 5);
		a = (0x0a000000u | (uint32_t)(r >> 20 & 0xffffff)) & (plen == 32 ? ~0u : ~(~0u >> plen));
		p4->addr[0] = (uint8_t)(a >> 24), p4->addr[1] = (uint8_t)(a >> 16);
		p4->addr[2] = (uint8_t)(a >> 8), p4->addr[3] = (uint8_t)a;
		p4->plen = (uint8_t)plen;
		plen = 48 + (uint32_t)(r >> 40) % 17;
		hi = (0x20010db8ull << 32 | (r >> 8 & 0xffffffffull)) & ~(~0ull >> plen);
		for (int k = 0; k < 8; k++)
			p6->addr[k] = (uint8_t)(hi >> (56 - 8 * k));
		p6->plen = (uint8_t)plen;
	}
	return 0;
}

static void *build_snapshot(const struct opts *o)
{
	static struct keel_vip_spec vips[2];
	struct keel_backend_spec *be = calloc(o->backends * 2, sizeof(*be));
	struct keel_snapshot_spec spec = { .generation = 1, .fleet_seed = 0x5eed, .mtu = 1500 };
	const char *why = "";
	uint32_t i;
	size_t sz;
	void *s;

	if (!be)
		return NULL;
	for (i = 0; i < o->backends * 2; i++) {
		bool v6 = i >= o->backends;

		be[i].family = v6 ? KEEL_AF_INET6 : KEEL_AF_INET4;
		if (!v6) {
			be[i].addr[0] = 10, be[i].addr[1] = 200;
			be[i].addr[2] = (uint8_t)(i >> 8), be[i].addr[3] = (uint8_t)(i + 1);
		} else {
			be[i].addr[0] = 0x20, be[i].addr[1] = 0x01, be[i].addr[2] = 0x0d;
			be[i].addr[3] = 0xb8, be[i].addr[5] = 0xbe;
			be[i].addr[14] = (uint8_t)(i >> 8), be[i].addr[15] = (uint8_t)i;
		}
		be[i].id = (uint16_t)i;
		be[i].server_id = o->quic ? (uint16_t)(1 + (v6 ? i - o->backends : i)) : 0;
		be[i].weight = 1;
		be[i].state = KEEL_BACKEND_ACTIVE;
	}
	vips[0] = (struct keel_vip_spec){ .family = KEEL_AF_INET4, .proto = KEEL_PROTO_TCP,
		.port = 80, .id = 0, .table_size = o->table_size, .n_backends = o->backends,
		.backends = be };
	vips[0].addr[0] = 192, vips[0].addr[2] = 2, vips[0].addr[3] = 1;
	vips[1] = (struct keel_vip_spec){ .family = KEEL_AF_INET6, .proto = KEEL_PROTO_TCP,
		.port = 80, .id = 1, .table_size = o->table_size, .n_backends = o->backends,
		.backends = be + o->backends };
	vips[1].addr[0] = 0x20, vips[1].addr[1] = 0x01, vips[1].addr[2] = 0x0d;
	vips[1].addr[3] = 0xb8, vips[1].addr[15] = 1;
	if (o->quic)
		for (i = 0; i < 2; i++) {
			vips[i].proto = KEEL_PROTO_UDP;
			vips[i].port = 443;
			vips[i].flags |= KEEL_VIP_QUIC;
		}
	memcpy(spec.src_mac, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(spec.gw_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	spec.src4[0] = 172, spec.src4[1] = 16, spec.src4_plen = 16;
	spec.src6[0] = 0xfd, spec.src6_plen = 64;
	spec.n_vips = 2;
	spec.vips = vips;
	if (o->sources) {
		if (bench_sources(o->sources)) {
			free(be);
			return NULL;
		}
		vips[0].sources = &bench_src[0];
		vips[1].sources = &bench_src[1];
	}
	/* --next-hops: gateways 02:00:00:00:01:00, :01, ... chosen per flow. */
	for (i = 0; (o->next_hops > 1 || o->next_hop_ports) && i < o->next_hops; i++) {
		memcpy(spec.next_hop[i].mac, "\x02\x00\x00\x00\x01\x00", 6);
		spec.next_hop[i].mac[5] = (uint8_t)i;
		spec.next_hop[i].id = (uint8_t)i;
		if (o->next_hop_ports) {
			spec.next_hop[i].port = (uint8_t)(i + 1);
			memcpy(spec.next_hop[i].src_mac, "\x02\x00\x00\x00\x02\x00", 6);
			spec.next_hop[i].src_mac[5] = (uint8_t)i;
		}
		spec.n_next_hops = i + 1;
	}

	sz = keel_snapshot_size(&spec);
	s = rte_malloc("snapshot", sz, 64);
	if (!s || keel_snapshot_build(s, sz, &spec, &why)) {
		fprintf(stderr, "keel-bench: snapshot: %s\n", s ? why : "out of memory");
		free(be);
		return NULL;
	}
	free(be);
	if (o->sources) /* what the lookups search: merged ranges' boundaries */
		fprintf(stderr, "keel-bench: source lists of %u prefixes: %u IPv4 boundaries, %u IPv6\n",
			o->sources,
			keel_src_list_at(s, keel_snapshot_vips(s)[0].src_off)->n,
			keel_src_list_at(s, keel_snapshot_vips(s)[1].src_off)->n);
	return s;
}

/* --- measurement ------------------------------------------------------------ */

/*
 * Run bursts for about `seconds` (or exactly max_pkts when non-zero, rounded up
 * to whole groups of 64 bursts); with w == NULL only generate and free (the
 * generator's own cost).
 */
static uint64_t run(struct keel_worker *w, struct rte_mempool *mp, struct gen *g, uint32_t burst,
		    double seconds, uint64_t max_pkts, uint64_t *cycles, uint64_t *tx_total)
{
	uint64_t hz = rte_get_tsc_hz(), limit = (uint64_t)(seconds * (double)hz);
	uint64_t start = rte_rdtsc(), now = start, pkts = 0, tx = 0, ms0 = w ? w->now_ms : 0;
	struct rte_mbuf *m[MAX_BURST];
	struct keel_burst_out out;

	while (max_pkts ? pkts < max_pkts : now - start < limit) {
		uint32_t k;

		for (k = 0; k < 64; k++) {
			if (w)
				KEEL_STAGE_MARK(KEEL_STAGE_RX);
			if (rte_pktmbuf_alloc_bulk(mp, m, burst)) {
				fprintf(stderr, "keel-bench: mempool empty\n");
				exit(1);
			}
			gen_burst(g, m, burst);
			if (w) {
				keel_burst_run(w, &bench_port, m, (uint16_t)burst, false, &out);
				/* keel_burst_run marked TX after the pipeline. */
				tx += out.ntx + out.nreply;
				/* net_null-like TX: the NIC would free them after sending. */
				rte_pktmbuf_free_bulk(out.tx, out.ntx);
				rte_pktmbuf_free_bulk(out.reply, out.nreply);
				rte_pktmbuf_free_bulk(out.kernel, out.nkernel);
			} else {
				rte_pktmbuf_free_bulk(m, burst);
			}
			pkts += burst;
		}
		now = rte_rdtsc();
		if (w)
			w->now_ms = ms0 + (now - start) * 1000 / hz;
	}
	*cycles = now - start;
	if (tx_total)
		*tx_total = tx;
	return pkts;
}

#if KEEL_BENCH_HAS_STAGES
static const char *const stage_names[] = { "rx", "parse", "lookup", "encap", "tx" };
#endif

/* keel-bench --stages: the same run in the binary whose pipeline carries the stage marks. */
static void exec_stages(char **argv)
{
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

	if (n <= 0) {
		perror("keel-bench: /proc/self/exe");
		exit(1);
	}
	self[n] = 0;
	slash = strrchr(self, '/');
	strcpy(slash ? slash + 1 : self, "keel-bench-stages");
	execv(self, argv);
	fprintf(stderr, "keel-bench: cannot run %s: %s\n", self, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	char *eal_argv[16], lcore[16], prefix[64];
	int eal_argc = 0, dash = -1, i, ret;
	struct flow_table_params fp = { 0 };
	struct keel_counters *ctr;
	struct keel_worker w = { 0 };
	struct flow_table_stats fs;
	struct rte_mempool *mp;
	struct gen g = { 0 };
	struct pmu pmu;
	int npmu;
	uint64_t pkts, cyc, gpkts, gcyc, tx, hz;
	double ns, gen_ns, mpps, cpu_ns;
	struct timespec cpu0, cpu1;
	struct opts o;
	size_t ftsz;
	void *ftmem;
	bool ft_rte = true;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	if (!KEEL_BENCH_HAS_STAGES)
		for (i = 1; i < argc; i++)
			if (!strcmp(argv[i], "--stages"))
				exec_stages(argv);
	if (dash > 0) {
		ret = rte_eal_init(dash, argv);
		argc -= dash;
		argv += dash;
	} else {
		snprintf(lcore, sizeof(lcore), "%d", sched_getcpu() < 0 ? 0 : sched_getcpu());
		snprintf(prefix, sizeof(prefix), "--file-prefix=keel-bench-%d", (int)getpid());
		eal_argv[eal_argc++] = argv[0];
		eal_argv[eal_argc++] = "-l";
		eal_argv[eal_argc++] = lcore;
		eal_argv[eal_argc++] = "--no-pci";
		eal_argv[eal_argc++] = "--in-memory";
		eal_argv[eal_argc++] = "--no-telemetry";
		eal_argv[eal_argc++] = prefix;
		eal_argv[eal_argc++] = "--log-level=lib.eal:error";
		ret = rte_eal_init(eal_argc, eal_argv);
	}
	if (ret < 0) {
		fprintf(stderr, "keel-bench: EAL init failed: %s (hugepages set up? run tools/deps)\n",
			rte_strerror(rte_errno));
		return 1;
	}
	if (parse_opts(argc, argv, &o))
		return 64;

	npmu = pmu_open(&pmu);
	make_templates();
	mp = rte_pktmbuf_pool_create("bench", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	w.snap = build_snapshot(&o);
	ctr = rte_zmalloc("counters", sizeof(*ctr), 64);
	if (!mp || !w.snap || !ctr) {
		fprintf(stderr, "keel-bench: out of DPDK memory (more hugepages?)\n");
		return 1;
	}

	fp.capacity = (uint32_t)o.capacity;
	fp.secret = 0x0123456789abcdefULL;
	fp.timeout_ms[FLOW_TIMEOUT_TCP] = 3600 * 1000;
	fp.timeout_ms[FLOW_TIMEOUT_TCP_CLOSING] = 10 * 1000;
	fp.timeout_ms[FLOW_TIMEOUT_UDP] = 300 * 1000;
	ftsz = flow_table_mem_size(fp.capacity);
	ftmem = rte_malloc_socket("flows", ftsz, 64, (int)rte_socket_id());
	if (!ftmem) {
		/* Not enough hugepages: transparent huge pages are the next best thing. */
		ft_rte = false;
		ftmem = mmap(NULL, ftsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ftmem == MAP_FAILED) {
			fprintf(stderr, "keel-bench: cannot allocate %zu bytes of flow table\n", ftsz);
			return 1;
		}
		madvise(ftmem, ftsz, MADV_HUGEPAGE);
	}
	w.ft = flow_table_init(ftmem, ftsz, &fp);
	if (!w.ft) {
		fprintf(stderr, "keel-bench: flow table init failed\n");
		return 1;
	}
	w.ctr = ctr;
	w.now_ms = 1;

	g.rng = 0x9e3779b97f4a7c15ULL;
	g.flows = o.flows;
	g.next_new = 1ull << 40; /* new flows never collide with established ones */
	g.v6_thresh = (uint32_t)fmin(o.v6_share * 65536.0 * 65536.0, 4294967295.0);
	g.v6_thresh = o.v6_share >= 1 ? UINT32_MAX : g.v6_thresh;

	/* Warm up: every established flow seen once, in order, so the table holds them all. */
	if (o.new_share < 1) {
		struct rte_mbuf *m[MAX_BURST];
		struct keel_burst_out out;
		uint64_t f = 0;

		while (f < o.flows) {
			uint32_t n = (uint32_t)(o.flows - f < MAX_BURST ? o.flows - f : MAX_BURST), k;

			if (rte_pktmbuf_alloc_bulk(mp, m, n))
				return 1;
			for (k = 0; k < n; k++, f++) {
				uint64_t r = xorshift(&g.rng);

				write_packet(m[k], f, (uint32_t)(r >> 16) < g.v6_thresh);
			}
			keel_burst_run(&w, &bench_port, m, (uint16_t)n, false, &out);
			rte_pktmbuf_free_bulk(out.tx, out.ntx);
			rte_pktmbuf_free_bulk(out.reply, out.nreply);
			rte_pktmbuf_free_bulk(out.kernel, out.nkernel);
		}
	}
	g.rng = 0x2545f4914f6cdd1dULL;
	g.new_thresh = (uint32_t)fmin(o.new_share * 65536.0 * 65536.0, 4294967295.0);
	g.all_new = o.new_share >= 1;

	flow_table_get_stats(w.ft, &fs);
	{
		struct flow_table_stats fs0 = fs;
		struct gen g2 = g;

#if KEEL_BENCH_HAS_STAGES
		{
			const char *c = getenv("KEEL_BENCH_COLLECT");

			keel_stage_clock.collect = -1;
			for (i = 0; c && i < KEEL_STAGE_COUNT; i++)
				if (!strcmp(c, stage_names[i]))
					keel_stage_clock.collect = i;
			memset(keel_stage_clock.cycles, 0, sizeof(keel_stage_clock.cycles));
			keel_stage_clock.cur = KEEL_STAGE_COUNT; /* outside any stage */
			keel_stage_clock.last = keel_stage_tsc();
		}
#endif
		pmu_start(&pmu);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
		pkts = run(&w, mp, &g, o.burst, o.seconds, o.packets, &cyc, &tx);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
		pmu_stop(&pmu);
		KEEL_STAGE_MARK(KEEL_STAGE_COUNT);
		flow_table_get_stats(w.ft, &fs);
		fs.hits -= fs0.hits;
		fs.misses -= fs0.misses;
		fs.inserts -= fs0.inserts;
		fs.evictions -= fs0.evictions;
		fs.expirations -= fs0.expirations;
		fs.insert_skipped -= fs0.insert_skipped;
		/* The generator alone, same sequence: what writing the frames costs. */
		gpkts = run(NULL, mp, &g2, o.burst, o.seconds / 3, o.packets / 3, &gcyc, NULL);
	}

	hz = rte_get_tsc_hz();
	/* A benchmark of packets that were dropped would measure the wrong thing: say so. */
	if (tx != pkts)
		fprintf(stderr, "keel-bench: warning: only %" PRIu64 " of %" PRIu64
			" packets were forwarded (see drops)\n", tx, pkts);
	ns = (double)cyc * 1e9 / (double)hz / (double)pkts;
	/* What the thread ran, not the wall clock: time descheduled on a shared machine is left out. */
	cpu_ns = ((double)(cpu1.tv_sec - cpu0.tv_sec) * 1e9 + (double)(cpu1.tv_nsec - cpu0.tv_nsec)) /
		 (double)pkts;
	gen_ns = (double)gcyc * 1e9 / (double)hz / (double)gpkts;
	mpps = (double)pkts / ((double)cyc / (double)hz) / 1e6;
	if (o.json) {
		printf("{\"bench\":\"keel-bench\",\"flows\":%" PRIu64 ",\"new_share\":%.3f,"
		       "\"v6_share\":%.3f,\"burst\":%u,\"backends\":%u,\"capacity\":%u,"
		       "\"packets\":%" PRIu64 ",\"forwarded\":%" PRIu64 ",\"mpps\":%.3f,"
		       "\"ns_per_packet\":%.2f,\"cycles_per_packet\":%.1f,"
		       "\"generator_ns_per_packet\":%.2f,\"pipeline_ns_per_packet\":%.2f,"
		       "\"cpu_ns_per_packet\":%.2f,"
		       "\"tsc_hz\":%" PRIu64 ",\"flow_hits\":%" PRIu64 ",\"flow_misses\":%" PRIu64
		       ",\"flow_evictions\":%" PRIu64 ",\"flow_table_hugepages\":%s",
		       o.flows, o.new_share, o.v6_share, o.burst, o.backends,
		       flow_table_capacity(w.ft), pkts, tx, mpps, ns,
		       (double)cyc / (double)pkts, gen_ns, ns - gen_ns, cpu_ns, hz, fs.hits, fs.misses,
		       fs.evictions, ft_rte ? "true" : "false");
		printf(",\"next_hops\":%u", o.next_hops);
		printf(",\"pmu\":%s", npmu ? "true" : "false");
		if (o.quic)
			printf(",\"quic\":true,\"quic_cid_routed\":%" PRIu64, ctr->quic_cid_routed);
		for (i = 0; i < PMU_COUNT; i++)
			if (pmu.ok[i])
				printf(",\"%s_per_packet\":%.2f", pmu_names[i],
				       (double)pmu.val[i] / (double)pkts);
#if KEEL_BENCH_HAS_STAGES
		printf(",\"stages\":{");
		for (i = 0; i < KEEL_STAGE_COUNT; i++)
			printf("%s\"%s\":{\"cycles_per_packet\":%.1f,\"ns_per_packet\":%.2f}",
			       i ? "," : "", stage_names[i],
			       (double)keel_stage_clock.cycles[i] / (double)pkts,
			       (double)keel_stage_clock.cycles[i] * 1e9 / (double)hz / (double)pkts);
		printf("}");
#endif
		printf("}\n");
	} else {
		printf("keel-bench: %" PRIu64 " flows, new-share %.2f, v6-share %.2f, burst %u, "
		       "%u backends, flow table %u entries%s\n",
		       o.flows, o.new_share, o.v6_share, o.burst, o.backends,
		       flow_table_capacity(w.ft), ft_rte ? " (hugepages)" : " (THP)");
		printf("  packets        %" PRIu64 " (%" PRIu64 " forwarded)\n", pkts, tx);
		printf("  rate           %.2f Mpps on one core\n", mpps);
		printf("  per packet     %.2f ns, %.1f cycles (TSC %.2f GHz)\n", ns,
		       (double)cyc / (double)pkts, (double)hz / 1e9);
		printf("    of which     %.2f ns writing the frames (generator alone)\n", gen_ns);
		printf("  thread CPU     %.2f ns per packet (time descheduled left out)\n", cpu_ns);
		printf("  flow table     %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
		       " evictions\n", fs.hits, fs.misses, fs.evictions);
		if (o.quic)
			printf("  quic           %" PRIu64 " short headers routed by connection ID\n",
			       ctr->quic_cid_routed);
		if (!npmu) {
			printf("  counters       none: perf_event_open: %s (no PMU in this VM?); times are\n"
			       "                 wall clock, see tools/keel-bench/callgrind-stages for\n"
			       "                 instruction counts\n", strerror(pmu.err));
		}
		for (i = 0; i < PMU_COUNT; i++)
			if (pmu.ok[i])
				printf("  %-14s %.2f per packet\n", pmu_names[i],
				       (double)pmu.val[i] / (double)pkts);
#if KEEL_BENCH_HAS_STAGES
		printf("  stages (TSC; each mark costs one rdtsc per burst)\n");
		for (i = 0; i < KEEL_STAGE_COUNT; i++)
			printf("    %-8s %6.1f cycles %6.2f ns per packet\n", stage_names[i],
			       (double)keel_stage_clock.cycles[i] / (double)pkts,
			       (double)keel_stage_clock.cycles[i] * 1e9 / (double)hz / (double)pkts);
#endif
	}
	pmu_close(&pmu);
	rte_eal_cleanup();
	return 0;
}
