/* Flow-table files: create, validate, adopt; what lets connections survive a keel-dataplane restart. */
/*
 * Each worker's table lives in <region dir>/keel-NAME-flows-W (hugetlbfs when
 * the region is there, so the table keeps its 2 MiB pages): a header page,
 * then the table's buckets. The file outlives the process, whether it
 * exits or is killed; the next start with the same name, layout, capacity
 * and worker count maps it again and takes the flows over
 * (flow_table_adopt_buckets checks every slot). Anything else -- a
 * truncated file, another layout, a bad checksum, another boot -- is
 * replaced and the worker starts empty, saying why.
 *
 * The region directory may be writable by anyone (/dev/shm), so what is at
 * the path is trusted only as a regular file of this user that nobody else
 * can open (flow_store_entry), and even then only its buckets are used from
 * the shared mapping: the table's state (the pointer to the buckets, the
 * hash key) and the header the dataplane goes by are private copies.
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
#include "snapshot.h"

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
	if (h->header_size != FLOW_STORE_HEADER_SIZE) {
		snprintf(why, whylen, "corrupted: header size %u, expected %u", h->header_size, FLOW_STORE_HEADER_SIZE);
		return -1;
	}
	if (h->file_size != file_size) {
		snprintf(why, whylen, "%s: %" PRIu64 " bytes, the header says %" PRIu64,
			 file_size < h->file_size ? "truncated" : "grown", file_size, h->file_size);
		return -1;
	}
	if (h->capacity != e->capacity) {
		snprintf(why, whylen, "capacity %u flows, this start wants %u", h->capacity, e->capacity);
		return -1;
	}
	want = flow_table_buckets_size(h->capacity);
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
	/* Every timer in the table counts from the base: one in the future would make them all look fresh. */
	if (h->clock_base_ms > e->now_ms) {
		snprintf(why, whylen, "corrupted: clock base %" PRIu64 " ms, later than now (%" PRIu64 " ms)",
			 h->clock_base_ms, e->now_ms);
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
	return (FLOW_STORE_HEADER_SIZE + flow_table_buckets_size(capacity) + page - 1) / page * page;
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

/* Values the pipeline could be handed: ids inside what any snapshot can hold. */
static int flow_store_value_ok(const struct flow_value *v, void *arg)
{
	(void)arg;
	return v->backend < KEEL_MAX_BACKENDS && v->vip < KEEL_MAX_VIPS;
}

/*
 * Try to take fs->fd's file over (a regular file of ours, locked); 0 when
 * adopted, else fs->note says why not. The header is checked in a private
 * copy, and only the buckets are used from the mapping.
 */
static int flow_store_try_adopt(struct flow_store *fs, const struct flow_store_params *p,
				const struct flow_store_expect *e)
{
	struct flow_table_params fp = *p->flows;
	struct stat st;
	void *m;

	if (fstat(fs->fd, &st)) {
		snprintf(fs->note, sizeof(fs->note), "cannot stat: %s", strerror(errno));
		return -1;
	}
	if (st.st_size == 0) {
		snprintf(fs->note, sizeof(fs->note),
			 "empty file (0 bytes): truncated, or an earlier start stopped while creating it");
		return -1;
	}
	if ((uint64_t)st.st_size < FLOW_STORE_HEADER_SIZE) {
		snprintf(fs->note, sizeof(fs->note), "truncated: %" PRIu64 " bytes, not even a header",
			 (uint64_t)st.st_size);
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	if (m == MAP_FAILED) {
		snprintf(fs->note, sizeof(fs->note), "cannot map %" PRIu64 " bytes: %s", (uint64_t)st.st_size,
			 strerror(errno));
		return -1;
	}
	memcpy(&fs->hdr, m, sizeof(fs->hdr));
	if (flow_store_check(&fs->hdr, (uint64_t)st.st_size, e, fs->note, sizeof(fs->note))) {
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	fp.secret = fs->hdr.secret;
	fs->ft = flow_table_adopt_buckets(&fs->state, (uint8_t *)m + FLOW_STORE_HEADER_SIZE, fs->hdr.table_size,
					  &fp, flow_store_value_ok, NULL, &fs->dropped);
	if (!fs->ft) {
		snprintf(fs->note, sizeof(fs->note), "table parameters refused: %s", strerror(errno));
		munmap(m, (size_t)st.st_size);
		return -1;
	}
	fs->map = m;
	fs->map_size = (size_t)st.st_size;
	fs->hdr.adoptions++;
	fs->hdr.pid = (uint32_t)getpid();
	fs->hdr.checksum = flow_store_checksum(&fs->hdr);
	memcpy(m, &fs->hdr, sizeof(fs->hdr));
	return 0;
}

/*
 * A new, empty table in fs->fd's file (sized here), or in private memory
 * when fs->fd is -1: this start's secret and clock base.
 */
static int flow_store_create(struct flow_store *fs, const struct flow_store_params *p,
			     const struct flow_store_expect *e, char *err, size_t errlen)
{
	size_t tsz = flow_table_buckets_size(p->flows->capacity);
	uint64_t page, size;
	struct timespec rt;
	void *m;

	if (tsz == 0) {
		snprintf(err, errlen, "worker %u: flow table parameters refused", p->worker);
		return -1;
	}
	if (fs->fd >= 0) {
		if (ftruncate(fs->fd, 0)) {
			snprintf(err, errlen, "cannot truncate %s: %s", fs->path, strerror(errno));
			return -1;
		}
		page = flow_store_page(fs->fd);
		size = flow_store_file_size(p->flows->capacity, page);
		if (ftruncate(fs->fd, (off_t)size)) {
			snprintf(err, errlen, "cannot size %s to %" PRIu64 " bytes: %s", fs->path, size,
				 strerror(errno));
			return -1;
		}
		/* On hugetlbfs a shared mapping reserves its pages now: ENOMEM here, not SIGBUS later. */
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	} else {
		size = (FLOW_STORE_HEADER_SIZE + tsz + FLOW_STORE_MIN_PAGE - 1) / FLOW_STORE_MIN_PAGE *
		       FLOW_STORE_MIN_PAGE;
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (m == MAP_FAILED)
			m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s (%" PRIu64 " MiB): %s%s", fs->path, size >> 20, strerror(errno),
			 errno == ENOMEM ? "; free hugepages or lower --flows" : "");
		return -1;
	}
	fs->map = m;
	fs->map_size = size;
	if (p->socket >= 0 && p->socket < 64) {
		/* Pages come at first touch, by the main thread here: ask for the worker's node instead (best effort). */
		unsigned long mask = 1ul << p->socket;

		(void)syscall(SYS_mbind, m, size, MPOL_PREFERRED, &mask, 64ul, 0u);
	}
	memset(&fs->hdr, 0, sizeof(fs->hdr));
	memset(m, 0, FLOW_STORE_HEADER_SIZE);
	fs->ft = flow_table_init_buckets(&fs->state, (uint8_t *)m + FLOW_STORE_HEADER_SIZE, tsz, p->flows);
	if (!fs->ft) {
		snprintf(err, errlen, "worker %u: flow table parameters refused", p->worker);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	fs->hdr.layout = e->layout;
	fs->hdr.header_size = FLOW_STORE_HEADER_SIZE;
	fs->hdr.file_size = size;
	fs->hdr.table_size = tsz;
	fs->hdr.capacity = flow_table_capacity(fs->ft);
	fs->hdr.worker = p->worker;
	fs->hdr.n_workers = p->n_workers;
	fs->hdr.secret = p->flows->secret;
	/* Time 0 a little in the past, so no timer in the table starts at 0. */
	fs->hdr.clock_base_ms = e->now_ms - 1;
	memcpy(fs->hdr.boot_id, e->boot_id, sizeof(fs->hdr.boot_id));
	fs->hdr.created_ms = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
	fs->hdr.pid = (uint32_t)getpid();
	fs->hdr.magic = FLOW_STORE_MAGIC;
	fs->hdr.checksum = flow_store_checksum(&fs->hdr);
	/* Checksum last: a process killed before this leaves a file that fails it. */
	memcpy(m, &fs->hdr, sizeof(fs->hdr));
	return 0;
}

static const char *flow_store_kind(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link (not followed)";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device node";
	if (S_ISDIR(m))
		return "a directory";
	return "not a regular file";
}

enum flow_store_entry {
	FLOW_STORE_TRUSTED,   /* fs->fd: a regular file of ours, locked */
	FLOW_STORE_NEW,       /* nothing there (now): create with O_EXCL */
	FLOW_STORE_STUCK,     /* something there that cannot be removed: private memory */
	FLOW_STORE_LOCKED,    /* ours, and locked by a live keel-dataplane */
};

/*
 * What is at leaf in dfd, opened without following a link: a regular file
 * owned by this effective uid, one link, no access for group or others is
 * trusted (it may hold the hash key, and its buckets decide where flows go);
 * anything else is removed -- a link itself, not its target -- and why
 * says what it was. Nothing but a regular file is ever opened: a FIFO or a
 * device could block or act on open.
 */
static enum flow_store_entry flow_store_entry(struct flow_store *fs, int dfd, const char *leaf, char *why,
					      size_t whylen)
{
	struct stat st;
	int fd, n;

	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT) {
			snprintf(why, whylen, "no table from an earlier start");
			return FLOW_STORE_NEW;
		}
		snprintf(why, whylen, "cannot look at it: %s", strerror(errno));
		return FLOW_STORE_STUCK;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "a directory is in its place");
		return FLOW_STORE_STUCK;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s was in its place", flow_store_kind(st.st_mode));
		goto replace;
	}
	fd = openat(dfd, leaf, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open it: %s", strerror(errno));
		goto replace;
	}
	/* Judged by what was opened, not by the name looked at before: it may have been swapped in between. */
	if (fstat(fd, &st)) {
		snprintf(why, whylen, "cannot stat it: %s", strerror(errno));
		goto replace_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s was in its place", flow_store_kind(st.st_mode));
		goto replace_fd;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, whylen, "owned by uid %u, not this process's %u", (unsigned int)st.st_uid,
			 (unsigned int)geteuid());
		goto replace_fd;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen, "mode %04o: open to group or others", (unsigned int)(st.st_mode & 07777));
		goto replace_fd;
	}
	if (st.st_nlink != 1) {
		snprintf(why, whylen, "%lu hard links to it", (unsigned long)st.st_nlink);
		goto replace_fd;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return FLOW_STORE_LOCKED;
	}
	fs->fd = fd;
	return FLOW_STORE_TRUSTED;

