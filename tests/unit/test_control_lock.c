/* Unit tests of keel-control's locks (issue 21 item 6): one holder at a time, the refusal names the holder's pid, the lock ends with the process. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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

#include "control_lock.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/keel-lock-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A child holds the lock: the parent is refused with the child's pid; once it is killed, the parent gets it. */
static void test_held_then_released(void **state)
{
	char path[128], why[512], want[64];
	int p[2], fd;
	pid_t child;
	char c;

	(void)state;
	snprintf(path, sizeof(path), "%s/control.lock", dir);
	assert_int_equal(pipe(p), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		fd = control_lock_take(path, "instance web1", why, sizeof(why));
		if (write(p[1], fd >= 0 ? "1" : "0", 1) != 1)
			_exit(1);
		pause(); /* held until killed, as keel-control holds it until it ends */
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, '1');
	fd = control_lock_take(path, "instance web1", why, sizeof(why));
	assert_int_equal(fd, -EBUSY);
	snprintf(want, sizeof(want), "another keel-control (pid %d) already drives instance web1",
		 (int)child);
	if (!strstr(why, want))
		fail_msg("refusal \"%s\" does not name pid %d", why, (int)child);
	/* kill -9: no clean exit, yet the kernel releases the lock. */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	fd = control_lock_take(path, "instance web1", why, sizeof(why));
	assert_true(fd >= 0);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* The instance's lock sits beside its region, hidden from globs of keel-*; a bad name is refused. */
static void test_instance_path(void **state)
{
	char path[128], why[512];
	struct stat st;
	int fd;

	(void)state;
	setenv("KEEL_REGION_DIR", dir, 1);
	fd = control_lock_instance("web1", why, sizeof(why));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/.keel-web1.control.lock", dir);
	assert_int_equal(stat(path, &st), 0);
	close(fd);
	assert_true(control_lock_instance("../etc", why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "instance"));
}

/* The state directory's lock makes the directory first (as the state would be). */
static void test_state_dir_made(void **state)
{
	char sub[128], path[160], why[512];
	struct stat st;
	int fd;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	fd = control_lock_state(sub, why, sizeof(why));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/control.lock", sub);
	assert_int_equal(stat(path, &st), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_held_then_released, setup, teardown),
		cmocka_unit_test_setup_teardown(test_instance_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_made, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
