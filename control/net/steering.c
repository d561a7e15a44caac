/* Steering map synchronisation over libbpf's pinned-object calls. */
#include "steering.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
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

/* The steering program's maps, as found in one place (one attached program, or the pins). */
struct steer_maps {
	int vips, addrs, cnt;
};

static void maps_close(struct steer_maps *m)
{
	if (m->vips >= 0)
		close(m->vips);
	if (m->addrs >= 0)
		close(m->addrs);
	if (m->cnt >= 0)
		close(m->cnt);
	m->vips = m->addrs = m->cnt = -1;
}

/*
 * The maps of the XDP program attached to ifname, by id: the pins may live in
 * a BPF file system this process does not see (another mount namespace, a
 * private bpffs), the program on the interface is the one that steers.
 * 0; -ENOENT when there is no program or it is not Keel's (no keel_steer_*
 * map: the af_xdp PMD's default program sends everything to the dataplane);
 * another -errno with err set when it cannot be inspected.
 */
static int maps_of_iface(const char *ifname, struct steer_maps *m, char *where, size_t wlen,
			 char *err, size_t elen)
{
	unsigned int ifindex = ifname[0] ? if_nametoindex(ifname) : 0;
	uint32_t prog_id = 0, ids[32], n, i, len;
	struct bpf_prog_info info;
	int pfd, ret = 0;

	if (!ifindex || bpf_xdp_query_id((int)ifindex, 0, &prog_id) || !prog_id)
		return -ENOENT;
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0) {
		ret = -errno;
		snprintf(err, elen, "xdp program %u on %s: %s", prog_id, ifname, strerror(errno));
		return ret;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(pfd, &info, &len)) {
		ret = -errno;
		snprintf(err, elen, "xdp program %u on %s: no information: %s", prog_id, ifname,
			 strerror(errno));
		close(pfd);
		return ret;
	}
	close(pfd);
	n = info.nr_map_ids < sizeof(ids) / sizeof(ids[0]) ? info.nr_map_ids : sizeof(ids) / sizeof(ids[0]);
	for (i = 0; i < n; i++) {
		struct bpf_map_info mi;
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0) {
			ret = -errno;
			snprintf(err, elen, "xdp program %u on %s: map %u: %s", prog_id, ifname, ids[i],
				 strerror(errno));
			continue;
		}
		memset(&mi, 0, sizeof(mi));
		len = sizeof(mi);
		/* Kernel object names are 15 characters: keel_steer_addrs reads keel_steer_addr. */
		if (bpf_obj_get_info_by_fd(fd, &mi, &len) == 0) {
			if (m->vips < 0 && !strncmp(mi.name, KEEL_STEER_MAP_VIPS, BPF_OBJ_NAME_LEN - 1)) {
				m->vips = fd;
				continue;
			}
			if (m->addrs < 0 && !strncmp(mi.name, KEEL_STEER_MAP_ADDRS, BPF_OBJ_NAME_LEN - 1)) {
				m->addrs = fd;
				continue;
			}
			if (m->cnt < 0 && !strncmp(mi.name, KEEL_STEER_MAP_COUNTERS, BPF_OBJ_NAME_LEN - 1)) {
				m->cnt = fd;
				continue;
			}
		}
		close(fd);
	}
	if (m->vips >= 0 && m->addrs >= 0) {
		snprintf(where, wlen, "xdp program %u on %s", prog_id, ifname);
		return 0;
	}
	/* Some keel_steer_* map, or one we could not open: Keel's program, out of reach. */
	if (m->vips >= 0 || m->addrs >= 0 || ret) {
		if (!ret)
			snprintf(err, elen, "xdp program %u on %s: a steering map is missing", prog_id, ifname);
		maps_close(m);
		return ret ? ret : -ENOENT;
	}
	maps_close(m);
	return -ENOENT;
}

/* The first place with Keel's maps: an attached program, else the pins. -ENOENT: none in use. */
static int find_maps(const char *const *ifaces, uint32_t n_ifaces, struct steer_maps *m,
		     char *where, size_t wlen, char *err, size_t elen)
{
	int ret = -ENOENT, r;
	uint32_t i;

	*m = (struct steer_maps){ -1, -1, -1 };
	err[0] = where[0] = 0;
	for (i = 0; i < n_ifaces; i++) {
		r = maps_of_iface(ifaces[i], m, where, wlen, err, elen);
		if (r == 0)
			return 0;
		if (r != -ENOENT || err[0])
			ret = r;
	}
	m->vips = map_fd(KEEL_STEER_MAP_VIPS);
	m->addrs = map_fd(KEEL_STEER_MAP_ADDRS);
	m->cnt = map_fd(KEEL_STEER_MAP_COUNTERS);
	if (m->vips >= 0 && m->addrs >= 0) {
		snprintf(where, wlen, "pinned in %s", KEEL_STEER_PIN_DIR);
		err[0] = 0;
		return 0;
	}
	maps_close(m);
	return ret;
}

static int sync_maps(const struct keel_config *cfg, int vfd, int afd)
{
	int changed = 0;
	uint32_t i;

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
	return changed;
}

int steering_sync(const struct keel_config *cfg, const char *const *ifaces, uint32_t n_ifaces,
		  struct steering_state *st)
{
	struct steer_maps m;
	uint32_t i, n = cfg->n_vips < KEEL_BPF_MAX_VIPS ? cfg->n_vips : KEEL_BPF_MAX_VIPS;
	int ret;

	ret = find_maps(ifaces, n_ifaces, &m, st->where, sizeof(st->where), st->error,
			sizeof(st->error));
	st->syncs++;
	st->n_vips = cfg->n_vips;
	st->visible = ret == 0;
	/* No program at all is a dedicated NIC; one we cannot reach steers nothing we configure. */
	st->required = ret != -ENOENT || st->error[0];
	if (ret) {
		st->n_missing = st->required ? cfg->n_vips : 0;
		for (i = 0; i < n; i++)
			st->missing[i] = st->required;
		if (st->required)
			st->failures++;
		return ret;
	}
	ret = sync_maps(cfg, m.vips, m.addrs);
	/* Read back: an update the kernel refused (a full map) leaves that VIP unsteered. */
	st->n_missing = 0;
	for (i = 0; i < cfg->n_vips; i++) {
		struct keel_bpf_vip_key vk;
		struct keel_bpf_vip_val vv;
		struct keel_bpf_addr_key ak;
		struct keel_bpf_addr_val av;
		bool miss;

		vip_key(&cfg->vips[i], &vk);
		addr_key(&cfg->vips[i], &ak);
		miss = bpf_map_lookup_elem(m.vips, &vk, &vv) || bpf_map_lookup_elem(m.addrs, &ak, &av);
		if (i < n)
			st->missing[i] = miss;
		st->n_missing += miss;
	}
	maps_close(&m);
	return ret;
}

int steering_counters(const char *const *ifaces, uint32_t n_ifaces,
		      uint64_t packets[KEEL_STEER_MAX], uint64_t bytes[KEEL_STEER_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	struct keel_bpf_counter *per_cpu;
	char where[96], err[160];
	struct steer_maps m;
	uint32_t i;
	int c;

	if (find_maps(ifaces, n_ifaces, &m, where, sizeof(where), err, sizeof(err)) || m.cnt < 0) {
		maps_close(&m);
		return -ENOENT;
	}
	fd = m.cnt;
	m.cnt = -1;
	maps_close(&m);
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
