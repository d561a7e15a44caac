/* Steering map synchronisation over libbpf's pinned-object calls. */
#include "steering.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pkt.h"

#define STEER_NAME(name, str) str,
static const char *const verdict_names[KEEL_STEER_MAX] = { KEEL_STEER_VERDICTS(STEER_NAME) };
#undef STEER_NAME

const char *steering_verdict_name(unsigned int v)
{
	return v < KEEL_STEER_MAX ? verdict_names[v] : "unknown";
}

static int map_fd(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), KEEL_STEER_PIN_DIR "/%s", name);
	return bpf_obj_get(path);
}

static void vip_key(const struct config_vip *v, struct keel_bpf_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, v->addr, 16);
	k->port = htons(v->all_ports ? 0 : v->port);
	k->proto = v->proto;
	k->family = v->family;
}

static void addr_key(const struct config_vip *v, struct keel_bpf_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, v->addr, 16);
	k->family = v->family;
}

static int wanted_vip(const struct keel_config *cfg, const struct keel_bpf_vip_key *k)
{
	struct keel_bpf_vip_key w;
	uint32_t i;

	for (i = 0; i < cfg->n_vips; i++) {
		vip_key(&cfg->vips[i], &w);
		if (!memcmp(&w, k, sizeof(w)))
			return 1;
	}
	return 0;
}

static uint32_t addr_flags(const struct keel_config *cfg, const struct keel_bpf_addr_key *k,
			   int *present)
{
	struct keel_bpf_addr_key w;
	uint32_t i, flags = 0;

	*present = 0;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		addr_key(v, &w);
		if (memcmp(&w, k, sizeof(w)))
			continue;
		*present = 1;
		if (v->fragments)
			flags |= v->proto == KEEL_PROTO_TCP ? KEEL_BPF_ADDR_FRAG_TCP : KEEL_BPF_ADDR_FRAG_UDP;
	}
	return flags;
}

/* Remove the keys pred says are stale; the iteration restarts after each delete (next-key semantics). */
static int prune(int fd, size_t ksz, int (*stale)(const void *key, const void *arg), const void *arg)
{
	uint8_t key[32], next[32];
	int changed = 0, guard = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0 && guard++ < 4 * KEEL_BPF_MAX_VIPS) {
		memcpy(key, next, ksz);
		if (stale(key, arg)) {
			bpf_map_delete_elem(fd, key);
			changed++;
			prev = NULL;
			continue;
		}
		prev = key;
	}
	return changed;
}

static int stale_vip(const void *key, const void *arg)
{
	return !wanted_vip(arg, key);
}

static int stale_addr(const void *key, const void *arg)
{
	int present;

	addr_flags(arg, key, &present);
	return !present;
}

int steering_sync(const struct keel_config *cfg)
{
	int vfd = map_fd(KEEL_STEER_MAP_VIPS), afd = map_fd(KEEL_STEER_MAP_ADDRS), changed = 0;
	uint32_t i;

	if (vfd < 0 || afd < 0) {
		if (vfd >= 0)
			close(vfd);
		if (afd >= 0)
			close(afd);
		return -ENOENT;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		struct keel_bpf_vip_key vk;
		struct keel_bpf_vip_val vv = { 0 }, old;
		struct keel_bpf_addr_key ak;
		struct keel_bpf_addr_val av, aold;
		int present;

		vip_key(&cfg->vips[i], &vk);
		if (bpf_map_lookup_elem(vfd, &vk, &old)) {
			if (bpf_map_update_elem(vfd, &vk, &vv, BPF_ANY) == 0)
				changed++;
		}
		addr_key(&cfg->vips[i], &ak);
		av.flags = addr_flags(cfg, &ak, &present);
		if (bpf_map_lookup_elem(afd, &ak, &aold) || aold.flags != av.flags) {
			if (bpf_map_update_elem(afd, &ak, &av, BPF_ANY) == 0)
				changed++;
		}
	}
	changed += prune(vfd, sizeof(struct keel_bpf_vip_key), stale_vip, cfg);
	changed += prune(afd, sizeof(struct keel_bpf_addr_key), stale_addr, cfg);
	close(vfd);
	close(afd);
	return changed;
}

int steering_counters(uint64_t packets[KEEL_STEER_MAX], uint64_t bytes[KEEL_STEER_MAX])
{
	int fd = map_fd(KEEL_STEER_MAP_COUNTERS), ncpu = libbpf_num_possible_cpus();
	struct keel_bpf_counter *per_cpu;
	uint32_t i;
	int c;

	if (fd < 0)
		return -ENOENT;
	if (ncpu <= 0) {
		close(fd);
		return -EINVAL;
	}
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu) {
		close(fd);
		return -ENOMEM;
	}
	for (i = 0; i < KEEL_STEER_MAX; i++) {
		packets[i] = bytes[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, per_cpu))
			continue;
		for (c = 0; c < ncpu; c++) {
			packets[i] += per_cpu[c].packets;
			bytes[i] += per_cpu[c].bytes;
		}
	}
	free(per_cpu);
	close(fd);
	return 0;
}
