/* The dataplane creates the shared region: file, layout, header, command rings, status and counters. */
#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include <rte_common.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "drop.h"
#include "snapshot.h"

#define REGION_ALIGN 64
#define REGION_SLOT_ALIGN 4096
#define REGION_MIN_PAGE (2u << 20) /* round the file to 2 MiB even on tmpfs: same size on either */

/*
 * The command rings. DPDK 22.11 has no rte_ring_init_elem: a ring of
 * fixed-size elements is plain rte_ring_init() on memory sized by
 * rte_ring_get_memsize_elem(), and the element size is given again on every
 * call. Both sides must use exactly:
 *   memory:   rte_ring_get_memsize_elem(sizeof(struct keel_cmd), KEEL_RING_SLOTS)
 *             (stride rounded up to 64 bytes, region->ring_stride)
 *   init:     rte_ring_init(ring, "keel-cmd-<w>", KEEL_RING_SLOTS,
 *                           RING_F_SP_ENQ | RING_F_SC_DEQ)      (dataplane, here)
 *   produce:  rte_ring_enqueue_elem(ring, &cmd, sizeof(struct keel_cmd))
 *             (keel-control, one producer thread per region)
 *   consume:  rte_ring_dequeue_elem(ring, &cmd, sizeof(struct keel_cmd))
 *             (the worker that owns the ring)
 * The ring holds KEEL_RING_SLOTS - 1 messages (no RING_F_EXACT_SZ). Nothing in
 * it is a pointer, so it works at different addresses in the two processes;
 * rte_ring_init needs no EAL, and the enqueue/dequeue inlines neither.
 */
