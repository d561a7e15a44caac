/* Unit tests of keel-control's persisted state: the generation's limit, temporary files left by a kill, what is at the path. */
#define _GNU_SOURCE /* prctl names */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ids.h"
#include "state.h"

static const char yaml[] = "instance: e1\n"
			   "next_hop: {gateway: 192.0.2.254}\n"
			   "encap_source: {ipv4: 172.16.0.0/16}\n"
			   "vips:\n"
			   "  - {name: web, address: 192.0.2.10, port: 80, protocol: tcp,"
			   " backends: [{address: 10.0.0.1}]}\n";

struct fx {
	char dir[64];
	struct keel_config *cfg;
	struct ids *ids;
};

static int setup(void **state)
{
	struct config_error err = { 0 };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/keel-test-state.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_load_buffer(yaml, strlen(yaml), "t.yaml", &f->cfg, &err), 0);
	f->ids = ids_new();
	assert_non_null(f->ids);
	assert_int_equal(ids_sync(f->ids, f->cfg, 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", f->dir);
	config_free(f->cfg);
	ids_free(f->ids);
	free(f);
	return 0;
}

static uint64_t load_gen(struct fx *f, int want_rc, char *why, size_t whylen)
{
	struct keel_config *cfg = NULL;
	struct ids *ids = NULL;
	uint64_t gen = 12345;

	assert_int_equal(state_load(f->dir, &gen, &cfg, &ids, why, whylen), want_rc);
	config_free(cfg);
	ids_free(ids);
	return gen;
}

/*
 * The generation is a JSON integer (signed 64-bit): the largest is kept and
 * loads back; one more is refused with a clear reason and leaves the file as
 * it was (before: a negative generation was persisted, and the next start
 * refused its own state file).
 */
static void test_generation_limit(void **state)
{
	struct fx *f = *state;
	char why[256] = "";

	assert_int_equal(state_save(f->dir, STATE_GENERATION_MAX, f->cfg, f->ids, why, sizeof(why)), 0);
	assert_true(load_gen(f, 0, why, sizeof(why)) == STATE_GENERATION_MAX);
	assert_int_equal(state_save(f->dir, STATE_GENERATION_MAX + 1, f->cfg, f->ids, why, sizeof(why)),
			 -EOVERFLOW);
	assert_non_null(strstr(why, "generation counter is exhausted"));
	assert_true(load_gen(f, 0, why, sizeof(why)) == STATE_GENERATION_MAX);
	assert_int_equal(state_save(f->dir, UINT64_MAX, f->cfg, f->ids, why, sizeof(why)), -EOVERFLOW);
	assert_true(load_gen(f, 0, why, sizeof(why)) == STATE_GENERATION_MAX);
}

static void touch(const char *dir, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"vers", 6), 6);
	close(fd);
}

