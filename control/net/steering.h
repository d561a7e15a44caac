/* Keeps the AF_XDP steering program's pinned VIP maps equal to the configuration, and reads its counters. */
#ifndef KEEL_CONTROL_STEERING_H
#define KEEL_CONTROL_STEERING_H

#include <stdbool.h>
#include <stdint.h>

#include "keel_bpf.h"
#include "config_model.h"

/*
 * Where keel-control found the steering program's maps, and which VIPs have
 * their entries: a VIP the program does not steer is passed to the kernel
 * (and lost there), so it must not be announced (control_bgp.c).
 */
struct steering_state {
	bool required;      /* a steering program is in use: on a dataplane interface, or pinned */
	bool visible;       /* its maps could be opened (read and written) */
	uint32_t n_vips;    /* of the configuration synced */
	uint32_t n_missing; /* of those, VIPs without both entries (all of them when !visible) */
	uint64_t syncs, failures;
	char where[96];     /* "xdp program 42 on eth1", "pinned in /sys/fs/bpf", "" */
	char error[160];    /* why the maps are not visible, "" when they are */
	bool missing[KEEL_BPF_MAX_VIPS]; /* per VIP index of the configuration */
};

/*
 * When keel-dataplane runs on a NIC shared with the kernel (net_af_xdp with
 * xdp_prog=steer.bpf.o), the steering program decides which packets reach
 * it. Its maps are found through the XDP program attached to the
 * dataplane's interfaces (ifaces: the region's port names; names that are
 * not interfaces are skipped), which works whatever mount namespace or BPF
 * file system the program's pins live in; without such a program, through
 * the pins in /sys/fs/bpf. Make keel_steer_vips and keel_steer_addrs hold
 * exactly the configured VIPs (entries added first, stale ones removed
 * after, so a VIP present in both states is never missing in between), then
 * read each VIP's entries back into st. Returns the number of entries
 * changed, -ENOENT when no steering program is in use (dedicated NIC:
 * nothing to do, st->required false), or another -errno (st->error says
 * why: the program is there and its maps cannot be opened).
 */
int steering_sync(const struct keel_config *cfg, const char *const *ifaces, uint32_t n_ifaces,
		  struct steering_state *st);

/* Per-verdict packets summed over CPUs, from the maps steering_sync would use; -ENOENT without steering. */
int steering_counters(const char *const *ifaces, uint32_t n_ifaces,
		      uint64_t packets[KEEL_STEER_MAX], uint64_t bytes[KEEL_STEER_MAX]);

/* Stable name of a steering verdict (metrics label). */
const char *steering_verdict_name(unsigned int v);

#endif
