/* Flow-table files: a table survives close and reopen; every bad file is refused with its reason, and nothing at the path but our own regular file is followed, opened or trusted. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "flow_store.h"
#include "flow_table.h"
#include "hash.h"
#include "pkt.h"

#define NAME "ut-store"
#define FLOWS 1000u

static char dir[64];

static struct flow_table_params params(uint32_t capacity, uint64_t secret)
{
	struct flow_table_params p = {
		.capacity = capacity,
		.secret = secret,
		.timeout_ms = { 900000, 10000, 300000 },
	};
	return p;
}

static struct keel_flow_key make_key(uint32_t i)
{
	struct keel_flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[0] = 10;
	k.src[1] = (uint8_t)(i >> 16);
	k.src[2] = (uint8_t)(i >> 8);
	k.src[3] = (uint8_t)i;
	k.dst[0] = 192;
	k.dst[2] = 2;
	k.dst[3] = 1;
	k.sport = (uint16_t)(1024 + i);
	k.dport = 80;
	k.proto = KEEL_PROTO_TCP;
	k.family = KEEL_AF_INET4;
	return k;
}

static void path_of(uint32_t w, char *buf, size_t len)
{
	snprintf(buf, len, "%s/keel-%s-flows-%u", dir, NAME, w);
}

/* Open worker w of n; asserts success. */
static void store_open(struct flow_store *fs, uint32_t w, uint32_t n, uint32_t cap, uint64_t secret, bool adopt)
{
	struct flow_table_params p = params(cap, secret);
	struct flow_store_params sp = { .name = NAME, .worker = w, .n_workers = n, .flows = &p, .adopt = adopt,
					  .socket = -1 };
	char err[256] = "";

	assert_int_equal(flow_store_open(fs, &sp, err, sizeof(err)), 0);
	assert_non_null(fs->ft);
}

/* FLOWS flows, flow i on backend i % 7, inserted at the table's current time. */
static void fill(struct flow_store *fs)
{
	uint64_t now = flow_store_now_ms(fs);

	for (uint32_t i = 0; i < FLOWS; i++) {
		struct keel_flow_key k = make_key(i);
		struct flow_value v = { .backend = (uint16_t)(i % 7), .vip = 3 };
		bool created;

		assert_non_null(flow_table_insert(fs->ft, &k, keel_hash_key(&k, fs->h->secret), &v, KEEL_TCP_ACK,
						  now, &created));
		assert_true(created);
	}
}

/* How many of the FLOWS flows the table holds with the right backend. */
static uint32_t count_kept(struct flow_store *fs)
{
	uint64_t now = flow_store_now_ms(fs);
	uint32_t kept = 0;

	for (uint32_t i = 0; i < FLOWS; i++) {
		struct keel_flow_key k = make_key(i);
		const struct flow_value *v = flow_table_peek(fs->ft, &k, now);

		kept += v && v->backend == i % 7 && v->vip == 3;
	}
	return kept;
}

/* A table written, closed and left as a killed dataplane would leave it. */
static void make_table(uint32_t w, uint32_t n)
{
	struct flow_store fs;
	char p[128];

	path_of(w, p, sizeof(p));
	unlink(p);
	store_open(&fs, w, n, 4096, 0x1234, true);
	fill(&fs);
	flow_store_close(&fs);
}

/* Reopen and expect an empty table whose note names why. */
static void expect_refused(uint32_t w, uint32_t n, uint32_t cap, const char *why)
{
	struct flow_store fs;

	store_open(&fs, w, n, cap, 0x9999, true);
	if (!strstr(fs.note, why))
		fail_msg("note '%s' does not say '%s'", fs.note, why);
	assert_false(fs.adopted);
	assert_int_equal(count_kept(&fs), 0);
	assert_int_equal(fs.h->secret, 0x9999); /* a fresh table: this start's secret */
	flow_store_close(&fs);
}

static void write_at(uint32_t w, off_t off, const void *b, size_t len)
{
	char p[128];
	int fd;

	path_of(w, p, sizeof(p));
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, len, off), (ssize_t)len);
	close(fd);
}

