/* Flow tables that outlive keel-dataplane: one named file per worker beside the region, adopted by the next start. */
#ifndef KEEL_DATAPLANE_FLOW_STORE_H
#define KEEL_DATAPLANE_FLOW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"

#define FLOW_STORE_MAGIC 0x574f4c464c45454bull /* "KEELFLOW" in a little-endian word */
/*
 * The file's layout version: this header's and the flow table's. Any change
 * to either bumps it, and a file of another version is never adopted.
 */
#define FLOW_STORE_HEADER_VERSION 1u
#define FLOW_STORE_LAYOUT ((FLOW_STORE_HEADER_VERSION << 16) | FLOW_TABLE_LAYOUT)
#define FLOW_STORE_HEADER_SIZE 4096u /* the table starts on the next page: same alignment in every mapping */

/*
 * First page of keel-NAME-flows-W. Written by the dataplane that owns the
 * file (at creation and adoption), read by the next one before it trusts
 * anything behind it. checksum covers every byte before it.
 */
struct flow_store_header {
	uint64_t magic;
	uint32_t layout;        /* FLOW_STORE_LAYOUT of the binary that created it */
	uint32_t header_size;   /* FLOW_STORE_HEADER_SIZE */
	uint64_t file_size;     /* the file, rounded to its file system's page */
	uint64_t table_size;    /* flow_table_buckets_size(capacity): the buckets alone follow this page */
	uint32_t capacity;      /* entries, after the table's rounding */
	uint32_t worker;        /* this file's worker index */
	uint32_t n_workers;     /* of the dataplane that created it */
	uint32_t adoptions;     /* how many starts took it over */
	uint64_t secret;        /* the table's hash key: fingerprints are meaningless under another */
	uint64_t clock_base_ms; /* CLOCK_MONOTONIC ms that is the table's time 0 (see flow_store_now_ms) */
	uint8_t boot_id[16];    /* the boot whose monotonic clock that is */
	uint64_t created_ms;    /* wall clock, for operators */
	uint32_t pid;           /* last owner */
	uint32_t reserved;
	uint64_t checksum;
};

/* What a file must say to be adopted. */
struct flow_store_expect {
	uint32_t layout;
	uint32_t capacity; /* rounded */
	uint32_t worker;
	uint32_t n_workers;
	uint8_t boot_id[16];
	uint64_t now_ms;   /* CLOCK_MONOTONIC ms now: a clock base must not be later */
};

/*
 * Validate a file's header (a private copy of its first page) against e and
 * the file's file_size: bounds, magic, checksum, layout, capacity, worker
 * count, boot, clock base. Returns 0, or -1 with one line saying why in why.
 */
int flow_store_check(const void *map, uint64_t file_size, const struct flow_store_expect *e, char *why,
		     size_t whylen);

/* The header checksum (FNV-1a 64 of the bytes before the field). */
uint64_t flow_store_checksum(const struct flow_store_header *h);

struct flow_store_params {
	const char *name;      /* instance */
	uint32_t worker;
	uint32_t n_workers;
	const struct flow_table_params *flows;
	bool adopt;            /* false: --no-adopt, always start empty */
	int socket;            /* NUMA node the pages of a new table should come from; -1: any */
};

/*
 * Only the buckets are used from the file's mapping. The table's state (its
 * pointer to the buckets, hash key, sizes) and the header the running
 * dataplane goes by are private copies: whoever could write the file
 * (nobody but its owner, see flow_store_open) can change flows, never where
 * the dataplane reads or writes.
 */
struct flow_store {
	struct flow_table_state state; /* what ft points to */
	struct flow_store_header hdr;  /* private copy; the file's first page is written from it */
	struct flow_table *ft;
	struct flow_store_header *h;   /* &hdr */
	void *map;
	size_t map_size;
	int fd;                /* held open with an exclusive lock while the dataplane runs; -1: not kept */
	bool adopted;
	bool kept;             /* in a file the next start can adopt; false: private memory, lost at exit */
	uint64_t adopted_flows;
	uint32_t dropped;      /* adopted slots refused one by one (impossible, or a value out of range) */
	char path[256];
	char note[400];        /* why the table starts empty; "" when adopted */
};

/*
 * Open (adopting when allowed and valid) or create worker p->worker's table
 * file. Whatever is at the path and is not a regular file of this user that
 * no one else can access -- a symbolic link (never followed), another
 * user's file, a group- or world-accessible one, a FIFO, a device -- is
 * removed and a new file created in its place (O_EXCL); a directory, or an
 * entry that cannot be removed, leaves the table in private memory for this
 * run. Either way the worker starts empty and fs->note says why. Returns 0
 * with fs filled, or -1 with err set (no directory, no memory, file locked
 * by a live process).
 */
int flow_store_open(struct flow_store *fs, const struct flow_store_params *p, char *err, size_t errlen);

/* Bytes of a worker's table file for capacity entries on page-byte pages (what flow_store_open sizes it to). */
uint64_t flow_store_file_size(uint32_t capacity, uint64_t page);

/* Unmap and unlock; the file stays for the next start. */
void flow_store_close(struct flow_store *fs);

/* Remove the files of workers >= n_workers left by an earlier start with more workers. */
void flow_store_prune(const char *name, uint32_t n_workers, uint32_t max_workers);

/* The table's clock now: monotonic ms since the file's clock base. */
uint64_t flow_store_now_ms(const struct flow_store *fs);

/* The boot id of the running kernel (zeros when unknown). */
void flow_store_boot_id(uint8_t id[16]);

/* Test hook: KEEL_TEST_FLOW_LAYOUT_BUMP adds to the layout version, to exercise the refusal path. */
uint32_t flow_store_layout(void);

#endif
