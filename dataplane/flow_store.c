/* Flow-table files: create, validate, adopt; what lets connections survive a keel-dataplane restart. */
/*
 * Each worker's table lives in <region dir>/keel-NAME-flows-W (hugetlbfs when
 * the region is there, so the table keeps its 2 MiB pages): a header page,
 * then the table exactly as flow_table_init lays it out. The file outlives
 * the process, whether it exits or is killed; the next start with the same
 * name, layout, capacity and worker count maps it again and takes the flows
 * over (flow_table_adopt checks every slot). Anything else -- a truncated
 * file, another layout, a bad checksum, another boot -- is removed and the
 * worker starts empty, saying why.
 *
 * Flow values name backends by their stable id, which keel-control keeps
 * across snapshots, so an adopted flow stays on its backend whatever was
 * published in between, for as long as that backend exists on its VIP.
 *
 * Times in the table are ms of CLOCK_MONOTONIC minus the header's clock base,
 * the same clock in every process of one boot, so idle timeouts run on
 * across a restart.
 */
#define _GNU_SOURCE
#include "flow_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/mempolicy.h>
#include <sys/syscall.h>

#include "seam/region.h"

#define FLOW_STORE_MIN_PAGE (2u << 20) /* as the region: a multiple of 2 MiB on tmpfs too */

_Static_assert(sizeof(struct flow_store_header) <= FLOW_STORE_HEADER_SIZE, "header fits its page");

uint64_t flow_store_checksum(const struct flow_store_header *h)
{
	const uint8_t *p = (const uint8_t *)h;
	uint64_t x = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < offsetof(struct flow_store_header, checksum); i++)
		x = (x ^ p[i]) * 0x100000001b3ull;
	return x;
}

uint32_t flow_store_layout(void)
{
	const char *bump = getenv("KEEL_TEST_FLOW_LAYOUT_BUMP");

	return FLOW_STORE_LAYOUT + (bump ? (uint32_t)strtoul(bump, NULL, 10) : 0);
}

void flow_store_boot_id(uint8_t id[16])
{
	char s[64];
	unsigned int n = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	memset(id, 0, 16);
	if (!f)
		return;
	if (fgets(s, sizeof(s), f)) {
		for (const char *c = s; *c && n < 32; c++) {
			int v;

			if (*c >= '0' && *c <= '9')
				v = *c - '0';
			else if (*c >= 'a' && *c <= 'f')
				v = *c - 'a' + 10;
			else
				continue;
			id[n / 2] |= (uint8_t)(v << (n % 2 ? 0 : 4));
			n++;
		}
	}
	fclose(f);
}

static uint64_t flow_store_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t flow_store_now_ms(const struct flow_store *fs)
{
	return flow_store_mono_ms() - fs->h->clock_base_ms;
}

int flow_store_check(const void *map, uint64_t file_size, const struct flow_store_expect *e, char *why,
		     size_t whylen)
{
	const struct flow_store_header *h = map;
	uint64_t want;

	if (file_size < FLOW_STORE_HEADER_SIZE) {
		snprintf(why, whylen, "truncated: %" PRIu64 " bytes, not even a header", file_size);
		return -1;
	}
	if (h->magic != FLOW_STORE_MAGIC) {
		snprintf(why, whylen, "not a flow-table file (magic %016" PRIx64 ")", h->magic);
		return -1;
	}
	if (h->checksum != flow_store_checksum(h)) {
		snprintf(why, whylen, "corrupted: header checksum %016" PRIx64 ", computed %016" PRIx64,
			 h->checksum, flow_store_checksum(h));
		return -1;
	}
	if (h->layout != e->layout) {
		snprintf(why, whylen, "layout version %#x, this binary's is %#x", h->layout, e->layout);
		return -1;
	}
	if (h->header_size != FLOW_STORE_HEADER_SIZE || h->file_size != file_size) {
		snprintf(why, whylen, "truncated or resized: %" PRIu64 " bytes, the header says %" PRIu64,
			 file_size, h->file_size);
		return -1;
	}
	if (h->capacity != e->capacity) {
		snprintf(why, whylen, "capacity %u flows, this start wants %u", h->capacity, e->capacity);
		return -1;
	}
	want = flow_table_mem_size(h->capacity);
	if (want == 0 || h->table_size != want || h->file_size < FLOW_STORE_HEADER_SIZE + want) {
		snprintf(why, whylen, "corrupted: table of %" PRIu64 " bytes for %u flows in a %" PRIu64 "-byte file",
			 h->table_size, h->capacity, h->file_size);
		return -1;
	}
	if (h->n_workers != e->n_workers || h->worker != e->worker) {
		snprintf(why, whylen, "written by worker %u of %u, this is worker %u of %u", h->worker,
			 h->n_workers, e->worker, e->n_workers);
		return -1;
	}
	if (memcmp(h->boot_id, e->boot_id, sizeof(h->boot_id))) {
		snprintf(why, whylen, "written before a reboot (its monotonic clock is gone)");
		return -1;
	}
	return 0;
}

