/* keel-seam: drives a keel-dataplane through its shared region, the same seam keel-control uses (publish, status, counters, flush). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drop.h"
#include "seam.h"
#include "spec_text.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keel-seam publish NAME SPECFILE [--generation N] [--timeout MS]\n"
		"       keel-seam status NAME [--json]\n"
		"       keel-seam counters NAME [--json]\n"
		"       keel-seam flush NAME BACKEND_ID\n"
		"Talks to the keel-dataplane instance NAME through its shared region.\n"
		"SPECFILE lines: seed N, mtu N, gw-mac MAC, next-hop MAC (one a next hop), src4 A/L, src6 A/L,\n"
		"  vip ADDR:PORT/PROTO [gue] [fragments] [size=M] [id=N],\n"
		"  backend ADDR [weight=N] [state=active|draining|down] [mac=MAC] [id=N]\n"
		"Exit: 0 ok, 1 failed, 64 usage, 65 bad spec, 69 no such running dataplane.\n");
}

static struct keel_seam *open_or_die(const char *name)
{
	const char *why = "";
	struct keel_seam *s = keel_seam_open(name, &why);

	if (!s) {
		fprintf(stderr, "keel-seam: instance '%s': %s%s%s\n", name, why, *why ? ": " : "",
			strerror(errno));
		exit(69);
	}
	return s;
}

static uint64_t max_generation(struct keel_seam *s)
{
	struct keel_seam_workers sum;

	keel_seam_workers(s, UINT64_MAX, &sum);
	return sum.max_generation;
}

static int cmd_publish(int argc, char **argv)
{
	static struct spec_text t;
	uint64_t gen = 0, timeout = 2000;
	const char *why = "";
	struct keel_seam *s;
	char err[512];
	int i, ret;

	if (argc < 4)
		return usage(stderr), 64;
	for (i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--generation") && i + 1 < argc)
			gen = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = strtoull(argv[++i], NULL, 0);
		else
			return usage(stderr), 64;
	}
	spec_text_init(&t);
	if (spec_text_load(&t, argv[3], err, sizeof(err))) {
		fprintf(stderr, "keel-seam: %s\n", err);
		return 65;
	}
	s = open_or_die(argv[2]);
	/* Without an explicit generation: one past what the workers run. */
	t.spec.generation = gen ? gen : max_generation(s) + 1;
	ret = keel_seam_publish(s, &t.spec, (uint32_t)timeout, &why);
	if (ret) {
		fprintf(stderr, "keel-seam: publish generation %" PRIu64 " refused: %s\n",
			t.spec.generation, why);
		keel_seam_close(s);
		return ret == -EINVAL || ret == -ENOSPC ? 65 : ret == -EPIPE ? 69 : 1;
	}
	{
		struct keel_seam_workers sum;

		keel_seam_workers(s, UINT64_MAX, &sum);
		printf("generation %" PRIu64 " active on %u workers\n", t.spec.generation, sum.n);
	}
	keel_seam_close(s);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *state_name(uint32_t st)
{
	return st == KEEL_REGION_RUNNING ? "running" : st == KEEL_REGION_ENDED ? "ended" : "starting";
}

