/* Test helper for tests/integration/bpf_veth.sh: attach steer.bpf.c in generic XDP mode with its maps pinned in a private directory, add VIPs, read counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "keel_bpf.h"
#include "steer.skel.h"

/*
 *   steer_attach attach IFACE PINDIR [ADDR/PROTO/PORT]...   (PROTO tcp|udp, PORT 0 = all)
 *   steer_attach counters PINDIR
 *   steer_attach detach IFACE
 * keel-control, not this helper, owns the real maps (pinned by name in /sys/fs/bpf); PINDIR
 * keeps a test's maps away from them.
 */

static const char *const names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_STEER_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};

static int vip_add(struct steer_bpf *skel, char *spec)
{
	struct keel_bpf_vip_key k;
	struct keel_bpf_addr_key a;
	struct keel_bpf_vip_val v = { 0 };
	struct keel_bpf_addr_val av = { 0 };
	char *proto = strchr(spec, '/'), *port;

	if (!proto || !(port = strchr(proto + 1, '/')))
		return -EINVAL;
	*proto++ = 0;
	*port++ = 0;
	memset(&k, 0, sizeof(k));
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, spec, k.addr) == 1)
		k.family = KEEL_BPF_AF_INET4;
	else if (inet_pton(AF_INET6, spec, k.addr) == 1)
		k.family = KEEL_BPF_AF_INET6;
	else
		return -EINVAL;
	k.proto = strcmp(proto, "udp") == 0 ? 17 : 6;
	k.port = htons((uint16_t)atoi(port));
	memcpy(a.addr, k.addr, 16);
	a.family = k.family;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.keel_steer_vips), &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.keel_steer_addrs), &a, &av, BPF_ANY))
		return -errno;
	return 0;
}

static int attach(const char *iface, const char *pindir, char **vips, int n)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = pindir);
	struct steer_bpf *skel;
	int ifindex = (int)if_nametoindex(iface), i, rc = 1;

	if (!ifindex)
		return fprintf(stderr, "steer_attach: %s: no such interface\n", iface), 1;
	skel = steer_bpf__open_opts(&o);
	if (!skel || steer_bpf__load(skel)) {
		fprintf(stderr, "steer_attach: load: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (vip_add(skel, vips[i])) {
			fprintf(stderr, "steer_attach: bad VIP %s\n", vips[i]);
			goto out;
		}
	if (bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.keel_steer),
			   XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL)) {
		fprintf(stderr, "steer_attach: %s: attach: %s\n", iface, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	steer_bpf__destroy(skel);
	return rc;
}

static int counters(const char *pindir)
{
	char path[512];
	int fd, ncpu = libbpf_num_possible_cpus(), c;
	__u32 i;
	struct keel_bpf_counter *v;

	snprintf(path, sizeof(path), "%s/" KEEL_STEER_MAP_COUNTERS, pindir);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpu <= 0)
		return fprintf(stderr, "steer_attach: %s: %s\n", path, strerror(errno)), 1;
	v = calloc((size_t)ncpu, sizeof(*v));
	for (i = 0; v && i < KEEL_STEER_MAX; i++) {
		unsigned long long n = 0;

		if (bpf_map_lookup_elem(fd, &i, v) == 0)
			for (c = 0; c < ncpu; c++)
				n += v[c].packets;
		printf("%s %llu\n", names[i], n);
	}
	free(v);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "attach") == 0)
		return attach(argv[2], argv[3], argv + 4, argc - 4);
	if (argc == 3 && strcmp(argv[1], "counters") == 0)
		return counters(argv[2]);
	if (argc == 3 && strcmp(argv[1], "detach") == 0) {
		int ifindex = (int)if_nametoindex(argv[2]);

		return ifindex && bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL) == 0 ? 0 : 1;
	}
	fprintf(stderr, "usage: steer_attach attach IFACE PINDIR [ADDR/PROTO/PORT]... | counters PINDIR | detach IFACE\n");
	return 64;
}
