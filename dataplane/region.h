/* Creating, publishing and ending the dataplane's side of the shared-memory region. */
#ifndef KEEL_DATAPLANE_REGION_H
#define KEEL_DATAPLANE_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "seam/region.h"

struct region_params {
	const char *name;       /* instance name: the region file is keel-<name> */
	uint32_t n_workers;
	uint32_t n_slots;
	uint64_t slot_size;     /* rounded up to 64 bytes */
	uint32_t n_ports;
	uint32_t flow_capacity; /* per worker, for readers */
};

/*
 * Create (or replace, when its dataplane is gone) the region file of an
 * instance, map it, and lay out header, rings, status and counters, in state
 * STARTING. Returns the mapping or NULL; err receives one line saying why.
 */
struct keel_region *region_create(const struct region_params *p, char *err, size_t errlen);

/*
 * Bytes of the region file for p on a file system of page-byte pages (what
 * region_create sizes it to), and the page it would get in directory dir
 * (the hugetlbfs page, at least 2 MiB). Neither touches the region.
 */
uint64_t region_file_size(const struct region_params *p, uint64_t page);
uint64_t region_dir_page_size(const char *dir);

/* Release-store the state so readers that acquire it see everything written before. */
void region_set_state(struct keel_region *r, enum keel_region_state state);

/* Unmap; with unlink_file (start-up failed, never RUNNING) also remove the file. */
void region_close(struct keel_region *r, int unlink_file);

#endif