static int cmd_status(int argc, char **argv)
{
	bool json = argc > 3 && !strcmp(argv[3], "--json");
	struct keel_seam *s;
	struct keel_seam_workers sum, *r = &sum;
	uint32_t w;

	if (argc < 3)
		return usage(stderr), 64;
	s = open_or_die(argv[2]);
	keel_seam_workers(s, UINT64_MAX, r);
	if (json) {
		printf("{\"name\":\"%s\",\"state\":\"%s\",\"alive\":%s,\"pid\":%u,\"epoch\":\"%016" PRIx64
		       "\",\"workers\":[",
		       r->name, state_name(r->state), keel_seam_alive(s) ? "true" : "false", r->pid,
		       r->epoch);
		for (w = 0; w < r->n; w++) {
			struct keel_worker_status stw, *st = &stw;

			keel_seam_read_status(s, w, st);
			printf("%s{\"worker\":%u,\"lcore\":%u,\"socket\":%u,\"numa_mismatch\":%s,"
			       "\"generation\":%" PRIu64 ",\"slot\":%d,\"activations\":%" PRIu64
			       ",\"refused\":%" PRIu64 ",\"heartbeat_ms\":%" PRIu64
			       ",\"busy_cycles\":%" PRIu64 ",\"idle_cycles\":%" PRIu64 "}",
			       w ? "," : "", w, st->lcore, st->socket,
			       st->numa_mismatch ? "true" : "false", st->active_generation,
			       st->active_slot == UINT32_MAX ? -1 : (int)st->active_slot,
			       st->activations, st->refused, st->heartbeat_ms, st->busy_cycles,
			       st->idle_cycles);
		}
		printf("]}\n");
	} else {
		uint64_t hb[KEEL_REGION_MAX_WORKERS], t0 = mono_ms();
		struct timespec ts = { 0, 20 * 1000000 };

		for (w = 0; w < r->n; w++) {
			struct keel_worker_status st0;

			keel_seam_read_status(s, w, &st0);
			hb[w] = st0.heartbeat_ms;
		}
		nanosleep(&ts, NULL);
		printf("instance %s: %s, pid %u, epoch %016" PRIx64 ", %u workers, %u slots of %" PRIu64
		       " MiB\n",
		       r->name, keel_seam_alive(s) ? state_name(r->state) : "not running", r->pid,
		       r->epoch, r->n, r->n_slots, r->slot_size >> 20);
		for (w = 0; w < r->n; w++) {
			struct keel_worker_status stw, *st = &stw;

			keel_seam_read_status(s, w, st);
			printf("  worker %u: lcore %u socket %u%s, generation %" PRIu64
			       ", activations %" PRIu64 ", refused %" PRIu64 ", heartbeat %s\n",
			       w, st->lcore, st->socket, st->numa_mismatch ? " (NUMA MISMATCH)" : "",
			       st->active_generation, st->activations, st->refused,
			       st->heartbeat_ms != hb[w] || mono_ms() - t0 > 1000 ? "moving" : "still");
		}
	}
	keel_seam_close(s);
	return 0;
}

