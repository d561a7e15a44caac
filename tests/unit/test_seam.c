/* The seam's publishing rules against workers simulated by threads: no slot is written while a worker runs on it or may still dequeue its activation. */
#include <errno.h>
#include <pthread.h>
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
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "../../dataplane/region.h" /* the dataplane side: creates the region */
#include "seam.h"
#include "snapfix.h"

#define N_WORKERS 2
#define N_SLOTS 3

struct fake_worker {
	struct keel_region *r;
	uint32_t id;
	int stalled; /* atomics: the test thread sets, the worker reads */
	int stop;
	pthread_t thread;
	uint64_t torn; /* a snapshot that changed while the worker was using it */
};

/* What a keel-dataplane worker does between bursts (the seam's own consumer), plus a re-check that its snapshot stays put. */
static void *worker_loop(void *arg)
{
	struct fake_worker *fw = arg;
	struct keel_worker_status *st = keel_region_status(fw->r, fw->id);
	const struct keel_snapshot *snap = NULL, *before;
	struct keel_seam_consumer cons = { .checking = false };
	struct keel_cmd cmd;
	uint32_t using = UINT32_MAX, sum = 0, type;

	while (!__atomic_load_n(&fw->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&fw->stalled, __ATOMIC_ACQUIRE)) {
			usleep(500);
			continue;
		}
		before = snap;
		while ((type = keel_seam_worker_poll(fw->r, fw->id, &cons, &snap, &cmd)) != 0) {
			if (type == KEEL_CMD_ACTIVATE && snap != before) {
				using = cmd.slot;
				sum = snap->checksum;
				before = snap;
			}
		}
		keel_status_beat(st, st->heartbeat_ms + 1, 1, 0);
		/* Nobody may rewrite the slot a worker forwards with. */
		if (using != UINT32_MAX && keel_region_slot(fw->r, using)->checksum != sum)
			fw->torn++;
		usleep(200);
	}
	return NULL;
}

static struct keel_region *region;
static struct fake_worker workers[N_WORKERS];
static char dir[64];
static char name[32];

