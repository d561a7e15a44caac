/* Flow-table files: a table survives close and reopen; every bad file is refused with its reason and replaced by an empty table. */
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
	expect_refused(0, 1, 4096, "truncated or resized");
	make_table(0, 1);
	assert_int_equal(truncate(p, 0), 0);
	expect_refused(0, 1, 4096, "no table from an earlier start");
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
	(void)state;
	make_table(0, 1);
	setenv("KEEL_TEST_FLOW_LAYOUT_BUMP", "1", 1);
	expect_refused(0, 1, 4096, "layout version");
	unsetenv("KEEL_TEST_FLOW_LAYOUT_BUMP");
	/* And the table just written under the other version is refused by this one. */
	expect_refused(0, 1, 4096, "layout version 0x10002, this binary's is 0x10001");
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

/* A slot whose fingerprint cannot be in its bucket: the header is fine, the table is not trusted. */
static void test_corrupted_slot(void **state)
{
	uint64_t junk[2] = { 0x0123456789abcdefull, 0xffffffffffffffffull };
	char p[128];
	struct stat st;

	(void)state;
	path_of(0, p, sizeof(p));
	make_table(0, 1);
	assert_int_equal(stat(p, &st), 0);
	/* Every 64-byte line past the table's own header: at least one lands in a wrong bucket. */
	for (off_t off = FLOW_STORE_HEADER_SIZE + 4096; off < FLOW_STORE_HEADER_SIZE + 16384; off += 64)
		write_at(0, off, junk, sizeof(junk));
	expect_refused(0, 1, 4096, "impossible slot");
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
	uint64_t size = FLOW_STORE_HEADER_SIZE + flow_table_mem_size(4096);
	char why[256];

	(void)state;
	memset(buf, 0, sizeof(buf));
	h->magic = FLOW_STORE_MAGIC;
	h->layout = FLOW_STORE_LAYOUT;
	h->header_size = FLOW_STORE_HEADER_SIZE;
	h->file_size = size;
	h->table_size = flow_table_mem_size(4096);
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
		cmocka_unit_test(test_corrupted_slot),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
