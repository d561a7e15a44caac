/* Unit tests of the fleet's health fold (control/plan/fleet_verdict.c): majority, ties, one host,
 * hosts without verdicts, dead hosts (no lease), bad documents, order independence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet_verdict.h"

/* A host's document as the builder makes it: "u:ADDR" up, "d:ADDR" down, for VIP web. */
static char *doc(const char *const *verdicts)
{
	json_t *d = fleet_verdict_doc_new();
	char *s;

	assert_non_null(d);
	for (; *verdicts; verdicts++)
		assert_int_equal(fleet_verdict_doc_add(d, "web", *verdicts + 2, (*verdicts)[0] == 'd'), 0);
	s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(d);
	assert_non_null(s);
	return s;
}

struct hosts {
	struct fleet_verdict_doc d[16];
	char *text[16];
	size_t n;
};

static void add(struct hosts *h, int64_t lease, const char *const *verdicts)
{
	h->text[h->n] = doc(verdicts);
	h->d[h->n] = (struct fleet_verdict_doc){ .host = "h", .lease = lease, .value = h->text[h->n],
						 .len = strlen(h->text[h->n]) };
	h->n++;
}

static void add_raw(struct hosts *h, const char *text)
{
	h->text[h->n] = strdup(text);
	h->d[h->n] = (struct fleet_verdict_doc){ .host = "x", .lease = 7, .value = h->text[h->n],
						 .len = strlen(text) };
	h->n++;
}

static void drop(struct hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->text[i]);
	h->n = 0;
}

/* The fleet verdict for 10.0.0.1 under web, and its counts. */
static int verdict(struct hosts *h, uint32_t *down, uint32_t *checking)
{
	json_t *f = fleet_verdict_fold(h->d, h->n, NULL);
	int r;

	assert_non_null(f);
	fleet_verdict_counts(f, "web", "10.0.0.1", down, checking);
	r = fleet_verdict_routable(f, "web", "10.0.0.1");
	json_decref(f);
	return r;
}

static const char *const UP[] = { "u:10.0.0.1", "u:10.0.0.2", NULL };
static const char *const DOWN[] = { "d:10.0.0.1", "u:10.0.0.2", NULL };
static const char *const NONE[] = { "u:10.0.0.2", NULL }; /* 10.0.0.1 not probed yet */

static void test_majority(void **state)
{
	struct hosts h = { 0 };
	uint32_t d, c;

	(void)state;
	add(&h, 1, DOWN);
	add(&h, 2, DOWN);
	add(&h, 3, UP);
	assert_int_equal(verdict(&h, &d, &c), 0); /* 2 of 3 */
	assert_int_equal(d, 2);
	assert_int_equal(c, 3);
	drop(&h);
	add(&h, 1, DOWN);
	add(&h, 2, UP);
	add(&h, 3, UP);
	assert_int_equal(verdict(&h, &d, &c), 1); /* 1 of 3: one host's path */
	drop(&h);
	add(&h, 1, DOWN);
	add(&h, 2, DOWN);
	add(&h, 3, DOWN);
	add(&h, 4, UP);
	assert_int_equal(verdict(&h, &d, &c), 0); /* 3 of 4 */
	drop(&h);
	/* The other backend of the same documents stays up. */
	add(&h, 1, DOWN);
	add(&h, 2, DOWN);
	json_t *f = fleet_verdict_fold(h.d, h.n, NULL);
	assert_int_equal(fleet_verdict_routable(f, "web", "10.0.0.2"), 1);
	assert_int_equal(fleet_verdict_routable(f, "web", "10.0.0.1"), 0);
	json_decref(f);
	drop(&h);
}

static void test_ties(void **state)
{
	struct hosts h = { 0 };
	uint32_t d, c;

	(void)state;
	add(&h, 1, DOWN);
	add(&h, 2, UP);
	assert_int_equal(verdict(&h, &d, &c), 1); /* 1 of 2: kept */
	assert_int_equal(d, 1);
	assert_int_equal(c, 2);
	add(&h, 3, DOWN);
	add(&h, 4, UP);
	assert_int_equal(verdict(&h, &d, &c), 1); /* 2 of 4: kept */
	drop(&h);
	add(&h, 1, DOWN);
	add(&h, 2, DOWN);
	assert_int_equal(verdict(&h, &d, &c), 0); /* 2 of 2 */
	drop(&h);
	assert_false(fleet_verdict_down(0, 0));
	assert_false(fleet_verdict_down(1, 2));
	assert_true(fleet_verdict_down(2, 3));
	assert_false(fleet_verdict_down(5, 10));
	assert_true(fleet_verdict_down(6, 10));
}