static void read_header(uint32_t w, struct flow_store_header *h)
{
	char p[128];
	int fd;

	path_of(w, p, sizeof(p));
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(*h), 0), (ssize_t)sizeof(*h));
	close(fd);
}

static void test_adopt(void **state)
{
	struct flow_store fs;
	uint64_t before;

	(void)state;
	make_table(0, 2);
	store_open(&fs, 0, 2, 4096, 0x9999, true);
	assert_true(fs.adopted);
	assert_int_equal(fs.adopted_flows, FLOWS);
	assert_int_equal(fs.h->secret, 0x1234); /* the file's secret, not this start's: fingerprints depend on it */
	assert_int_equal(count_kept(&fs), FLOWS);
	assert_int_equal(fs.h->adoptions, 1);
	assert_string_equal(fs.note, "");
	before = flow_store_now_ms(&fs);
	flow_store_close(&fs);

	/* The clock runs on from the file's base: no flow looks newly touched or aged by the restart. */
	store_open(&fs, 0, 2, 4096, 0x9999, true);
	assert_true(fs.adopted);
	assert_true(flow_store_now_ms(&fs) >= before);
	assert_int_equal(fs.h->adoptions, 2);
	flow_store_close(&fs);
}

static void test_no_adopt(void **state)
{
	(void)state;
	make_table(0, 1);
	{
		struct flow_store fs;

		store_open(&fs, 0, 1, 4096, 0x9999, false);
		assert_false(fs.adopted);
		assert_non_null(strstr(fs.note, "--no-adopt"));
		assert_int_equal(count_kept(&fs), 0);
		flow_store_close(&fs);
	}
}

static void test_truncated(void **state)
{
	char p[128];

	(void)state;
	path_of(0, p, sizeof(p));
	make_table(0, 1);
	assert_int_equal(truncate(p, 100), 0);
	expect_refused(0, 1, 4096, "truncated");
	make_table(0, 1);
	assert_int_equal(truncate(p, 8192), 0); /* header intact, table cut */
	expect_refused(0, 1, 4096, "truncated: 8192 bytes, the header says 2097152");
	make_table(0, 1);
	assert_int_equal(truncate(p, 4 << 20), 0);
	expect_refused(0, 1, 4096, "grown: 4194304 bytes, the header says 2097152");
	/* A file there but empty is not "nothing from an earlier start": something cut it, or a start died making it. */
	make_table(0, 1);
	assert_int_equal(truncate(p, 0), 0);
	expect_refused(0, 1, 4096, "empty file (0 bytes)");
	assert_int_equal(unlink(p), 0);
	expect_refused(0, 1, 4096, "no table from an earlier start");
}

/* The header says another size than its own: a message about that, not about the file's size. */
static void test_bad_header_size(void **state)
{
	struct flow_store_header h;

	(void)state;
	make_table(0, 1);
	read_header(0, &h);
	h.header_size = 512;
	h.checksum = flow_store_checksum(&h);
	write_at(0, 0, &h, sizeof(h));
	expect_refused(0, 1, 4096, "corrupted: header size 512, expected 4096");
}

static void test_bad_magic(void **state)
{
	uint64_t m = 0x4242424242424242ull;

	(void)state;
	make_table(0, 1);
	write_at(0, offsetof(struct flow_store_header, magic), &m, sizeof(m));
	expect_refused(0, 1, 4096, "not a flow-table file");
}

static void test_bad_checksum(void **state)
{
	uint64_t s = 0x5555;

	(void)state;
	make_table(0, 1);
	write_at(0, offsetof(struct flow_store_header, secret), &s, sizeof(s));
	expect_refused(0, 1, 4096, "corrupted: header checksum");
}