static uint64_t flow_store_page(int fd)
{
	struct statfs st;

	if (fstatfs(fd, &st) == 0 && st.f_type == HUGETLBFS_MAGIC && (uint64_t)st.f_bsize > FLOW_STORE_MIN_PAGE)
		return (uint64_t)st.f_bsize;
	return FLOW_STORE_MIN_PAGE;
}

uint64_t flow_store_file_size(uint32_t capacity, uint64_t page)
{
	return (FLOW_STORE_HEADER_SIZE + flow_table_mem_size(capacity) + page - 1) / page * page;
}

static int flow_store_path(const char *name, uint32_t worker, char *buf, size_t len)
{
	char region[200];
	int n;

	if (keel_region_path(name, region, sizeof(region)))
		return -1;
	n = snprintf(buf, len, "%s-flows-%u", region, worker);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Try to take the existing file over; 0 when adopted, else fs->note says why not. */
static int flow_store_try_adopt(struct flow_store *fs, const struct flow_store_params *p,
				const struct flow_store_expect *e)
{
	struct flow_table_params fp = *p->flows;
	struct stat st;
	uint32_t bad;
	void *m;

	if (fstat(fs->fd, &st)) {
		snprintf(fs->note, sizeof(fs->note), "cannot stat: %s", strerror(errno));
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(fs->note, sizeof(fs->note), "truncated: empty file");
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	if (m == MAP_FAILED) {
		snprintf(fs->note, sizeof(fs->note), "cannot map %" PRIu64 " bytes: %s", (uint64_t)st.st_size,
			 strerror(errno));
		return -1;
	}
	if (flow_store_check(m, (uint64_t)st.st_size, e, fs->note, sizeof(fs->note)))
		goto out_unmap;
	fs->h = m;
	fp.secret = fs->h->secret;
	fs->ft = flow_table_adopt((uint8_t *)m + FLOW_STORE_HEADER_SIZE, fs->h->table_size, &fp, &bad);
	if (!fs->ft) {
		snprintf(fs->note, sizeof(fs->note), "corrupted: %u impossible slot(s) in the table", bad);
		goto out_unmap;
	}
	fs->map = m;
	fs->map_size = (size_t)st.st_size;
	fs->h->adoptions++;
	fs->h->pid = (uint32_t)getpid();
	fs->h->checksum = flow_store_checksum(fs->h);
	return 0;

out_unmap:
	fs->h = NULL;
	munmap(m, (size_t)st.st_size);
	return -1;
}

static int flow_store_create(struct flow_store *fs, const struct flow_store_params *p,
			     const struct flow_store_expect *e, char *err, size_t errlen)
{
	size_t tsz = flow_table_mem_size(p->flows->capacity);
	uint64_t page, size;
	struct timespec rt;
	void *m;

	if (ftruncate(fs->fd, 0)) {
		snprintf(err, errlen, "cannot truncate %s: %s", fs->path, strerror(errno));
		return -1;
	}
	page = flow_store_page(fs->fd);
	size = flow_store_file_size(p->flows->capacity, page);
	if (ftruncate(fs->fd, (off_t)size)) {
		snprintf(err, errlen, "cannot size %s to %" PRIu64 " bytes: %s", fs->path, size, strerror(errno));
		return -1;
	}
	/* On hugetlbfs a shared mapping reserves its pages now: ENOMEM here, not SIGBUS later. */
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s (%" PRIu64 " MiB): %s%s", fs->path, size >> 20, strerror(errno),
			 errno == ENOMEM ? "; free hugepages or lower --flows" : "");
		return -1;
	}
	fs->map = m;
	fs->map_size = size;
	fs->h = m;
	if (p->socket >= 0 && p->socket < 64) {
		/* Pages come at first touch, by the main thread here: ask for the worker's node instead (best effort). */
		unsigned long mask = 1ul << p->socket;

		(void)syscall(SYS_mbind, m, size, MPOL_PREFERRED, &mask, 64ul, 0u);
	}
	memset(fs->h, 0, FLOW_STORE_HEADER_SIZE);
	fs->ft = flow_table_init((uint8_t *)m + FLOW_STORE_HEADER_SIZE, tsz, p->flows);
	if (!fs->ft) {
		snprintf(err, errlen, "worker %u: flow table parameters refused", p->worker);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	fs->h->layout = e->layout;
	fs->h->header_size = FLOW_STORE_HEADER_SIZE;
	fs->h->file_size = size;
	fs->h->table_size = tsz;
	fs->h->capacity = flow_table_capacity(fs->ft);
	fs->h->worker = p->worker;
	fs->h->n_workers = p->n_workers;
	fs->h->secret = p->flows->secret;
	/* Time 0 a little in the past, so no timer in the table starts at 0. */
	fs->h->clock_base_ms = flow_store_mono_ms() - 1;
	memcpy(fs->h->boot_id, e->boot_id, sizeof(fs->h->boot_id));
	fs->h->created_ms = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
	fs->h->pid = (uint32_t)getpid();
	fs->h->magic = FLOW_STORE_MAGIC;
	/* Last: a process killed before this leaves a file that fails its checksum. */
	fs->h->checksum = flow_store_checksum(fs->h);
	return 0;
}

int flow_store_open(struct flow_store *fs, const struct flow_store_params *p, char *err, size_t errlen)
{
	struct flow_store_expect e = { 0 };
	char why[sizeof(fs->note)] = "";
	struct stat st;

	memset(fs, 0, sizeof(*fs));
	fs->fd = -1;
	if (flow_store_path(p->name, p->worker, fs->path, sizeof(fs->path))) {
		snprintf(err, errlen, "bad instance name '%s'", p->name);
		return -1;
	}
	fs->fd = open(fs->path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fs->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", fs->path, strerror(errno));
		return -1;
	}
	if (flock(fs->fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "%s is locked: another keel-dataplane %s runs", fs->path, p->name);
		goto out_close;
	}
	e.layout = flow_store_layout();
	e.capacity = flow_table_round_capacity(p->flows->capacity);
	e.worker = p->worker;
	e.n_workers = p->n_workers;
	flow_store_boot_id(e.boot_id);

	if (!p->adopt) {
		snprintf(why, sizeof(why), "adoption disabled (--no-adopt)");
	} else if (fstat(fs->fd, &st) == 0 && st.st_size == 0) {
		snprintf(why, sizeof(why), "no table from an earlier start");
	} else if (flow_store_try_adopt(fs, p, &e) == 0) {
		struct flow_table_stats fst;

		fs->adopted = true;
		flow_table_get_stats(fs->ft, &fst);
		fs->adopted_flows = fst.occupancy;
		fs->note[0] = '\0';
		return 0;
	} else {
		memcpy(why, fs->note, sizeof(why) - 1);
	}
	if (flow_store_create(fs, p, &e, err, errlen))
		goto out_close;
	snprintf(fs->note, sizeof(fs->note), "%s", why);
	return 0;

out_close:
	flow_store_close(fs);
	return -1;
}

void flow_store_close(struct flow_store *fs)
{
	if (fs->map)
		munmap(fs->map, fs->map_size);
	if (fs->fd >= 0)
		close(fs->fd); /* drops the lock */
	fs->map = NULL;
	fs->h = NULL;
	fs->ft = NULL;
	fs->fd = -1;
}

void flow_store_prune(const char *name, uint32_t n_workers, uint32_t max_workers)
{
	char path[256];

	for (uint32_t w = n_workers; w < max_workers; w++)
		if (flow_store_path(name, w, path, sizeof(path)) == 0)
			unlink(path);
}