replace_fd:
	close(fd);
replace:
	/* Replaced, never rewritten: whoever made it keeps nothing the dataplane uses (as region_create does). */
	if (unlinkat(dfd, leaf, 0) && errno != ENOENT) {
		n = (int)strlen(why);
		snprintf(why + n, whylen - (size_t)n, "; cannot remove it: %s", strerror(errno));
		return FLOW_STORE_STUCK;
	}
	n = (int)strlen(why);
	snprintf(why + n, whylen - (size_t)n, "; removed and replaced by a new file");
	return FLOW_STORE_NEW;
}

/* Create leaf in dfd, exclusively: an entry that reappeared since it was removed is not used. */
static int flow_store_create_file(struct flow_store *fs, int dfd, const char *leaf, char *why, size_t whylen)
{
	int n, fd = openat(dfd, leaf, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		n = (int)strlen(why);
		snprintf(why + n, whylen - (size_t)n, "; cannot create it: %s", strerror(errno));
		return -1;
	}
	/* Nobody else can open it (0600), but the lock is what says "a keel-dataplane runs" to the next start. */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = (int)strlen(why);
		snprintf(why + n, whylen - (size_t)n, "; cannot lock it: %s", strerror(errno));
		close(fd);
		return -1;
	}
	fs->fd = fd;
	return 0;
}