static int region_init_rings(struct keel_region *r)
{
	uint32_t w;

	for (w = 0; w < r->n_workers; w++) {
		char name[RTE_RING_NAMESIZE];
		int ret;

		snprintf(name, sizeof(name), "keel-cmd-%u", w);
		ret = rte_ring_init(keel_region_ring(r, w), name, KEEL_RING_SLOTS,
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (ret)
			return ret;
	}
	return 0;
}

/* Page size of the file system holding the region: hugetlbfs files must be a multiple of it. */
static uint64_t region_page_of(const struct statfs *st)
{
	if (st->f_type == HUGETLBFS_MAGIC && (uint64_t)st->f_bsize > REGION_MIN_PAGE)
		return (uint64_t)st->f_bsize;
	return REGION_MIN_PAGE;
}

static uint64_t region_page_size(int fd)
{
	struct statfs st;

	return fstatfs(fd, &st) == 0 ? region_page_of(&st) : REGION_MIN_PAGE;
}

uint64_t region_dir_page_size(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 ? region_page_of(&st) : REGION_MIN_PAGE;
}

/* Offsets of every part; the header records them so readers never recompute the layout. */
static void region_layout(const struct region_params *p, struct keel_region *h)
{
	ssize_t ring = rte_ring_get_memsize_elem(sizeof(struct keel_cmd), KEEL_RING_SLOTS);

	h->abi = KEEL_REGION_ABI;
	h->header_size = sizeof(struct keel_region);
	/* What the sections' elements are, for readers to check (keel_region_check). */
	h->status_size = sizeof(struct keel_worker_status);
	h->counters_size = sizeof(struct keel_worker_counters);
	h->cmd_size = sizeof(struct keel_cmd);
	h->ring_slots = KEEL_RING_SLOTS;
	h->n_drop_reasons = KEEL_DROP_MAX;
	h->max_vips = KEEL_MAX_VIPS;
	h->max_backends = KEEL_MAX_BACKENDS;
	h->max_workers = KEEL_REGION_MAX_WORKERS;
	h->snapshot_abi = KEEL_SNAPSHOT_ABI;
	h->backend_size = sizeof(struct keel_backend);
	h->n_workers = p->n_workers;
	h->n_slots = p->n_slots;
	h->slot_size = RTE_ALIGN_CEIL(p->slot_size, REGION_ALIGN);
	h->n_ports = p->n_ports;
	h->flow_capacity = p->flow_capacity;
	h->rings_off = RTE_ALIGN_CEIL(sizeof(struct keel_region), REGION_ALIGN);
	h->ring_stride = RTE_ALIGN_CEIL((uint64_t)ring, REGION_ALIGN);
	h->status_off = h->rings_off + h->ring_stride * p->n_workers;
	h->counters_off = RTE_ALIGN_CEIL(h->status_off + sizeof(struct keel_worker_status) * p->n_workers,
					 REGION_ALIGN);
	h->trace_size = sizeof(struct keel_trace_worker);
	h->trace_records = KEEL_TRACE_RECORDS;
	h->trace_off = RTE_ALIGN_CEIL(h->counters_off + sizeof(struct keel_worker_counters) * p->n_workers,
				      REGION_ALIGN);
	h->slots_off = RTE_ALIGN_CEIL(h->trace_off + sizeof(struct keel_trace_worker) * p->n_workers,
				      REGION_SLOT_ALIGN);
	h->region_size = h->slots_off + h->slot_size * p->n_slots;
}

uint64_t region_file_size(const struct region_params *p, uint64_t page)
{
	struct keel_region layout = { 0 };

	region_layout(p, &layout);
	return RTE_ALIGN_CEIL(layout.region_size, page);
}

/* An existing file belongs to a live instance if it says STARTING or RUNNING and its pid still exists. */
static int region_in_use(const char *path, uint32_t *pid)
{
	struct keel_region h;
	struct stat st;
	size_t len;
	void *m;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/*
	 * hugetlbfs has no read(): map the first page to look at the header. A
	 * whole (huge) page, since a hugetlb mapping cannot be unmapped in part.
	 */
	len = region_page_size(fd);
	if (fstat(fd, &st) || (size_t)st.st_size < sizeof(h)) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return 0;
	/* acquire: pairs with the release store of the magic by the instance that made the file. */
	h.magic = __atomic_load_n((const uint64_t *)m, __ATOMIC_ACQUIRE);
	memcpy((uint8_t *)&h + sizeof(h.magic), (const uint8_t *)m + sizeof(h.magic),
	       sizeof(h) - sizeof(h.magic));
	munmap(m, len);
	if (h.magic != KEEL_REGION_MAGIC || h.pid == 0 || (pid_t)h.pid == getpid())
		return 0;
	*pid = h.pid;
	if (h.state != KEEL_REGION_RUNNING && h.state != KEEL_REGION_STARTING)
		return 0;
	return kill((pid_t)h.pid, 0) == 0 || errno == EPERM;
}

static uint64_t region_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct keel_region *region_create(const struct region_params *p, char *err, size_t errlen)
{
	struct keel_region layout = { 0 }, *r;
	char path[PATH_MAX];
	uint64_t page, size;
	uint32_t pid = 0, w;
	void *m;
	int fd, ret;

	ret = keel_region_path(p->name, path, sizeof(path));
	if (ret) {
		snprintf(err, errlen, "bad instance name '%s': 1-31 of [A-Za-z0-9_.-], not starting with '.' or '-'",
			 p->name);
		return NULL;
	}
	if (region_in_use(path, &pid)) {
		snprintf(err, errlen, "instance %s already running, pid %u (region %s)", p->name, pid, path);
		return NULL;
	}
	/*
	 * Replace, never reuse in place: a keel-control still mapping the old
	 * file keeps a consistent (ENDED or dead) region and notices the new
	 * epoch when it reopens by name.
	 */
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale region %s: %s", path, strerror(errno));
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create region %s: %s", path, strerror(errno));
		return NULL;
	}
	region_layout(p, &layout);
	page = region_page_size(fd);
	size = region_file_size(p, page);
	layout.region_size = size;
	if (ftruncate(fd, (off_t)size)) {
		snprintf(err, errlen, "cannot size region %s to %" PRIu64 " bytes: %s", path, size,
			 strerror(errno));
		goto out_unlink;
	}
	/* On hugetlbfs a shared mapping reserves its pages now: ENOMEM here, not SIGBUS later. */
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map region %s (%" PRIu64 " MiB): %s%s", path, size >> 20,
			 strerror(errno),
			 errno == ENOMEM ? "; free hugepages or lower --slots/--slot-size" : "");
		goto out_unlink;
	}
	close(fd);
	r = m;

	/* Everything but the slots: keel-control writes those, and touching them costs the pages up front. */
	memset(r, 0, layout.slots_off);
	*r = layout;
	if (getrandom(&r->epoch, sizeof(r->epoch), 0) != sizeof(r->epoch))
		r->epoch = (uint64_t)region_realtime_ms() ^ ((uint64_t)getpid() << 32);
	r->epoch |= 1; /* never 0: readers may use 0 for "no region seen yet" */
	r->pid = (uint32_t)getpid();
	r->started_ms = region_realtime_ms();
	snprintf(r->name, sizeof(r->name), "%s", p->name);
	if (region_init_rings(r)) {
		snprintf(err, errlen, "cannot initialise command rings in region %s", path);
		munmap(m, size);
		unlink(path);
		return NULL;
	}
	for (w = 0; w < r->n_workers; w++)
		keel_region_status(r, w)->active_slot = UINT32_MAX;
	/*
	 * Magic last, so a reader that sees it also sees a complete layout:
	 * release, pairs with the acquire load in keel_seam_open and region_in_use.
	 */
	__atomic_store_n(&r->magic, KEEL_REGION_MAGIC, __ATOMIC_RELEASE);
	region_set_state(r, KEEL_REGION_STARTING);
	return r;

out_unlink:
	close(fd);
	unlink(path);
	return NULL;
}

void region_set_state(struct keel_region *r, enum keel_region_state state)
{
	/* Pairs with the acquire load in keel_seam_alive and in region_in_use of a next start. */
	__atomic_store_n(&r->state, (uint32_t)state, __ATOMIC_RELEASE);
}

void region_close(struct keel_region *r, int unlink_file)
{
	char path[PATH_MAX];

	if (!r)
		return;
	if (unlink_file && keel_region_path(r->name, path, sizeof(path)) == 0)
		unlink(path);
	munmap(r, r->region_size);
}