static void test_other_layout(void **state)
{
	char why[128];

	(void)state;
	make_table(0, 1);
	setenv("KEEL_TEST_FLOW_LAYOUT_BUMP", "1", 1);
	expect_refused(0, 1, 4096, "layout version");
	unsetenv("KEEL_TEST_FLOW_LAYOUT_BUMP");
	/* And the table just written under the other version is refused by this one. */
	snprintf(why, sizeof(why), "layout version %#x, this binary's is %#x", FLOW_STORE_LAYOUT + 1,
		 FLOW_STORE_LAYOUT);
	expect_refused(0, 1, 4096, why);
}

static void test_other_capacity(void **state)
{
	(void)state;
	make_table(0, 1);
	expect_refused(0, 1, 8192, "capacity 4096 flows, this start wants 8192");
}

static void test_other_worker_count(void **state)
{
	(void)state;
	make_table(1, 2);
	expect_refused(1, 4, 4096, "worker 1 of 2, this is worker 1 of 4");
}

/*
 * Slots that cannot be right -- a fingerprint outside its two buckets, a
 * timeout class out of range, a backend or VIP id no snapshot can hold --
 * are dropped one by one and counted; the other flows are adopted.
 */
static void test_corrupted_slot(void **state)
{
	uint64_t junk[2] = { 0x0123456789abcdefull, 0xffffffffffffffffull };
	struct flow_store fs;
	uint32_t lines = 0;

	(void)state;
	make_table(0, 1);
	/* Slot 0 of 192 buckets: a fingerprint in the wrong bucket for most, class 3 for all. */
	for (off_t off = FLOW_STORE_HEADER_SIZE + 4096; off < FLOW_STORE_HEADER_SIZE + 16384; off += 64, lines++)
		write_at(0, off, junk, sizeof(junk));
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	assert_true(fs.adopted);
	assert_int_equal(fs.dropped, lines);
	assert_int_equal(fs.adopted_flows, count_kept(&fs));
	assert_true(count_kept(&fs) < FLOWS); /* some of the overwritten slots held flows */
	assert_true(count_kept(&fs) >= FLOWS - lines);
	flow_store_close(&fs);
}

/* Find the slot holding flow i's fingerprint in the file (test knowledge of the bucket layout: 16-byte slots). */
static off_t slot_of(uint32_t w, uint32_t i, uint64_t secret)
{
	struct keel_flow_key k = make_key(i);
	uint64_t fp = keel_hash_key(&k, secret), v;
	char p[128];
	struct stat st;
	off_t off;
	int fd;

	fp = fp ? fp : 1;
	path_of(w, p, sizeof(p));
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	for (off = FLOW_STORE_HEADER_SIZE; off < st.st_size; off += 16) {
		assert_int_equal(pread(fd, &v, sizeof(v), off), (ssize_t)sizeof(v));
		if (v == fp)
			break;
	}
	close(fd);
	assert_true(off < st.st_size);
	return off;
}

/* A value out of any snapshot's range (backend 16384 and up, VIP 1024 and up) is not adopted. */
static void test_bad_values(void **state)
{
	struct flow_value bad_backend = { .backend = 20000, .vip = 3 }, bad_vip = { .backend = 1, .vip = 4000 };
	struct flow_store fs;

	(void)state;
	make_table(0, 1);
	write_at(0, slot_of(0, 5, 0x1234) + 8, &bad_backend, sizeof(bad_backend));
	write_at(0, slot_of(0, 6, 0x1234) + 8, &bad_vip, sizeof(bad_vip));
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	assert_true(fs.adopted);
	assert_int_equal(fs.dropped, 2);
	assert_int_equal(count_kept(&fs), FLOWS - 2);
	{
		struct keel_flow_key k5 = make_key(5), k6 = make_key(6);

		assert_null(flow_table_peek(fs.ft, &k5, flow_store_now_ms(&fs)));
		assert_null(flow_table_peek(fs.ft, &k6, flow_store_now_ms(&fs)));
	}
	flow_store_close(&fs);
}