static int cmd_counters(int argc, char **argv)
{
	bool json = argc > 3 && !strcmp(argv[3], "--json");
	static struct keel_worker_counters c;
	const struct keel_counters *k = &c.core;
	struct keel_seam *s;
	uint64_t drops = 0;
	unsigned int i;

	if (argc < 3)
		return usage(stderr), 64;
	s = open_or_die(argv[2]);
	keel_seam_sum_counters(s, &c);
	for (i = 0; i < KEEL_DROP_MAX; i++)
		drops += k->drops[i];
	if (json) {
		printf("{\"rx_pkts\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"fwd_pkts\":%" PRIu64
		       ",\"fwd_bytes\":%" PRIu64 ",\"reply_pkts\":%" PRIu64 ",\"kernel_pkts\":%" PRIu64
		       ",\"dropped\":%" PRIu64 ",\"icmp_echo\":%" PRIu64 ",\"icmp_too_big\":%" PRIu64
		       ",\"icmp_errors_fwd\":%" PRIu64 ",\"untracked\":%" PRIu64 ",\"rechosen\":%" PRIu64
		       ",\"tx_dropped\":%" PRIu64 ",\"kernel_tx\":%" PRIu64 ",\"kernel_rx\":%" PRIu64,
		       k->rx_pkts, k->rx_bytes, k->fwd_pkts, k->fwd_bytes, k->reply_pkts,
		       k->kernel_pkts, drops, k->icmp_echo, k->icmp_too_big, k->icmp_errors_fwd,
		       k->untracked, k->rechosen, c.tx_dropped, c.kernel_tx, c.kernel_rx);
		printf(",\"second_chance\":%" PRIu64 ",\"kernel_control\":%" PRIu64, k->second_chance,
		       c.kernel_control);
		printf(",\"quic_cid_routed\":%" PRIu64 ",\"quic_cid_unknown\":%" PRIu64,
		       k->quic_cid_routed, k->quic_cid_unknown);
		printf(",\"next_hop_pkts\":[");
		for (i = 0; i < KEEL_MAX_NEXT_HOPS; i++)
			printf("%s%" PRIu64, i ? "," : "", k->next_hop_pkts[i]);
		printf("]");
		printf(",\"flows\":{\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"inserts\":%" PRIu64
		       ",\"evictions\":%" PRIu64 ",\"expirations\":%" PRIu64
		       ",\"insert_skipped\":%" PRIu64 ",\"occupancy\":%" PRIu64 "}",
		       c.flows.hits, c.flows.misses, c.flows.inserts, c.flows.evictions,
		       c.flows.expirations, c.flows.insert_skipped, c.flows.occupancy);
		printf(",\"drops\":{");
		for (i = 1, drops = 0; i < KEEL_DROP_MAX; i++)
			if (k->drops[i])
				printf("%s\"%s\":%" PRIu64, drops++ ? "," : "", keel_drop_name(i),
				       k->drops[i]);
		printf("},\"backends\":{");
		for (i = 0, drops = 0; i < KEEL_MAX_BACKENDS; i++)
			if (k->backend[i].pkts || k->backend[i].new_flows)
				printf("%s\"%u\":{\"pkts\":%" PRIu64 ",\"bytes\":%" PRIu64
				       ",\"new_flows\":%" PRIu64 "}",
				       drops++ ? "," : "", i, k->backend[i].pkts, k->backend[i].bytes,
				       k->backend[i].new_flows);
		printf("},\"vips\":{");
		for (i = 0, drops = 0; i < KEEL_MAX_VIPS; i++)
			if (k->vip[i].pkts)
				printf("%s\"%u\":{\"pkts\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
				       drops++ ? "," : "", i, k->vip[i].pkts, k->vip[i].bytes);
		/* Source lists: packets refused per VIP id (dropped or, in count mode, forwarded). */
		printf("},\"source_denied\":{");
		for (i = 0, drops = 0; i < KEEL_MAX_VIPS; i++)
			if (k->vip_source_denied[i])
				printf("%s\"%u\":%" PRIu64, drops++ ? "," : "", i, k->vip_source_denied[i]);
		printf("}}\n");
	} else {
		printf("rx %" PRIu64 " forwarded %" PRIu64 " answered %" PRIu64 " to-kernel %" PRIu64
		       " dropped %" PRIu64 " (tx refused %" PRIu64 ")\n",
		       k->rx_pkts, k->fwd_pkts, k->reply_pkts, k->kernel_pkts, drops, c.tx_dropped);
		printf("flows: hits %" PRIu64 " misses %" PRIu64 " inserts %" PRIu64 " evictions %" PRIu64
		       " expirations %" PRIu64 " untracked %" PRIu64 " occupancy %" PRIu64 "\n",
		       c.flows.hits, c.flows.misses, c.flows.inserts, c.flows.evictions,
		       c.flows.expirations, c.flows.insert_skipped, c.flows.occupancy);
		for (i = 1; i < KEEL_DROP_MAX; i++)
			if (k->drops[i])
				printf("drop %-22s %" PRIu64 "\n", keel_drop_name(i), k->drops[i]);
		for (i = 0; i < KEEL_MAX_BACKENDS; i++)
			if (k->backend[i].pkts)
				printf("backend %-5u pkts %" PRIu64 " new flows %" PRIu64 "\n", i,
				       k->backend[i].pkts, k->backend[i].new_flows);
	}
	keel_seam_close(s);
	return 0;
}

static int cmd_flush(int argc, char **argv)
{
	struct keel_seam *s;
	unsigned long id;
	char *end;
	int ret;

	if (argc != 4)
		return usage(stderr), 64;
	id = strtoul(argv[3], &end, 0);
	if (*end || id >= KEEL_MAX_BACKENDS)
		return usage(stderr), 64;
	s = open_or_die(argv[2]);
	ret = keel_seam_flush_backend(s, (uint16_t)id);
	keel_seam_close(s);
	if (ret) {
		fprintf(stderr, "keel-seam: flush failed: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 64 : 0;
	}
	if (!strcmp(argv[1], "publish"))
		return cmd_publish(argc, argv);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[1], "counters"))
		return cmd_counters(argc, argv);
	if (!strcmp(argv[1], "flush"))
		return cmd_flush(argc, argv);
	usage(stderr);
	return 64;
}
