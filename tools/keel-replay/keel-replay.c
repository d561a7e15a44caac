/* keel-replay: runs a pcap through the packet core (no DPDK, no NIC) and reports spread, verdicts and drops. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "drop.h"
#include "flow_table.h"
#include "maglev.h"
#include "pipeline.h"
#include "snapshot_build.h"
#include "spec_text.h"

#define HEADROOM 128 /* RTE_PKTMBUF_HEADROOM, as the dataplane's mbufs */
#define PORT_MTU_MAX 9702 /* keel-dataplane --mtu's bound */
#define ROOM_MAX (PORT_MTU_MAX + KEEL_FRAME_OVERHEAD)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keel-replay [options] --pcap FILE   (VIPs from --spec and/or --vip)\n"
		"Replays captured frames through Keel's packet core and reports where they went.\n"
		"  --vip ADDR:PORT/PROTO[,gue][,fragments]   add a VIP (PORT * = all ports)\n"
		"  --backend ADDR[,weight=N][,state=active|draining|down]   add to the last VIP\n"
		"  --spec FILE       VIPs, backends and output parameters from a keel-seam spec file\n"
		"  --seed N          fleet seed (default 0x6b65656c)\n"
		"  --table-size M    Maglev table size of the VIPs after it (default 65537)\n"
		"  --mtu N           outer MTU (default 1500)\n"
		"  --port-mtu N      the port's MTU, as keel-dataplane --mtu: bounds echo replies and\n"
		"                    what one buffer holds (longer frames: multi_segment; default 1500)\n"
		"  --port-mac MAC    the port's own MAC: only frames to it are Keel's (default: src-mac)\n"
		"  --non-vip drop|kernel   what keel-dataplane has no exception path for (default kernel)\n"
		"  --pcap FILE       frames to replay (Ethernet)\n"
		"  --out FILE        write transmitted frames (encapsulated, ICMP answers) here\n"
		"  --then-down ADDR  replay again after marking backend ADDR down; report what moved\n"
		"  --json            one JSON object instead of text\n");
}

static struct keel_snapshot *build(struct spec_text *t, uint64_t gen)
{
	const char *why = "";
	struct keel_snapshot *s;
	size_t sz;

	spec_text_finish(t);
	t->spec.generation = gen;
	sz = keel_snapshot_size(&t->spec);
	s = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	if (!s || keel_snapshot_build(s, sz, &t->spec, &why)) {
		fprintf(stderr, "keel-replay: bad topology: %s\n", s ? why : "out of memory");
		exit(65);
	}
	return s;
}

struct run {
	struct keel_counters ctr;
	uint64_t verdicts[4];
	uint64_t frames;
};

/*
 * Replay every frame of the pcap in bursts of 64, the way keel-dataplane
 * receives them on a port of this MTU: a frame longer than one mbuf holds
 * (keel_frame_room) arrives in segments and is counted multi_segment, a
 * shorter one goes through the core with the mbuf's headroom and tailroom.
 * The clock advances 1 ms per burst. Optionally dump transmitted frames.
 */
static int replay(const char *path, struct keel_worker *w, const struct keel_port *port,
		  struct run *r, pcap_dumper_t *dump)
{
	static uint8_t frames[KEEL_BURST_MAX][HEADROOM + ROOM_MAX];
	const uint32_t room = keel_frame_room(port->mtu);
	struct keel_buf bufs[KEEL_BURST_MAX];
	uint8_t verdicts[KEEL_BURST_MAX];
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint32_t n = 0, i;
	pcap_t *p;
	int rc;

	p = pcap_open_offline(path, err);
	if (!p) {
		fprintf(stderr, "keel-replay: %s\n", err);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "keel-replay: %s: not an Ethernet capture\n", path);
		pcap_close(p);
		return -1;
	}
	w->ctr = &r->ctr;
	for (;;) {
		rc = pcap_next_ex(p, &h, &data);
		if (rc == 1) {
			r->frames++;
			if (h->caplen > room) {
				keel_pipeline_unfit(w, h->caplen);
				r->verdicts[KEEL_VERDICT_DROP]++;
			} else {
				memcpy(frames[n] + HEADROOM, data, h->caplen);
				bufs[n] = (struct keel_buf){ frames[n] + HEADROOM, (uint16_t)h->caplen,
							     HEADROOM, (uint16_t)(room - h->caplen) };
				n++;
			}
		}
		if (n == KEEL_BURST_MAX || (rc != 1 && n)) {
			keel_pipeline_burst(w, port, bufs, verdicts, n);
			w->now_ms += 1;
			for (i = 0; i < n; i++) {
				r->verdicts[verdicts[i]]++;
				if (dump && (verdicts[i] == KEEL_VERDICT_FORWARD ||
					     verdicts[i] == KEEL_VERDICT_REPLY)) {
					struct pcap_pkthdr oh = { .caplen = bufs[i].len, .len = bufs[i].len };

					pcap_dump((u_char *)dump, &oh, bufs[i].data);
				}
			}
			n = 0;
		}
		if (rc != 1)
			break;
	}
	pcap_close(p);
	return rc == -2 ? 0 : -1;
}