/* A clock base later than now would make every flow look just used: the file is not trusted. */
static void test_clock_base_in_future(void **state)
{
	struct flow_store_header h;

	(void)state;
	make_table(0, 1);
	read_header(0, &h);
	h.clock_base_ms += 1000ull * 3600 * 24 * 365;
	h.checksum = flow_store_checksum(&h);
	write_at(0, 0, &h, sizeof(h));
	expect_refused(0, 1, 4096, "corrupted: clock base");
}

/*
 * The running table takes nothing but its buckets from the file: bytes
 * written into the file's header page and where the table's own state used
 * to be (the buckets pointer, at the first byte past the header) change at
 * most a flow, never where the dataplane reads, nor its hash key. Before,
 * 8 bytes there crashed keel-dataplane.
 */
static void test_state_private(void **state)
{
	static uint8_t junk[FLOW_STORE_HEADER_SIZE + 256];
	struct flow_store fs;

	(void)state;
	memset(junk, 0x41, sizeof(junk));
	make_table(0, 1);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	assert_true(fs.adopted);
	write_at(0, 0, junk, sizeof(junk));
	assert_int_equal(fs.h->secret, 0x1234);
	assert_true(fs.h->clock_base_ms != 0x4141414141414141ull);
	/* The first 4 buckets now hold junk: at most their 16 flows are lost, every lookup stays in bounds. */
	assert_true(count_kept(&fs) >= FLOWS - 16);
	for (uint32_t i = FLOWS; i < 2 * FLOWS; i++) {
		struct keel_flow_key k = make_key(i);
		struct flow_value v = { .backend = 1, .vip = 3 };

		assert_non_null(flow_table_insert(fs.ft, &k, keel_hash_key(&k, fs.h->secret), &v, KEEL_TCP_ACK,
						  flow_store_now_ms(&fs), NULL));
	}
	flow_store_close(&fs);
}

/* After a replacement: a regular file of ours, 0600, one link, and not the inode that was there. */
static void expect_replaced_by_ours(uint32_t w, ino_t old)
{
	char p[128];
	struct stat st;

	path_of(w, p, sizeof(p));
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 1);
	assert_true(st.st_ino != old);
}

static void expect_note(const struct flow_store *fs, const char *why)
{
	if (!strstr(fs->note, why))
		fail_msg("note '%s' does not say '%s'", fs->note, why);
}

/* A symbolic link is neither followed nor written through: its target stays as it was. */
static void test_symlink(void **state)
{
	char p[128], target[128], buf[64] = "";
	struct flow_store fs;
	int fd;

	(void)state;
	path_of(0, p, sizeof(p));
	snprintf(target, sizeof(target), "%s/precious", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious\n", 9), 9);
	close(fd);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "a symbolic link (not followed) was in its place; removed");
	assert_false(fs.adopted);
	assert_true(fs.kept);
	flow_store_close(&fs);
	expect_replaced_by_ours(0, 0);
	fd = open(target, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 9);
	close(fd);
	assert_string_equal(buf, "precious\n");
	unlink(target);
}

/* A dangling link does not create its target. */
static void test_dangling_symlink(void **state)
{
	char p[128], target[128];
	struct flow_store fs;

	(void)state;
	path_of(0, p, sizeof(p));
	snprintf(target, sizeof(target), "%s/created-through-link", dir);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "a symbolic link (not followed)");
	flow_store_close(&fs);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	expect_replaced_by_ours(0, 0);
}

/* Open to group or others (here: a good table made world-writable): replaced, not adopted. */
static void test_group_other_access(void **state)
{
	static const mode_t modes[] = { 0666, 0620, 0602, 0640 };
	char p[128];
	struct stat st;

	(void)state;
	path_of(0, p, sizeof(p));
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct flow_store fs;
		char why[64];

		int keep;

		make_table(0, 1);
		assert_int_equal(chmod(p, modes[i]), 0);
		keep = open(p, O_RDONLY); /* the inode stays, so the new file cannot reuse its number */
		assert_true(keep >= 0);
		assert_int_equal(fstat(keep, &st), 0);
		store_open(&fs, 0, 1, 4096, 0x9999, true);
		snprintf(why, sizeof(why), "mode %04o: open to group or others; removed", (unsigned int)modes[i]);
		expect_note(&fs, why);
		assert_false(fs.adopted);
		assert_int_equal(count_kept(&fs), 0);
		flow_store_close(&fs);
		expect_replaced_by_ours(0, st.st_ino);
		close(keep);
	}
}