int flow_store_open(struct flow_store *fs, const struct flow_store_params *p, char *err, size_t errlen)
{
	struct flow_store_expect e = { 0 };
	char why[sizeof(fs->note)] = "", dir[sizeof(fs->path)];
	enum flow_store_entry what;
	const char *leaf;
	char *slash;
	int dfd;

	memset(fs, 0, sizeof(*fs));
	fs->fd = -1;
	fs->h = &fs->hdr;
	if (flow_store_path(p->name, p->worker, fs->path, sizeof(fs->path))) {
		snprintf(err, errlen, "bad instance name '%s'", p->name);
		return -1;
	}
	/* The directory is configuration (the region's); only the last part, in a directory others may write, is opened relative to it. */
	memcpy(dir, fs->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (!slash) {
		snprintf(err, errlen, "bad flow-table path %s", fs->path);
		return -1;
	}
	*slash = '\0';
	leaf = fs->path + (slash - dir) + 1;
	dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	e.layout = flow_store_layout();
	e.capacity = flow_table_round_capacity(p->flows->capacity);
	e.worker = p->worker;
	e.n_workers = p->n_workers;
	e.now_ms = flow_store_mono_ms();
	flow_store_boot_id(e.boot_id);

	what = flow_store_entry(fs, dfd, leaf, why, sizeof(why));
	if (what == FLOW_STORE_LOCKED) {
		snprintf(err, errlen, "%s is locked: another keel-dataplane %s runs", fs->path, p->name);
		close(dfd);
		return -1;
	}
	if (what == FLOW_STORE_NEW && flow_store_create_file(fs, dfd, leaf, why, sizeof(why)))
		what = FLOW_STORE_STUCK;
	close(dfd);
	if (what == FLOW_STORE_TRUSTED) {
		if (!p->adopt) {
			snprintf(why, sizeof(why), "adoption disabled (--no-adopt)");
		} else if (flow_store_try_adopt(fs, p, &e) == 0) {
			struct flow_table_stats fst;

			fs->adopted = true;
			fs->kept = true;
			flow_table_get_stats(fs->ft, &fst);
			fs->adopted_flows = fst.occupancy;
			fs->note[0] = '\0';
			return 0;
		} else {
			memcpy(why, fs->note, sizeof(why) - 1);
		}
	} else if (what == FLOW_STORE_STUCK) {
		int n = (int)strlen(why);

		snprintf(why + n, sizeof(why) - (size_t)n, "; this start's table is in private memory, not kept");
	}
	fs->kept = fs->fd >= 0;
	if (flow_store_create(fs, p, &e, err, errlen)) {
		flow_store_close(fs);
		return -1;
	}
	snprintf(fs->note, sizeof(fs->note), "%s", why);
	return 0;
}

void flow_store_close(struct flow_store *fs)
{
	if (fs->map)
		munmap(fs->map, fs->map_size);
	if (fs->fd >= 0)
		close(fs->fd); /* drops the lock */
	fs->map = NULL;
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