static bool exists(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/*
 * A persist cut by kill -9 leaves .state.json.<pid>: a start removes every one
 * whose pid is not a live keel-control (dead, reused by another program, or
 * our own), and keeps a live keel-control's and files of other names.
 */
static void test_stale_temp_files(void **state)
{
	struct fx *f = *state;
	char why[256] = "", dead[64], mine[64], live[64];
	int go[2], ready[2];
	pid_t child, gone;
	char c = 0;

	assert_int_equal(state_save(f->dir, 7, f->cfg, f->ids, why, sizeof(why)), 0);
	/* A pid that is certainly dead: a child that has exited and been reaped. */
	gone = fork();
	assert_true(gone >= 0);
	if (!gone)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	/* A live keel-control: a child renamed so (its /proc/PID/comm says keel-control). */
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		/* Only the parent holds go's write end: if it dies, read() sees EOF and we exit. */
		close(go[1]);
		close(ready[0]);
		prctl(PR_SET_NAME, "keel-control");
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	snprintf(dead, sizeof(dead), ".state.json.%d", (int)gone);
	snprintf(mine, sizeof(mine), ".state.json.%d", (int)getpid());
	snprintf(live, sizeof(live), ".state.json.%d", (int)child);
	touch(f->dir, dead);
	touch(f->dir, mine);
	touch(f->dir, live);
	touch(f->dir, ".state.json.1"); /* pid 1 lives, but it is not keel-control */
	touch(f->dir, ".state.json.x1");
	touch(f->dir, "notes");

	assert_true(load_gen(f, 0, why, sizeof(why)) == 7);
	assert_false(exists(f->dir, dead));
	assert_false(exists(f->dir, mine));
	assert_false(exists(f->dir, ".state.json.1"));
	assert_true(exists(f->dir, live));
	assert_true(exists(f->dir, ".state.json.x1"));
	assert_true(exists(f->dir, "notes"));
	assert_true(exists(f->dir, "state.json"));

	/* Once that keel-control is gone, its file is stale too. */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(state_clear_stale(f->dir), 1);
	assert_false(exists(f->dir, live));
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

/* Something else than a file at the path is named for what it is, not called a JSON error. */
/* Fleet mode: "applied revision R" persisted beside the state; none (or garbage) loads as 0. */
static void test_fleet_revision(void **state)
{
	struct fx *f = *state;
	char why[256], path[128];
	FILE *out;

	assert_int_equal(state_load_revision(f->dir), 0);
	assert_int_equal(state_save_revision(f->dir, 42, why, sizeof(why)), 0);
	assert_int_equal(state_load_revision(f->dir), 42);
	assert_int_equal(state_save_revision(f->dir, 9000000000LL, why, sizeof(why)), 0);
	assert_true(state_load_revision(f->dir) == 9000000000LL);
	snprintf(path, sizeof(path), "%s/fleet_revision", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fputs("applied revision -3\n", out);
	fclose(out);
	assert_int_equal(state_load_revision(f->dir), 0);
	assert_int_equal(state_save_revision("/proc/keel-no-such-dir", 1, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "fleet_revision"));
}

static void test_state_not_a_file(void **state)
{
	struct fx *f = *state;
	char why[256] = "", path[128];

	snprintf(path, sizeof(path), "%s/state.json", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	load_gen(f, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "is a directory, not a state file"));
	assert_null(strstr(why, "JSON"));
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0640), 0);
	load_gen(f, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "is not a regular file"));
	assert_int_equal(unlink(path), 0);
	/* Nothing there at all is a first start, not an error. */
	load_gen(f, -ENOENT, why, sizeof(why));
}

/* The host drain in state.json: saved with the rest, read back; an older state reads undrained. */
static void test_host_drained(void **state)
{
	struct fx *f = *state;
	struct keel_config *cfg = NULL;
	struct ids *ids = NULL;
	char why[256] = "", path[128];
	bool drained = true;
	uint64_t gen;
	FILE *out;

	assert_int_equal(state_save_host(f->dir, 3, f->cfg, f->ids, true, why, sizeof(why)), 0);
	assert_int_equal(state_load_host(f->dir, &gen, &cfg, &ids, &drained, why, sizeof(why)), 0);
	assert_true(drained);
	assert_int_equal(gen, 3);
	assert_true(config_equal(cfg, f->cfg));
	config_free(cfg);
	ids_free(ids);
	/* Saved undrained (state_save: a state of an older version): no key, read as false. */
	assert_int_equal(state_save(f->dir, 4, f->cfg, f->ids, why, sizeof(why)), 0);
	assert_int_equal(state_load_host(f->dir, &gen, &cfg, &ids, &drained, why, sizeof(why)), 0);
	assert_false(drained);
	config_free(cfg);
	ids_free(ids);
	/* Not a boolean: refused with a reason, not read as either. */
	snprintf(path, sizeof(path), "%s/state.json", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fputs("{\"version\":1,\"generation\":1,\"host_drained\":\"yes\",\"config\":{},\"ids\":{}}", out);
	fclose(out);
	assert_int_equal(state_load_host(f->dir, &gen, &cfg, &ids, &drained, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "host_drained is not true or false"));
	/* The file of older versions: there, then removed; removing none is fine. */
	assert_false(state_old_drain(f->dir));
	snprintf(path, sizeof(path), "%s/bgp-drained", f->dir);
	out = fopen(path, "w");
	assert_non_null(out);
	fputs("drained\n", out);
	fclose(out);
	assert_true(state_old_drain(f->dir));
	assert_int_equal(state_old_drain_remove(f->dir, why, sizeof(why)), 0);
	assert_false(state_old_drain(f->dir));
	assert_int_equal(state_old_drain_remove(f->dir, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generation_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temp_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_not_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fleet_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_drained, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