static const char *addr_text(const uint8_t *a, uint8_t family, char *buf, size_t len)
{
	inet_ntop(family == KEEL_AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)len);
	return buf;
}

static const char *verdict_names[4] = { "dropped", "forwarded", "answered", "to_kernel" };

static void report_text(const struct spec_text *t, const struct run *r, const struct keel_snapshot *s,
			const char *title)
{
	char a[INET6_ADDRSTRLEN], port[8];
	uint32_t i, j, k;

	printf("%s\n", title);
	printf("  frames %" PRIu64 ":", r->frames);
	for (k = 0; k < 4; k++)
		printf(" %s %" PRIu64, verdict_names[k], r->verdicts[k]);
	printf("\n");
	for (i = 0; i < t->n_vips; i++) {
		const struct keel_vip_spec *v = &t->vips[i];
		uint64_t total = 0, wsum = 0;
		uint8_t (*keys)[17] = calloc(s->n_backends ? s->n_backends : 1, 17);

		for (j = 0; j < v->n_backends; j++) {
			total += r->ctr.backend[v->backends[j].id].new_flows;
			if (v->backends[j].state == KEEL_BACKEND_ACTIVE)
				wsum += v->backends[j].weight;
			memcpy(keys[v->backends[j].id], v->backends[j].addr, 16);
			keys[v->backends[j].id][16] = v->backends[j].family;
		}
		printf("  VIP %s%s%s:%s/%s  table %u slots, digest %016" PRIx64 "\n",
		       v->family == 6 ? "[" : "", addr_text(v->addr, v->family, a, sizeof(a)),
		       v->family == 6 ? "]" : "",
		       v->flags & KEEL_VIP_ALL_PORTS ? "*" : (snprintf(port, sizeof(port), "%u", v->port), port),
		       v->proto == KEEL_PROTO_TCP ? "tcp" : "udp", keel_snapshot_vips(s)[i].table_size,
		       maglev_digest(keel_snapshot_table(s, &keel_snapshot_vips(s)[i]),
				     keel_snapshot_vips(s)[i].table_size,
				     (const uint8_t(*)[17])keys, s->n_backends));
		printf("    %-28s %6s %9s %8s %8s\n", "backend", "weight", "state", "flows", "share");
		for (j = 0; j < v->n_backends; j++) {
			const struct keel_backend_spec *b = &v->backends[j];
			uint64_t nf = r->ctr.backend[b->id].new_flows;

			printf("    %-28s %6u %9s %8" PRIu64 " %7.1f%%  (weight share %.1f%%)\n",
			       addr_text(b->addr, b->family, a, sizeof(a)), b->weight,
			       b->state == KEEL_BACKEND_ACTIVE ? "active" :
			       b->state == KEEL_BACKEND_DRAINING ? "draining" : "down",
			       nf, total ? 100.0 * (double)nf / (double)total : 0.0,
			       wsum && b->state == KEEL_BACKEND_ACTIVE ?
				       100.0 * b->weight / (double)wsum : 0.0);
		}
		free(keys);
	}
	printf("  drops by reason:\n");
	for (k = 1; k < KEEL_DROP_MAX; k++)
		if (r->ctr.drops[k])
			printf("    %-22s %" PRIu64 "\n", keel_drop_name(k), r->ctr.drops[k]);
	printf("  icmp: echo answered %" PRIu64 ", too-big answered %" PRIu64
	       ", errors forwarded %" PRIu64 "\n",
	       r->ctr.icmp_echo, r->ctr.icmp_too_big, r->ctr.icmp_errors_fwd);
}