static void test_single_host(void **state)
{
	struct hosts h = { 0 };
	uint32_t d, c;

	(void)state;
	add(&h, 1, DOWN);
	assert_int_equal(verdict(&h, &d, &c), 0); /* its own verdict */
	assert_int_equal(c, 1);
	drop(&h);
	add(&h, 1, UP);
	assert_int_equal(verdict(&h, &d, &c), 1);
	drop(&h);
}

static void test_missing_verdicts(void **state)
{
	struct hosts h = { 0 };
	uint32_t d, c;

	(void)state;
	/* Nobody has a verdict (no documents): up, as a backend not probed yet. */
	assert_int_equal(verdict(&h, &d, &c), 1);
	assert_int_equal(c, 0);
	/* A host that has not probed the backend yet is not counted: 1 of 1 checking says down. */
	add(&h, 1, DOWN);
	add(&h, 2, NONE);
	assert_int_equal(verdict(&h, &d, &c), 0);
	assert_int_equal(d, 1);
	assert_int_equal(c, 1);
	/* ...nor is a host whose document does not name the VIP. */
	add_raw(&h, "{\"version\":1,\"vips\":{}}");
	assert_int_equal(verdict(&h, &d, &c), 0);
	assert_int_equal(c, 1);
	drop(&h);
}

static void test_dead_and_bad_hosts(void **state)
{
	struct hosts h = { 0 };
	uint32_t d, c, ignored = 99;
	json_t *f;

	(void)state;
	/* A key without a lease (its host is gone, or written by hand) does not count. */
	add(&h, 0, UP);
	add(&h, 0, UP);
	add(&h, 5, DOWN);
	assert_int_equal(verdict(&h, &d, &c), 0);
	assert_int_equal(c, 1);
	/* Garbage, another version, the wrong shape: no verdicts, counted as ignored. */
	add_raw(&h, "not json");
	add_raw(&h, "{\"version\":2,\"vips\":{\"web\":{\"up\":[\"10.0.0.1\"]}}}");
	add_raw(&h, "{\"version\":1,\"vips\":{\"web\":{\"up\":[1]}}}");
	add_raw(&h, "{\"version\":1,\"vips\":{\"web\":{\"up\":[\"10.0.0.1\"],\"down\":7}}}");
	add_raw(&h, "[]");
	f = fleet_verdict_fold(h.d, h.n, &ignored);
	assert_non_null(f);
	assert_int_equal(ignored, 2 + 5);
	assert_true(fleet_verdict_counts(f, "web", "10.0.0.1", &d, &c));
	assert_int_equal(d, 1);
	assert_int_equal(c, 1);
	json_decref(f);
	/* One host, one vote: a document that lists a backend three times down (and once up) does not
	 * outvote two hosts that see it up. */
	add(&h, 8, UP);
	add(&h, 9, UP);
	add_raw(&h, "{\"version\":1,\"vips\":{\"web\":{\"down\":[\"10.0.0.1\",\"10.0.0.1\",\"10.0.0.1\"]}}}");
	add_raw(&h, "{\"version\":1,\"vips\":{\"web\":{\"up\":[\"10.0.0.1\"],\"down\":[\"10.0.0.1\"]}}}");
	f = fleet_verdict_fold(h.d, h.n, &ignored);
	assert_non_null(f);
	assert_true(fleet_verdict_counts(f, "web", "10.0.0.1", &d, &c));
	assert_int_equal(d, 1 + 1); /* the lease-5 host and the triple lister */
	assert_int_equal(c, 1 + 2 + 1 + 1);
	assert_int_equal(fleet_verdict_routable(f, "web", "10.0.0.1"), 1);
	json_decref(f);
	drop(&h);
}

/* Every host folds the same documents, in whatever order its listing gave them: the same verdicts. */
static void test_order_independent(void **state)
{
	struct hosts h = { 0 }, r = { 0 };
	json_t *a, *b;

	(void)state;
	add(&h, 1, DOWN);
	add(&h, 2, UP);
	add(&h, 3, NONE);
	add(&h, 4, DOWN);
	for (size_t i = h.n; i-- > 0;) {
		r.d[r.n] = h.d[i];
		r.text[r.n++] = NULL;
	}
	a = fleet_verdict_fold(h.d, h.n, NULL);
	b = fleet_verdict_fold(r.d, r.n, NULL);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	drop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_majority),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_single_host),
		cmocka_unit_test(test_missing_verdicts),
		cmocka_unit_test(test_dead_and_bad_hosts),
		cmocka_unit_test(test_order_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
