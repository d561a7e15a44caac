/* Keeps the AF_XDP steering program's pinned VIP maps equal to the configuration, and reads its counters. */
#ifndef KEEL_CONTROL_STEERING_H
#define KEEL_CONTROL_STEERING_H

#include <stdint.h>

#include "keel_bpf.h"
#include "config_model.h"

/*
 * When keel-dataplane runs on a NIC shared with the kernel (net_af_xdp with
 * xdp_prog=steer.bpf.o), the program's maps are pinned by name in
 * /sys/fs/bpf. Make keel_steer_vips and keel_steer_addrs hold exactly the
 * configured VIPs (entries added first, stale ones removed after, so a VIP
 * present in both states is never missing in between). Returns the number of
 * entries changed, -ENOENT when no steering maps are pinned (dedicated NIC:
 * nothing to do), or another -errno.
 */
int steering_sync(const struct keel_config *cfg);

/* Per-verdict packets summed over CPUs; -ENOENT without steering. */
int steering_counters(uint64_t packets[KEEL_STEER_MAX], uint64_t bytes[KEEL_STEER_MAX]);

/* Stable name of a steering verdict (metrics label). */
const char *steering_verdict_name(unsigned int v);

#endif
