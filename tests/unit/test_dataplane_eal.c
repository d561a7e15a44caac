/* keel-dataplane's EAL options as keel-control reads them from /proc/PID/cmdline: file prefix, and whether dpdk-dumpcap can attach. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane_eal.h"

/* A command line as the kernel gives it: sizeof includes the literal's own final NUL. */
#define CMD(s) s, sizeof(s)

static void test_prefix_forms(void **state)
{
	struct dataplane_eal e;

	(void)state;
	assert_int_equal(dataplane_eal_parse(CMD("keel-dataplane\0-l\0000,1\0--file-prefix\0edge1\0--\0--name\0edge1"), &e), 0);
	assert_string_equal(e.file_prefix, "edge1");
	assert_true(e.capture);
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--file-prefix=edge2\0--no-pci\0--\0--name\0x"), &e), 0);
	assert_string_equal(e.file_prefix, "edge2");
	/* DPDK's default prefix. */
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--no-pci\0--\0--name\0x"), &e), 0);
	assert_string_equal(e.file_prefix, "rte");
	/* After "--" come Keel's options: not the EAL's. */
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--\0--file-prefix=nope\0--in-memory"), &e), 0);
	assert_string_equal(e.file_prefix, "rte");
	assert_true(e.capture);
}

static void test_blocking_options(void **state)
{
	struct dataplane_eal e;

	(void)state;
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--file-prefix\0t\0--huge-unlink\0--\0"), &e), 0);
	assert_false(e.capture);
	assert_non_null(strstr(e.why, "--huge-unlink"));
	assert_string_equal(e.file_prefix, "t");
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--huge-unlink=always\0--"), &e), 0);
	assert_false(e.capture);
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--huge-unlink=never\0--"), &e), 0);
	assert_true(e.capture);
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--in-memory\0--"), &e), 0);
	assert_false(e.capture);
	assert_non_null(strstr(e.why, "--in-memory"));
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--no-shconf\0--in-memory\0--"), &e), 0);
	assert_non_null(strstr(e.why, "--no-shconf")); /* the first one found */
}

static void test_refused(void **state)
{
	char longp[200] = "kd\0--file-prefix=";
	struct dataplane_eal e;
	size_t n = 3 + strlen("--file-prefix=");

	(void)state;
	/* Not keel-dataplane's command line: no "--". */
	assert_int_equal(dataplane_eal_parse(CMD("bash\0-c\0true"), &e), -1);
	assert_int_equal(dataplane_eal_parse("", 0, &e), -1);
	/* --file-prefix without its value, or an empty one. */
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--file-prefix"), &e), -1);
	assert_int_equal(dataplane_eal_parse(CMD("kd\0--file-prefix=\0--"), &e), -1);
	/* A prefix that does not fit. */
	memset(longp + n, 'a', 100);
	memcpy(longp + n + 100, "\0--\0", 4);
	assert_int_equal(dataplane_eal_parse(longp, n + 104, &e), -1);
	/* An unended last argument is not read. */
	assert_int_equal(dataplane_eal_parse("kd\0--", 5, &e), -1);
}

static void test_read_proc(void **state)
{
	struct dataplane_eal e;

	(void)state;
	/* This test's own command line has no "--". */
	assert_int_equal(dataplane_eal_read(getpid(), &e), -1);
	assert_int_equal(errno, EINVAL);
	/* No such process (pid_max is at most 2^22). */
	assert_int_equal(dataplane_eal_read(0x7ffffff0, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_forms),
		cmocka_unit_test(test_blocking_options),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_read_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