static void report_json(const struct spec_text *t, const struct run *r, const char *name, bool last)
{
	uint32_t i, k;
	char a[INET6_ADDRSTRLEN];

	printf("\"%s\":{\"frames\":%" PRIu64, name, r->frames);
	for (k = 0; k < 4; k++)
		printf(",\"%s\":%" PRIu64, verdict_names[k], r->verdicts[k]);
	printf(",\"drops\":{");
	for (k = 1, i = 0; k < KEEL_DROP_MAX; k++)
		if (r->ctr.drops[k])
			printf("%s\"%s\":%" PRIu64, i++ ? "," : "", keel_drop_name(k), r->ctr.drops[k]);
	printf("},\"backends\":[");
	for (i = 0; i < t->n_be; i++)
		printf("%s{\"vip\":%u,\"address\":\"%s\",\"new_flows\":%" PRIu64 ",\"packets\":%" PRIu64
		       "}", i ? "," : "", t->be_vip[i],
		       addr_text(t->be[i].addr, t->be[i].family, a, sizeof(a)),
		       r->ctr.backend[t->be[i].id].new_flows, r->ctr.backend[t->be[i].id].pkts);
	printf("]}%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "vip", required_argument, NULL, 'v' },
		{ "backend", required_argument, NULL, 'b' },
		{ "spec", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 's' },
		{ "table-size", required_argument, NULL, 'm' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "port-mtu", required_argument, NULL, 'P' },
		{ "port-mac", required_argument, NULL, 'A' },
		{ "non-vip", required_argument, NULL, 'N' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "then-down", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct spec_text t;
	const char *why = "";
	static struct run r1, r2;
	const char *pcap_in = NULL, *pcap_out = NULL, *down = NULL;
	struct flow_table_params fp = { .capacity = 1 << 20, .secret = 0x1d,
					.timeout_ms = { 900000, 10000, 300000 } };
	struct keel_worker w = { .now_ms = 1, .non_vip_to_kernel = true };
	struct keel_port port = { .mtu = 1500 };
	const char *port_mac = NULL;
	pcap_dumper_t *dump = NULL;
	bool json = false;
	unsigned long pmtu;
	char *endp;
	size_t ftsz;
	void *ftmem;
	int c;

	spec_text_init(&t);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (spec_text_vip(&t, optarg, &why)) {
				fprintf(stderr, "keel-replay: --vip '%s': %s\n", optarg, why);
				return 64;
			}
			break;
		case 'b':
			if (spec_text_backend(&t, optarg, &why)) {
				fprintf(stderr, "keel-replay: --backend '%s': %s\n", optarg, why);
				return 64;
			}
			break;
		case 'S': {
			char err[256];

			if (spec_text_load(&t, optarg, err, sizeof(err))) {
				fprintf(stderr, "keel-replay: --spec %s\n", err);
				return 65;
			}
			break;
		}
		case 's': t.spec.fleet_seed = strtoull(optarg, NULL, 0); break;
		case 'm': t.table_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'M': t.spec.mtu = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'P':
			pmtu = strtoul(optarg, &endp, 0);
			if (*endp || pmtu < 68 || pmtu > PORT_MTU_MAX) {
				fprintf(stderr, "keel-replay: --port-mtu: expected 68..%u, got '%s'\n",
					PORT_MTU_MAX, optarg);
				return 64;
			}
			port.mtu = (uint16_t)pmtu;
			break;
		case 'A': port_mac = optarg; break;
		case 'N':
			if (strcmp(optarg, "drop") && strcmp(optarg, "kernel")) {
				fprintf(stderr, "keel-replay: --non-vip: expected drop or kernel, got '%s'\n",
					optarg);
				return 64;
			}
			w.non_vip_to_kernel = !strcmp(optarg, "kernel");
			break;
		case 'p': pcap_in = optarg; break;
		case 'o': pcap_out = optarg; break;
		case 'd': down = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!pcap_in || !t.n_vips) {
		usage(stderr);
		return 64;
	}
	ftsz = flow_table_mem_size(fp.capacity);
	ftmem = aligned_alloc(64, (ftsz + 63) & ~(size_t)63);
	w.ft = ftmem ? flow_table_init(ftmem, ftsz, &fp) : NULL;
	if (!w.ft) {
		fprintf(stderr, "keel-replay: cannot allocate the flow table\n");
		return 71;
	}
	w.snap = build(&t, 1);
	/* keel-control gives snapshots the port's MAC as src-mac: the same here, unless told otherwise. */
	memcpy(port.mac, w.snap->src_mac, 6);
	if (port_mac && spec_text_mac(port_mac, port.mac)) {
		fprintf(stderr, "keel-replay: --port-mac '%s': bad MAC\n", port_mac);
		return 64;
	}
	if (pcap_out) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

		dump = dead ? pcap_dump_open(dead, pcap_out) : NULL;
		/* The dumper keeps what it needs of the dead handle (as DPDK's pcap PMD does). */
		if (dead)
			pcap_close(dead);
		if (!dump) {
			fprintf(stderr, "keel-replay: cannot write %s\n", pcap_out);
			return 73;
		}
	}
	if (replay(pcap_in, &w, &port, &r1, dump))
		return 66;
	if (dump)
		pcap_dump_close(dump);
	if (!json)
		report_text(&t, &r1, w.snap, "Replay through the packet core:");

	if (down) {
		uint8_t addr[16], fam;
		uint32_t i, hit = 0;

		if (spec_text_addr(down, addr, &fam)) {
			fprintf(stderr, "keel-replay: bad --then-down address\n");
			return 64;
		}
		for (i = 0; i < t.n_be; i++)
			if (t.be[i].family == fam && !memcmp(t.be[i].addr, addr, 16)) {
				t.be[i].state = KEEL_BACKEND_DOWN;
				hit++;
			}
		if (!hit) {
			fprintf(stderr, "keel-replay: --then-down %s is not a backend\n", down);
			return 65;
		}
		free((void *)w.snap);
		w.snap = build(&t, 2);
		if (replay(pcap_in, &w, &port, &r2, NULL))
			return 66;
	}

	if (json) {
		printf("{");
		report_json(&t, &r1, "replay", !down);
		if (down)
			report_json(&t, &r2, "after_down", true);
		printf("}\n");
	} else {
		if (down) {
			printf("\n");
			report_text(&t, &r2, w.snap, "Same traffic again, after marking it down:");
			printf("  %" PRIu64 " tracked flows were re-chosen (those of the down backend); "
			       "every other flow kept its backend\n", r2.ctr.rechosen);
		}
	}
	free((void *)w.snap);
	free(ftmem);
	return 0;
}