/* Another user's file (a good table, as if planted in /dev/shm): replaced, never adopted. Needs root for chown. */
static void test_foreign_owner(void **state)
{
	struct flow_store_header h;
	struct flow_store fs;
	int keep;
	char p[128];
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	path_of(0, p, sizeof(p));
	make_table(0, 1);
	assert_int_equal(chown(p, 65534, 65534), 0);
	keep = open(p, O_RDONLY); /* what its owner could still write: the inode stays, apart from the new file */
	assert_true(keep >= 0);
	assert_int_equal(fstat(keep, &st), 0);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "owned by uid 65534, not this process's 0; removed");
	assert_false(fs.adopted);
	assert_int_equal(count_kept(&fs), 0);
	fill(&fs);
	flow_store_close(&fs);
	expect_replaced_by_ours(0, st.st_ino);
	/* Nothing was written into the planted file: its header still has the secret it was made with. */
	assert_int_equal(pread(keep, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	assert_int_equal(h.secret, 0x1234);
	close(keep);
}

/* A second name for the file (a hard link someone else could keep): replaced. */
static void test_hard_link(void **state)
{
	char p[128], other[128];
	struct flow_store fs;
	struct stat st;

	(void)state;
	path_of(0, p, sizeof(p));
	snprintf(other, sizeof(other), "%s/second-name", dir);
	make_table(0, 1);
	assert_int_equal(link(p, other), 0);
	assert_int_equal(stat(p, &st), 0);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "2 hard links to it; removed");
	assert_false(fs.adopted);
	flow_store_close(&fs);
	expect_replaced_by_ours(0, st.st_ino);
	unlink(other);
}

/* A FIFO is not opened (that could block) but removed: an empty start in a new file. */
static void test_fifo(void **state)
{
	struct flow_store fs;
	char p[128];

	(void)state;
	path_of(0, p, sizeof(p));
	unlink(p);
	assert_int_equal(mkfifo(p, 0600), 0);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "a FIFO was in its place; removed");
	assert_true(fs.kept);
	flow_store_close(&fs);
	expect_replaced_by_ours(0, 0);
}

/* A directory is left alone: the table runs in private memory for this start, which goes on. */
static void test_directory(void **state)
{
	struct flow_store fs;
	char p[128], inner[160];
	struct stat st;
	int fd;

	(void)state;
	path_of(0, p, sizeof(p));
	unlink(p);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/someone's", p);
	fd = open(inner, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	store_open(&fs, 0, 1, 4096, 0x9999, true);
	expect_note(&fs, "a directory is in its place; this start's table is in private memory, not kept");
	assert_false(fs.adopted);
	assert_false(fs.kept);
	fill(&fs);
	assert_int_equal(count_kept(&fs), FLOWS);
	flow_store_close(&fs);
	assert_int_equal(stat(inner, &st), 0);
	assert_int_equal(unlink(inner), 0);
	assert_int_equal(rmdir(p), 0);
}

/*
 * A file of ours that cannot be opened (mode 0: only root could): removed
 * and replaced. Run as an unprivileged user, in a directory of its own --
 * a child process as nobody when the test runs as root.
 */
static void test_unreadable(void **state)
{
	char sub[128];
	pid_t pid;
	int status;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/unpriv", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(sub, 65534, 65534), 0);
		assert_int_equal(chmod(dir, 0711), 0); /* nobody may pass through to its own directory */
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flow_table_params fp = params(4096, 1);
		struct flow_store_params sp = { .name = NAME, .worker = 0, .n_workers = 1, .flows = &fp,
						  .adopt = true, .socket = -1 };
		struct flow_store fs;
		char err[256] = "", p[192];

		setenv("KEEL_REGION_DIR", sub, 1);
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(10);
		if (flow_store_open(&fs, &sp, err, sizeof(err)))
			_exit(11);
		flow_store_close(&fs);
		snprintf(p, sizeof(p), "%s/keel-%s-flows-0", sub, NAME);
		if (chmod(p, 0))
			_exit(12);
		if (flow_store_open(&fs, &sp, err, sizeof(err)))
			_exit(13);
		if (!strstr(fs.note, "cannot open it: Permission denied; removed") || !fs.kept) {
			fprintf(stderr, "note: %s\n", fs.note);
			_exit(14);
		}
		flow_store_close(&fs);
		unlink(p);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	chmod(dir, 0700);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(sub), 0);
}

