/* Unit tests of the management API's one errno table: every error the control layer reports has one HTTP status and message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keel_api.h"

/*
 * What control.h, seam.h and the routes promise, errno by errno: the
 * control layer's documented returns, and the status docs/api.md gives them.
 */
static void test_documented_errors(void **state)
{
	static const struct {
		int err;
		unsigned int status;
	} want[] = {
		{ ENOENT, 404 },       /* no such VIP or backend */
		{ EAFNOSUPPORT, 400 }, /* a lookup's source of another family than the VIP */
		{ EINVAL, 422 },       /* refused by the validator */
		{ EPERM, 409 },        /* needs force */
		{ EEXIST, 409 },       /* backend already there */
		{ EFBIG, 413 },        /* body or configuration too large */
		{ ESTALE, 412 },       /* If-Match: the configuration changed since */
		{ ENOTCONN, 503 },     /* no dataplane attached (missing) */
		{ EPIPE, 503 },        /* the attached dataplane is dead */
		{ EAGAIN, 503 },       /* no snapshot active yet */
		{ ETIMEDOUT, 503 },    /* a worker did not answer in time */
		{ EBUSY, 503 },        /* no free snapshot slot */
		{ EIO, 500 },          /* the state could not be persisted */
		{ ENOLINK, 503 },      /* fleet: the store is unreachable, edits refused */
		{ ESTALE, 412 },       /* fleet: the spec changed since the diff */
		{ ENOMEM, 500 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		unsigned int got = keel_api_error_status(KEEL_API_CONTROL, want[i].err);

		if (got != want[i].status)
			fail_msg("%s: %u, want %u", strerror(want[i].err), got, want[i].status);
		assert_non_null(keel_api_error_message(KEEL_API_CONTROL, want[i].err));
		assert_true(strlen(keel_api_error_message(KEEL_API_CONTROL, want[i].err)) > 0);
	}
}

/* A dead dataplane and a missing one are the same thing to a client: "retry later" (issue 14, item 12). */
static void test_dead_like_missing(void **state)
{
	(void)state;
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, EPIPE), keel_api_error_status(KEEL_API_CONTROL, ENOTCONN));
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, EPIPE), 503);
	assert_string_equal(keel_api_error_message(KEEL_API_CONTROL, EPIPE), keel_api_error_message(KEEL_API_CONTROL, ENOTCONN));
}

/* Anything not in the table is a server error, never a silent 200 or a client's fault. */
static void test_unknown_is_500(void **state)
{
	(void)state;
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, 0), 500);
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, ENOSYS), 500);
	assert_int_equal(keel_api_error_status(KEEL_API_CONTROL, -1), 500);
	assert_non_null(keel_api_error_message(KEEL_API_CONTROL, ENOSYS));
}

/* Each errno once: a second row for it would be dead, or disagree. Statuses are real HTTP errors. */
static void test_table_unique(void **state)
{
	const struct keel_api_error *t;
	size_t n, i, j;

	(void)state;
	t = keel_api_errors(&n);
	assert_true(n >= 10);
	for (i = 0; i < n; i++) {
		assert_true(t[i].status >= 400 && t[i].status <= 599);
		assert_non_null(t[i].message);
		for (j = i + 1; j < n; j++)
			if (t[i].err == t[j].err && t[i].layer == t[j].layer)
				fail_msg("%s mapped twice", strerror(t[i].err));
	}
}

/* The request layer: EINVAL there is a malformed request (400), unlike the control layer's 422. */
static void test_request_layer(void **state)
{
	const struct keel_api_error *t;
	size_t n, i, j;

	(void)state;
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EINVAL), 400);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, ENOENT), 404);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EOPNOTSUPP), 405);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, EFBIG), 413);
	assert_int_equal(keel_api_error_status(KEEL_API_REQUEST, ENOMEM), 500);
	t = keel_api_errors(&n);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (t[i].err == t[j].err && t[i].layer == t[j].layer)
				fail_msg("%s mapped twice", strerror(t[i].err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_errors),
		cmocka_unit_test(test_dead_like_missing),
		cmocka_unit_test(test_unknown_is_500),
		cmocka_unit_test(test_table_unique),
		cmocka_unit_test(test_request_layer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
