/* Why the EAL will not start, or did not: a missing interface found before it, a hint after it fails. */
#ifndef KEEL_DATAPLANE_EAL_HINT_H
#define KEEL_DATAPLANE_EAL_HINT_H

/* 0, or EXIT_FAILURE after a start_failed line naming an AF_XDP/AF_PACKET vdev's missing interface. */
int eal_hint_vdev_ifaces(int argc, char **argv);
/* What to do about rte_eal_init's error err (rte_errno): root, hugepages, options. */
const char *eal_hint(int err);

#endif