static void test_locked(void **state)
{
	struct flow_table_params p = params(4096, 1);
	struct flow_store_params sp = { .name = NAME, .worker = 0, .n_workers = 1, .flows = &p, .adopt = true,
					  .socket = -1 };
	struct flow_store a, b;
	char err[256] = "";

	(void)state;
	store_open(&a, 0, 1, 4096, 1, true);
	assert_int_equal(flow_store_open(&b, &sp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "locked"));
	flow_store_close(&a);
}

/* flow_store_check alone, on a header in memory: every rule and its message. */
static void test_check(void **state)
{
	static uint8_t buf[FLOW_STORE_HEADER_SIZE];
	struct flow_store_header *h = (struct flow_store_header *)buf;
	struct flow_store_expect e = { .layout = FLOW_STORE_LAYOUT, .capacity = 4096, .worker = 0, .n_workers = 1 };
	uint64_t size = FLOW_STORE_HEADER_SIZE + flow_table_buckets_size(4096);
	char why[256];

	(void)state;
	memset(buf, 0, sizeof(buf));
	h->magic = FLOW_STORE_MAGIC;
	h->layout = FLOW_STORE_LAYOUT;
	h->header_size = FLOW_STORE_HEADER_SIZE;
	h->file_size = size;
	h->table_size = flow_table_buckets_size(4096);
	h->capacity = 4096;
	h->n_workers = 1;
	h->checksum = flow_store_checksum(h);
	assert_int_equal(flow_store_check(buf, size, &e, why, sizeof(why)), 0);
	assert_int_equal(flow_store_check(buf, 10, &e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "truncated"));
	e.boot_id[0] = 1;
	assert_int_equal(flow_store_check(buf, size, &e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "reboot"));
	e.boot_id[0] = 0;
	h->table_size = 64; /* bounds: a table size that does not fit the capacity */
	h->checksum = flow_store_checksum(h);
	assert_int_equal(flow_store_check(buf, size, &e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "corrupted: table"));
	h->table_size = flow_table_buckets_size(4096);
	h->clock_base_ms = 5000;
	h->checksum = flow_store_checksum(h);
	e.now_ms = 5000;
	assert_int_equal(flow_store_check(buf, size, &e, why, sizeof(why)), 0);
	e.now_ms = 4999;
	assert_int_equal(flow_store_check(buf, size, &e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "corrupted: clock base 5000 ms, later than now (4999 ms)"));
}

static int setup(void **state)
{
	(void)state;
	/* One directory per test process: the tables are named files in it. */
	snprintf(dir, sizeof(dir), "/tmp/keel-ut-store-%ld", (long)getpid());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	setenv("KEEL_REGION_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	(void)state;
	for (uint32_t w = 0; w < 4; w++) {
		path_of(w, p, sizeof(p));
		unlink(p);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adopt),
		cmocka_unit_test(test_no_adopt),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_other_layout),
		cmocka_unit_test(test_other_capacity),
		cmocka_unit_test(test_other_worker_count),
		cmocka_unit_test(test_bad_header_size),
		cmocka_unit_test(test_corrupted_slot),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_clock_base_in_future),
		cmocka_unit_test(test_state_private),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_dangling_symlink),
		cmocka_unit_test(test_group_other_access),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_hard_link),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