static int setup(void **state)
{
	struct region_params p = { .n_workers = N_WORKERS, .n_slots = N_SLOTS,
				   .slot_size = 1 << 20, .n_ports = 1, .flow_capacity = 1024 };
	char err[256];
	uint32_t w;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/keel-test-seam.%d", (int)getpid());
	assert_int_equal(mkdir(dir, 0700), 0);
	setenv("KEEL_REGION_DIR", dir, 1);
	snprintf(name, sizeof(name), "seam%d", (int)getpid());
	p.name = name;
	region = region_create(&p, err, sizeof(err));
	if (!region)
		fail_msg("region_create: %s", err);
	region->pid = (uint32_t)getpid();
	region_set_state(region, KEEL_REGION_RUNNING);
	for (w = 0; w < N_WORKERS; w++) {
		workers[w] = (struct fake_worker){ .r = region, .id = w };
		assert_int_equal(pthread_create(&workers[w].thread, NULL, worker_loop, &workers[w]), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	char path[256];
	uint32_t w;

	(void)state;
	for (w = 0; w < N_WORKERS; w++) {
		__atomic_store_n(&workers[w].stop, 1, __ATOMIC_RELEASE);
		pthread_join(workers[w].thread, NULL);
	}
	keel_region_path(name, path, sizeof(path));
	region_close(region, 1);
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct keel_snapshot_spec *spec_gen(uint64_t gen)
{
	static struct keel_backend_spec be[2];
	static struct keel_vip_spec v;
	static struct keel_snapshot_spec spec;

	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, (uint32_t)(1 + gen % 3), KEEL_BACKEND_ACTIVE);
	v = snapfix_vip("192.0.2.1", 80, 6, 0, 0, 0, 251, be, 2);
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 1;
	spec.vips = &v;
	snapfix_spec_defaults(&spec);
	spec.generation = gen;
	return &spec;
}

static uint32_t slot_of(uint32_t w)
{
	return __atomic_load_n(&keel_region_status(region, w)->active_slot, __ATOMIC_ACQUIRE);
}

static uint64_t gen_of(uint32_t w)
{
	return __atomic_load_n(&keel_region_status(region, w)->active_generation, __ATOMIC_ACQUIRE);
}

static void test_publish_rules(void **state)
{
	struct keel_seam *s = keel_seam_open(name, NULL);
	const char *why = "";
	uint32_t a, b, c, g;

	(void)state;
	assert_non_null(s);
	assert_true(keel_seam_alive(s));

	/* Live workers: every publish is acknowledged, never into the slot in use. */
	for (g = 1; g <= 20; g++) {
		uint32_t before = g > 1 ? slot_of(0) : UINT32_MAX;

		assert_int_equal(keel_seam_publish(s, spec_gen(g), 2000, &why), 0);
		assert_int_equal(gen_of(0), g);
		assert_int_equal(gen_of(1), g);
		assert_int_not_equal(slot_of(0), before);
		{
			/* What keel-control's views read while the workers run. */
			struct keel_worker_status st;
			const struct keel_snapshot *snap;

			keel_seam_read_status(s, 1, &st);
			assert_true(st.active_generation >= g);
			assert_int_equal(st.refused, 0);
			snap = keel_seam_read_active(s);
			assert_non_null(snap);
			assert_true(snap->generation >= g);
			keel_seam_read_done(s);
		}
	}
	/* An older or equal generation is refused. */
	assert_int_equal(keel_seam_publish(s, spec_gen(20), 100, &why), -EINVAL);

	/* Worker 1 hangs: the activation times out; its slot and the posted one stay reserved. */
	b = slot_of(1);
	__atomic_store_n(&workers[1].stalled, 1, __ATOMIC_RELEASE);
	usleep(5000);
	assert_int_equal(keel_seam_publish(s, spec_gen(21), 100, &why), -ETIMEDOUT);
	a = slot_of(0);
	assert_int_not_equal(a, b);
	assert_int_equal(gen_of(1), 20);
	/* Again: a third slot; the one posted at 21 is not reused though worker 0 left it. */
	assert_int_equal(keel_seam_publish(s, spec_gen(22), 100, &why), -ETIMEDOUT);
	c = slot_of(0);
	assert_int_not_equal(c, a);
	assert_int_not_equal(c, b);
	/* Every slot is either run by worker 1 or queued for it: nothing may be written. */
	assert_int_equal(keel_seam_publish(s, spec_gen(23), 100, &why), -EBUSY);

	/* Worker 1 resumes: it takes 21 then 22 from its ring, intact. */
	__atomic_store_n(&workers[1].stalled, 0, __ATOMIC_RELEASE);
	for (g = 0; g < 200 && gen_of(1) != 22; g++)
		usleep(5000);
	assert_int_equal(gen_of(1), 22);
	assert_int_equal(__atomic_load_n(&keel_region_status(region, 1)->refused, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(keel_seam_publish(s, spec_gen(23), 2000, &why), 0);

	/* A publisher that reopens the region waits for rings it did not fill to drain. */
	__atomic_store_n(&workers[1].stalled, 1, __ATOMIC_RELEASE);
	usleep(5000);
	assert_int_equal(keel_seam_publish(s, spec_gen(24), 100, &why), -ETIMEDOUT);
	keel_seam_close(s);
	s = keel_seam_open(name, NULL);
	assert_non_null(s);
	assert_int_equal(keel_seam_publish(s, spec_gen(25), 100, &why), -EBUSY);
	__atomic_store_n(&workers[1].stalled, 0, __ATOMIC_RELEASE);
	for (g = 0; g < 200 && gen_of(1) != 24; g++)
		usleep(5000);
	assert_int_equal(keel_seam_publish(s, spec_gen(25), 2000, &why), 0);

	for (g = 0; g < N_WORKERS; g++) {
		assert_int_equal(workers[g].torn, 0);
		assert_int_equal(__atomic_load_n(&keel_region_status(region, g)->refused, __ATOMIC_ACQUIRE), 0);
	}
	keel_seam_close(s);
}

/* The summaries keel-control reads instead of the raw region. */
static void test_summaries(void **state)
{
	struct keel_seam *s = keel_seam_attach(name, NULL);
	struct keel_seam_workers sum;
	struct keel_seam_port port;
	const char *why = "";
	uint64_t g;

	(void)state;
	assert_non_null(s);
	assert_true(keel_seam_current(s, name));
	g = gen_of(0) + 1;
	assert_int_equal(keel_seam_publish(s, spec_gen(g), 2000, &why), 0);
	assert_int_equal(keel_seam_workers(s, 1000, &sum), 0);
	assert_int_equal(sum.n, N_WORKERS);
	assert_int_equal(sum.n_slots, N_SLOTS);
	assert_int_equal(sum.min_generation, g);
	assert_int_equal(sum.max_generation, g);
	assert_int_equal(sum.epoch, region->epoch);
	assert_int_equal(sum.pid, (uint32_t)getpid());
	assert_int_equal(sum.stalled, 0);
	assert_string_equal(sum.name, name);
	assert_int_equal(keel_seam_ports(s, &port, 1), 1);

	/*
	 * A worker whose heartbeat stops is named by its bit, the others are not.
	 * Bounded waits, not fixed sleeps: a loaded machine may not run a
	 * simulated worker for tens of milliseconds.
	 */
	__atomic_store_n(&workers[1].stalled, 1, __ATOMIC_RELEASE);
	for (g = 0; g < 400; g++) {
		usleep(5000);
		keel_seam_workers(s, 50, &sum);
		if (sum.stalled == 1u << 1)
			break;
	}
	assert_int_equal(sum.stalled, 1u << 1);
	assert_true(sum.still_ms[1] >= 50);
	__atomic_store_n(&workers[1].stalled, 0, __ATOMIC_RELEASE);
	for (g = 0; g < 400; g++) {
		usleep(5000);
		keel_seam_workers(s, 50, &sum);
		if (!sum.stalled)
			break;
	}
	assert_int_equal(sum.stalled, 0);
	keel_seam_close(s);
}

/* Digests read while a publisher storms: each one must be of a whole table (issue 18, item 3). */
struct storm {
	struct keel_seam *s;
	uint64_t expected[3]; /* digest of the table of generation g, by g % 3 (spec_gen) */
	int done;             /* atomic: the publisher finished */
	uint64_t reads, wrong;
};

static void check_digest(void *arg, uint16_t vip_id, uint64_t digest, uint64_t generation)
{
	struct storm *st = arg;

	(void)vip_id;
	st->reads++;
	if (digest != st->expected[generation % 3])
		st->wrong++;
}

/* With a memo, as keel-control reads them: a memo filled from a slot being rewritten would show here. */
static void *digest_reader(void *arg)
{
	struct keel_seam_digest_memo *memo = calloc(1, sizeof(*memo));
	struct storm *st = arg;

	while (memo && !__atomic_load_n(&st->done, __ATOMIC_ACQUIRE))
		keel_seam_digests(st->s, memo, check_digest, st);
	free(memo);
	return NULL;
}

static void keep_digest(void *arg, uint16_t vip_id, uint64_t digest, uint64_t generation)
{
	struct storm *st = arg;

	(void)vip_id;
	st->expected[generation % 3] = digest;
}

static void test_digest_during_publish_storm(void **state)
{
	struct storm st = { 0 };
	const char *why = "";
	pthread_t reader;
	uint64_t g, first;
	uint32_t w;

	(void)state;
	st.s = keel_seam_open(name, NULL);
	assert_non_null(st.s);
	first = gen_of(0) + 1;
	for (g = first; g < first + 3; g++) {
		assert_int_equal(keel_seam_publish(st.s, spec_gen(g), 2000, &why), 0);
		assert_int_equal(keel_seam_digests(st.s, NULL, keep_digest, &st), 0);
	}
	assert_int_not_equal(st.expected[0], st.expected[1]);
	assert_int_not_equal(st.expected[1], st.expected[2]);
	assert_int_equal(pthread_create(&reader, NULL, digest_reader, &st), 0);
	for (g = first + 3; g < first + 303; g++)
		if (keel_seam_publish(st.s, spec_gen(g), 2000, &why))
			fail_msg("publish %u: %s", (unsigned)g, why);
	__atomic_store_n(&st.done, 1, __ATOMIC_RELEASE);
	pthread_join(reader, NULL);
	assert_true(st.reads > 0);
	assert_int_equal(st.wrong, 0);
	for (w = 0; w < N_WORKERS; w++)
		assert_int_equal(workers[w].torn, 0);
	keel_seam_close(st.s);
}

/* Open must fail with EPROTO and a reason naming the field; the header is restored after. */
/*
 * Three VIPs whose tables change in three ways from one generation to the
 * next: v0's by a weight (its ids move), v1's not at all, v2's by one
 * backend's address alone (its table is given, the same ids every time: the
 * digest, keyed by address, changes while the raw ids do not).
 */
static struct keel_snapshot_spec *spec_memo(uint64_t gen)
{
	static struct keel_backend_spec be[6];
	static struct keel_vip_spec v[3];
	static struct keel_snapshot_spec spec;
	static uint16_t t2[251];
	uint32_t i;

	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, (uint32_t)(1 + gen % 3), KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.1.1", 2, 1, KEEL_BACKEND_ACTIVE);
	be[3] = snapfix_backend("10.0.1.2", 3, 2, KEEL_BACKEND_ACTIVE);
	be[4] = snapfix_backend("10.0.2.1", 4, 1, KEEL_BACKEND_ACTIVE);
	be[5] = snapfix_backend(gen % 2 ? "10.0.2.2" : "10.0.2.3", 5, 1, KEEL_BACKEND_ACTIVE);
	for (i = 0; i < 251; i++)
		t2[i] = (uint16_t)(4 + i % 2);
	v[0] = snapfix_vip("192.0.2.1", 80, 6, 0, 0, 0, 251, &be[0], 2);
	v[1] = snapfix_vip("192.0.2.2", 80, 6, 0, 0, 1, 251, &be[2], 2);
	v[2] = snapfix_vip("192.0.2.3", 80, 6, 0, 0, 2, 251, &be[4], 2);
	v[2].table = t2;
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 3;
	spec.vips = v;
	snapfix_spec_defaults(&spec);
	spec.generation = gen;
	return &spec;
}

static void keep_by_vip(void *arg, uint16_t vip_id, uint64_t digest, uint64_t generation)
{
	uint64_t *d = arg;

	(void)generation;
	if (vip_id < 3)
		d[vip_id] = digest;
}

/* Digests taken from the memo are the ones hashing every table gives; only changed tables are hashed. */
static void test_digest_memo(void **state)
{
	struct keel_seam_digest_memo *memo = calloc(1, sizeof(*memo));
	struct keel_seam *s = keel_seam_open(name, NULL);
	uint64_t plain[3], memod[3], last[3] = { 0 }, g, first;
	const char *why = "";

	(void)state;
	assert_non_null(memo);
	assert_non_null(s);
	first = gen_of(0) + 1;
	for (g = first; g < first + 4; g++) {
		assert_int_equal(keel_seam_publish(s, spec_memo(g), 2000, &why), 0);
		assert_int_equal(keel_seam_digests(s, memo, keep_by_vip, memod), 0);
		assert_int_equal(keel_seam_digests(s, NULL, keep_by_vip, plain), 0);
		assert_memory_equal(memod, plain, sizeof(plain));
		if (g == first) {
			assert_int_equal(memo->hashed, 3);
		} else {
			/* v0 and v2 changed (their digests say so), v1 did not. */
			assert_int_not_equal(plain[0], last[0]);
			assert_int_equal(plain[1], last[1]);
			assert_int_not_equal(plain[2], last[2]);
			assert_int_equal(memo->hashed, 2);
			assert_int_equal(memo->reused, 1);
		}
		memcpy(last, plain, sizeof(last));
	}
	/* Nothing published since: every digest from the memo. */
	assert_int_equal(keel_seam_digests(s, memo, keep_by_vip, memod), 0);
	assert_int_equal(memo->reused, 3);
	assert_memory_equal(memod, plain, sizeof(plain));
	keel_seam_close(s);
	free(memo);
}

static void expect_refused(uint32_t *field, uint32_t value, const char *reason)
{
	uint32_t saved = *field;
	const char *why = "";
	struct keel_seam *s;

	*field = value;
	errno = 0;
	s = keel_seam_open(name, &why);
	*field = saved;
	if (s) {
		keel_seam_close(s);
		fail_msg("a region with another %s was opened", reason);
	}
	assert_int_equal(errno, EPROTO);
	if (!strstr(why, reason))
		fail_msg("refused for \"%s\", expected a reason naming \"%s\"", why, reason);
}

/*
 * A keel-control built with another drop-reason list, other limits or
 * another layout must refuse a dataplane's region instead of misreading its
 * counters (issue 14, item 9).
 */
static void test_region_abi_checked(void **state)
{
	const char *why = "";
	struct keel_seam *s;

	(void)state;
	s = keel_seam_open(name, &why);
	if (!s)
		fail_msg("the region as created is refused: %s", why);
	keel_seam_close(s);

	expect_refused(&region->n_drop_reasons, region->n_drop_reasons + 1, "drop reasons");
	expect_refused(&region->n_drop_reasons, region->n_drop_reasons - 1, "drop reasons");
	expect_refused(&region->counters_size, region->counters_size + 64, "counter block size");
	expect_refused(&region->status_size, region->status_size + 64, "status size");
	expect_refused(&region->max_vips, region->max_vips * 2, "VIP or backend limit");
	expect_refused(&region->max_backends, region->max_backends / 2, "VIP or backend limit");
	expect_refused(&region->cmd_size, region->cmd_size + 8, "command ring");
	expect_refused(&region->snapshot_abi, KEEL_SNAPSHOT_ABI - 1, "snapshot ABI");
	expect_refused(&region->backend_size, region->backend_size - 96, "snapshot ABI");
	expect_refused(&region->abi, KEEL_REGION_ABI - 1, "ABI version");
	expect_refused(&region->header_size, region->header_size - 64, "header size");
	{
		/* Counters that would run into the snapshot slots. */
		uint64_t saved = region->counters_off;

		region->counters_off = region->slots_off - region->counters_size;
		s = keel_seam_open(name, &why);
		region->counters_off = saved;
		assert_null(s);
		assert_non_null(strstr(why, "section"));
	}
	/* Restored: opens again. */
	s = keel_seam_open(name, &why);
	assert_non_null(s);
	keel_seam_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_abi_checked),
		cmocka_unit_test(test_publish_rules),
		cmocka_unit_test(test_summaries),
		cmocka_unit_test(test_digest_during_publish_storm),
		cmocka_unit_test(test_digest_memo),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
