/* Maglev builder tests: a naive oracle from the paper, balance/disruption/weight properties, golden digests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hash.h"
#include "maglev.h"
#include "snapshot.h"

#define M_BIG KEEL_MAGLEV_DEFAULT_SIZE /* 65537 */

/*
 * The offset/skip derivation, restated rather than shared with maglev.c on
 * purpose: if the builder's derivation drifts, the oracle comparison fails.
 */
#define ORACLE_OFFSET_TWEAK 0x6f66667365740001ULL
#define ORACLE_SKIP_TWEAK 0x736b697000000002ULL

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Backend i: IPv4 10.a.b.c from i, or an IPv6 2001:db8::/32 address when v6. */
static void make_key(uint8_t key[17], uint32_t i, int v6)
{
	memset(key, 0, 17);
	if (v6) {
		key[0] = 0x20;
		key[1] = 0x01;
		key[2] = 0x0d;
		key[3] = 0xb8;
		key[13] = (uint8_t)(i >> 16);
		key[14] = (uint8_t)(i >> 8);
		key[15] = (uint8_t)i;
		key[16] = 6;
	} else {
		key[0] = 10;
		key[1] = (uint8_t)(i >> 16);
		key[2] = (uint8_t)(i >> 8);
		key[3] = (uint8_t)i;
		key[16] = 4;
	}
}

static struct maglev_backend *make_backends(uint32_t n, uint32_t weight)
{
	struct maglev_backend *b = calloc(n ? n : 1, sizeof(*b));
	uint32_t i;

	assert_non_null(b);
	for (i = 0; i < n; i++) {
		/* Every third one IPv6, so both families take part in the ordering. */
		make_key(b[i].key, i + 1, i % 3 == 2);
		b[i].id = (uint16_t)i;
		b[i].weight = weight;
	}
	return b;
}

static uint16_t *alloc_table(uint32_t m)
{
	uint16_t *t = malloc(sizeof(*t) * m);

	assert_non_null(t);
	return t;
}

/* ---- The oracle: Eisenbud et al., NSDI'16, section 3.4, Pseudocode 1, written naively. ---- */

/* Obviously-correct insertion sort by key (the builder's order). */
static void oracle_sort(struct maglev_backend *b, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct maglev_backend x = b[i];

		for (j = i; j > 0 && memcmp(b[j - 1].key, x.key, 17) > 0; j--)
			b[j] = b[j - 1];
		b[j] = x;
	}
}

/* permutation[i][j] = (offset + j * skip) % M, the full N x M matrix as in the paper. */
static uint32_t *oracle_permutation(const struct maglev_backend *b, uint32_t n, uint32_t m,
				    uint64_t seed)
{
	uint32_t *perm = malloc(sizeof(*perm) * n * m);
	uint32_t i, j;

	assert_non_null(perm);
	for (i = 0; i < n; i++) {
		uint64_t offset = keel_hash_bytes(b[i].key, 17, seed ^ ORACLE_OFFSET_TWEAK) % m;
		uint64_t skip = keel_hash_bytes(b[i].key, 17, seed ^ ORACLE_SKIP_TWEAK) % (m - 1) + 1;

		for (j = 0; j < m; j++)
			perm[(size_t)i * m + j] = (uint32_t)((offset + (uint64_t)j * skip) % m);
	}
	return perm;
}

/*
 * Pseudocode 1, line by line:
 *   for i in 0..N-1: next[i] <- 0;  for j in 0..M-1: entry[j] <- -1;  n <- 0
 *   while true:
 *     for i in 0..N-1:
 *       c <- permutation[i][next[i]]
 *       while entry[c] >= 0: next[i]++; c <- permutation[i][next[i]]
 *       entry[c] <- i; next[i]++; n++
 *       if n = M: return
 */
static void oracle_paper(uint16_t *out, uint32_t m, const struct maglev_backend *in, uint32_t nb,
			 uint64_t seed)
{
	struct maglev_backend *b = malloc(sizeof(*b) * nb);
	uint32_t *next = calloc(nb, sizeof(*next));
	int32_t *entry = malloc(sizeof(*entry) * m);
	uint32_t *perm, i, j, n = 0;

	assert_true(b && next && entry);
	memcpy(b, in, sizeof(*b) * nb);
	oracle_sort(b, nb);
	perm = oracle_permutation(b, nb, m, seed);
	for (j = 0; j < m; j++)
		entry[j] = -1;
	for (;;) {
		for (i = 0; i < nb; i++) {
			uint32_t c = perm[(size_t)i * m + next[i]];

			while (entry[c] >= 0) {
				next[i]++;
				c = perm[(size_t)i * m + next[i]];
			}
			entry[c] = (int32_t)i;
			next[i]++;
			n++;
			if (n == m)
				goto done;
		}
	}
done:
	for (j = 0; j < m; j++)
		out[j] = b[entry[j]].id;
	free(perm);
	free(entry);
	free(next);
	free(b);
}

/*
 * The weighted rule as maglev.c documents it, run the slow way: every round
 * each backend (key order) earns its weight in credit and takes one turn of
 * Pseudocode 1 when it holds at least the largest weight W, paying W.
 */
static void oracle_weighted(uint16_t *out, uint32_t m, const struct maglev_backend *in,
			    uint32_t nb, uint64_t seed)
{
	struct maglev_backend *b = malloc(sizeof(*b) * nb);
	uint32_t *next = calloc(nb, sizeof(*next));
	uint64_t *credit = calloc(nb, sizeof(*credit));
	int32_t *entry = malloc(sizeof(*entry) * m);
	uint32_t *perm, i, j, n = 0, wmax = 0;

	assert_true(b && next && credit && entry);
	memcpy(b, in, sizeof(*b) * nb);
	oracle_sort(b, nb);
	for (i = 0; i < nb; i++)
		if (b[i].weight > wmax)
			wmax = b[i].weight;
	for (j = 0; j < m; j++)
		out[j] = KEEL_BACKEND_NONE;
	if (wmax == 0)
		goto out;
	perm = oracle_permutation(b, nb, m, seed);
	for (j = 0; j < m; j++)
		entry[j] = -1;
	for (;;) {
		for (i = 0; i < nb; i++) {
			uint32_t c;

			credit[i] += b[i].weight;
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			c = perm[(size_t)i * m + next[i]];
			while (entry[c] >= 0) {
				next[i]++;
				c = perm[(size_t)i * m + next[i]];
			}
			entry[c] = (int32_t)i;
			next[i]++;
			n++;
			if (n == m)
				goto done;
		}
	}
done:
	for (j = 0; j < m; j++)
		out[j] = b[entry[j]].id;
	free(perm);
out:
	free(entry);
	free(credit);
	free(next);
	free(b);
}

static void count_slots(const uint16_t *t, uint32_t m, uint32_t *counts, uint32_t n)
{
	uint32_t i;

	memset(counts, 0, sizeof(*counts) * n);
	for (i = 0; i < m; i++) {
		assert_true(t[i] < n);
		counts[t[i]]++;
	}
}

/* ---- Tests ---- */

static void test_is_prime(void **state)
{
	(void)state;
	assert_false(maglev_is_prime(0));
	assert_false(maglev_is_prime(1));
	assert_true(maglev_is_prime(2));
	assert_true(maglev_is_prime(3));
	assert_false(maglev_is_prime(4));
	assert_true(maglev_is_prime(251));
	assert_false(maglev_is_prime(65535));
	assert_true(maglev_is_prime(65537));
	assert_false(maglev_is_prime(65539 * 3));
	assert_true(maglev_is_prime(KEEL_MAGLEV_MAX_SIZE));
	assert_false(maglev_is_prime(1048575));
	assert_true(maglev_is_prime(4294967291u)); /* largest 32-bit prime: no overflow in d*d */
	assert_false(maglev_is_prime(4294967295u));
}

static void test_slot_multiply_shift(void **state)
{
	static const uint32_t sizes[] = { 2, 251, M_BIG, KEEL_MAGLEV_MAX_SIZE };
	uint32_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t m = sizes[i];

		assert_int_equal(maglev_slot(0, m), 0);
		assert_int_equal(maglev_slot(0xffffffffu, m), m - 1);
		/* Multiply-shift, not modulo: the top half of the hash range maps to the top half. */
		assert_int_equal(maglev_slot(0x80000000u, m), m / 2);
	}
}

static void test_rejects(void **state)
{
	struct maglev_backend *b = make_backends(4, 1);
	uint16_t *t = alloc_table(KEEL_MAGLEV_MAX_SIZE + 2);

	(void)state;
	assert_int_equal(maglev_build(t, 0, b, 4, 1), -EINVAL);
	assert_int_equal(maglev_build(t, 1, b, 1, 1), -EINVAL);
	assert_int_equal(maglev_build(t, 65535, b, 4, 1), -EINVAL);
	assert_int_equal(maglev_build(t, 255, b, 4, 1), -EINVAL);
	/* 1048583 is prime but above the largest accepted size. */
	assert_true(maglev_is_prime(1048583));
	assert_int_equal(maglev_build(t, 1048583, b, 4, 1), -EINVAL);
	assert_int_equal(maglev_build(t, KEEL_MAGLEV_MAX_SIZE, b, 4, 1), 0);
	/* More backends than slots. */
	assert_int_equal(maglev_build(t, 3, b, 4, 1), -EINVAL);
	assert_int_equal(maglev_build(t, 5, b, 4, 1), 0);
	/* Duplicate keys, wherever they sit in the caller's array, even at weight 0. */
	memcpy(b[3].key, b[0].key, 17);
	assert_int_equal(maglev_build(t, 251, b, 4, 1), -EINVAL);
	b[3].weight = 0;
	assert_int_equal(maglev_build(t, 251, b, 4, 1), -EINVAL);
	make_key(b[3].key, 1000, 0);
	b[3].weight = 1;
	/* Same address, other family: a different key. */
	b[3].key[16] = 6;
	memcpy(b[3].key, b[0].key, 16);
	assert_int_equal(maglev_build(t, 251, b, 4, 1), 0);
	/* The empty-slot marker cannot be a live backend id. */
	b[2].id = KEEL_BACKEND_NONE;
	assert_int_equal(maglev_build(t, 251, b, 4, 1), -EINVAL);
	b[2].weight = 0;
	assert_int_equal(maglev_build(t, 251, b, 4, 1), 0);
	assert_int_equal(maglev_build(NULL, 251, b, 4, 1), -EINVAL);
	assert_int_equal(maglev_build(t, 251, NULL, 4, 1), -EINVAL);
	free(t);
	free(b);
}

static void test_oracle_unweighted(void **state)
{
	static const struct {
		uint32_t n, m;
		uint64_t seed;
	} cases[] = {
		{ 1, 2, 0 },    { 1, 7, 1 },      { 2, 2, 5 },       { 3, 7, 2 },
		{ 5, 13, 3 },   { 13, 13, 4 },    { 10, 251, 5 },    { 50, 251, 6 },
		{ 251, 251, 7 }, { 100, 1021, 8 }, { 7, 65537, 9 },  { 40, 65537, 0x4b45454cULL },
	};
	uint32_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t n = cases[c].n, m = cases[c].m;
		struct maglev_backend *b = make_backends(n, 7); /* equal, not necessarily 1 */
		uint16_t *got = alloc_table(m), *want = alloc_table(m);

		assert_int_equal(maglev_build(got, m, b, n, cases[c].seed), 0);
		oracle_paper(want, m, b, n, cases[c].seed);
		assert_memory_equal(got, want, sizeof(*got) * m);
		free(want);
		free(got);
		free(b);
	}
}

static void test_oracle_weighted(void **state)
{
	static const uint32_t sizes[] = { 13, 251, 1021, M_BIG };
	uint64_t rng = 0x77656967687473ULL;
	uint32_t s, round;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (round = 0; round < 4; round++) {
			uint32_t m = sizes[s], n = (uint32_t)(splitmix64(&rng) % 12) + 1, i;
			struct maglev_backend *b = make_backends(n, 1);
			uint16_t *got = alloc_table(m), *want = alloc_table(m);

			for (i = 0; i < n; i++) {
				/* Mix of small weights, zeros and a huge one (skew). */
				uint64_t r = splitmix64(&rng);

				b[i].weight = (uint32_t)(r % 5);
				if (round == 3 && i == 0)
					b[i].weight = 0xffffffffu;
			}
			b[n - 1].weight = round + 1; /* at least one live backend */
			assert_int_equal(maglev_build(got, m, b, n, rng), 0);
			oracle_weighted(want, m, b, n, rng);
			assert_memory_equal(got, want, sizeof(*got) * m);
			free(want);
			free(got);
			free(b);
		}
	}
}

static void test_balance(void **state)
{
	static const uint32_t ns[] = { 3, 10, 100, 1000 };
	uint32_t c, i;

	(void)state;
	for (c = 0; c < sizeof(ns) / sizeof(ns[0]); c++) {
		uint32_t n = ns[c], lo = UINT32_MAX, hi = 0;
		struct maglev_backend *b = make_backends(n, 1);
		uint16_t *t = alloc_table(M_BIG);
		uint32_t *counts = malloc(sizeof(*counts) * n);

		assert_non_null(counts);
		assert_int_equal(maglev_build(t, M_BIG, b, n, 0x4b45454cULL), 0);
		count_slots(t, M_BIG, counts, n);
		for (i = 0; i < n; i++) {
			lo = counts[i] < lo ? counts[i] : lo;
			hi = counts[i] > hi ? counts[i] : hi;
		}
		print_message("balance N=%u M=%u: min %u max %u ratio %.4f\n", n, M_BIG, lo, hi,
			      (double)hi / lo);
		/* max/min <= 1.02, in integers. */
		assert_true((uint64_t)hi * 100 <= (uint64_t)lo * 102);
		free(counts);
		free(t);
		free(b);
	}
}

/*
 * Removing one backend must leave almost every other backend's slots where
 * they were. Maglev is not minimally disruptive; the paper measures this.
 */
static void test_disruption(void **state)
{
	static const uint32_t ns[] = { 10, 100, 1000 };
	uint32_t c, i, k;

	(void)state;
	for (c = 0; c < sizeof(ns) / sizeof(ns[0]); c++) {
		uint32_t n = ns[c];
		struct maglev_backend *b = make_backends(n, 1);
		uint16_t *before = alloc_table(M_BIG), *after = alloc_table(M_BIG);
		double worst = 0;

		assert_int_equal(maglev_build(before, M_BIG, b, n, 0x4b45454cULL), 0);
		/* Remove a few different backends, one at a time. */
		for (k = 0; k < 3; k++) {
			uint32_t gone = (uint32_t)(((uint64_t)k * n) / 3 + n / 7);
			uint32_t held = 0, moved = 0;
			struct maglev_backend saved = b[gone];
			double frac;

			b[gone] = b[n - 1];
			assert_int_equal(maglev_build(after, M_BIG, b, n - 1, 0x4b45454cULL), 0);
			b[gone] = saved;
			for (i = 0; i < M_BIG; i++) {
				assert_int_not_equal(after[i], saved.id);
				if (before[i] == saved.id)
					continue;
				held++;
				moved += before[i] != after[i];
			}
			frac = (double)moved / held;
			worst = frac > worst ? frac : worst;
			print_message("disruption N=%u remove id %u: %u of %u others' slots moved (%.3f%%)\n",
				      n, saved.id, moved, held, 100.0 * frac);
			assert_true((uint64_t)moved * 100 <= held);
		}
		print_message("disruption N=%u: worst %.3f%%\n", n, 100.0 * worst);
		free(after);
		free(before);
		free(b);
	}
}

static void check_shares(const uint32_t *w, uint32_t n, uint32_t m)
{
	struct maglev_backend *b = make_backends(n, 1);
	uint16_t *t = alloc_table(m);
	uint32_t *counts = malloc(sizeof(*counts) * n);
	uint64_t sum = 0;
	double worst = 0;
	uint32_t i;

	assert_non_null(counts);
	for (i = 0; i < n; i++) {
		b[i].weight = w[i];
		sum += w[i];
	}
	assert_int_equal(maglev_build(t, m, b, n, 99), 0);
	count_slots(t, m, counts, n);
	for (i = 0; i < n; i++) {
		double want = (double)w[i] / sum, got = (double)counts[i] / m;
		double rel = w[i] ? (got - want) / want : 0;

		if (w[i] == 0) {
			assert_int_equal(counts[i], 0);
			continue;
		}
		rel = rel < 0 ? -rel : rel;
		worst = rel > worst ? rel : worst;
		/* Relative: |share - w_i/sum| <= 2% of w_i/sum. */
		assert_true(rel <= 0.02);
	}
	print_message("weights n=%u M=%u: worst relative share error %.4f%%\n", n, m, 100.0 * worst);
	free(counts);
	free(t);
	free(b);
}

static void test_weighted_shares(void **state)
{
	static const uint32_t w123[] = { 1, 2, 3 };
	static const uint32_t w1to10[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const uint32_t wzero[] = { 5, 0, 5, 0, 10 };
	uint32_t w100[100], i;

	(void)state;
	for (i = 0; i < 100; i++)
		w100[i] = 1 + i % 7;
	check_shares(w123, 3, M_BIG);
	check_shares(w1to10, 10, M_BIG);
	check_shares(wzero, 5, M_BIG);
	check_shares(w100, 100, M_BIG);
}

static void test_weight_zero(void **state)
{
	struct maglev_backend *b = make_backends(10, 3);
	uint16_t *t = alloc_table(M_BIG);
	uint32_t i;

	(void)state;
	b[4].weight = 0;
	b[7].weight = 0;
	assert_int_equal(maglev_build(t, M_BIG, b, 10, 1), 0);
	for (i = 0; i < M_BIG; i++) {
		assert_true(t[i] < 10);
		assert_int_not_equal(t[i], 4);
		assert_int_not_equal(t[i], 7);
	}
	free(t);
	free(b);
}

static void test_all_zero(void **state)
{
	struct maglev_backend *b = make_backends(10, 0);
	uint16_t *t = alloc_table(251);
	uint32_t i;

	(void)state;
	memset(t, 0, sizeof(*t) * 251);
	assert_int_equal(maglev_build(t, 251, b, 10, 1), 0);
	for (i = 0; i < 251; i++)
		assert_int_equal(t[i], KEEL_BACKEND_NONE);
	/* No backends at all: the same. */
	memset(t, 0, sizeof(*t) * 251);
	assert_int_equal(maglev_build(t, 251, NULL, 0, 1), 0);
	for (i = 0; i < 251; i++)
		assert_int_equal(t[i], KEEL_BACKEND_NONE);
	free(t);
	free(b);
}

static void test_order_independent(void **state)
{
	uint64_t rng = 12345;
	uint32_t n = 200, i, round;
	struct maglev_backend *b = make_backends(n, 1);
	uint16_t *ref = alloc_table(M_BIG), *t = alloc_table(M_BIG);

	(void)state;
	for (i = 0; i < n; i++)
		b[i].weight = 1 + i % 4;
	assert_int_equal(maglev_build(ref, M_BIG, b, n, 7), 0);
	for (round = 0; round < 5; round++) {
		/* Fisher-Yates: each backend keeps its id, only the array order changes. */
		for (i = n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)(splitmix64(&rng) % (i + 1));
			struct maglev_backend x = b[i];

			b[i] = b[j];
			b[j] = x;
		}
		assert_int_equal(maglev_build(t, M_BIG, b, n, 7), 0);
		assert_memory_equal(t, ref, sizeof(*t) * M_BIG);
	}
	/* A different seed gives a different table. */
	assert_int_equal(maglev_build(t, M_BIG, b, n, 8), 0);
	assert_memory_not_equal(t, ref, sizeof(*t) * M_BIG);
	free(t);
	free(ref);
	free(b);
}

static uint64_t digest_of(struct maglev_backend *b, uint32_t n, uint32_t m, uint64_t seed)
{
	uint16_t *t = alloc_table(m);
	uint8_t (*keys)[17] = calloc(n, sizeof(*keys));
	uint64_t d;
	uint32_t i;

	assert_non_null(keys);
	for (i = 0; i < n; i++)
		memcpy(keys[b[i].id], b[i].key, 17);
	assert_int_equal(maglev_build(t, m, b, n, seed), 0);
	d = maglev_digest(t, m, (const uint8_t (*)[17])keys, n);
	free(keys);
	free(t);
	return d;
}

/*
 * Golden digests. Every Keel host must build byte-identical tables from the
 * same configuration, on every architecture and compiler, release after
 * release: that is what lets ECMP move a connection between Keel hosts. If
 * one of these constants stops matching, a change to the hash, the offset or
 * skip derivation, the weighted turn rule or the digest format has just
 * broken fleet consistency (a mixed-version fleet would send flows to
 * different backends). Update them only as a deliberate, announced change.
 */
#define GOLDEN_3_V4_65537 0xb99ea08f91929921ULL
#define GOLDEN_MIXED_251 0xf4a07b04cb13c55bULL
#define GOLDEN_100_WEIGHTED_65537 0x9d6e2a201b497e7eULL

static void test_golden_digests(void **state)
{
	struct maglev_backend *b;
	uint64_t d;
	uint32_t i;

	(void)state;
	/* 1: 10.0.0.1, 10.0.0.2, 10.0.0.3, weight 1, seed 0x4b45454c, M = 65537. */
	b = make_backends(3, 1);
	for (i = 0; i < 3; i++) {
		memset(b[i].key, 0, 17);
		b[i].key[0] = 10;
		b[i].key[3] = (uint8_t)(i + 1);
		b[i].key[16] = 4;
	}
	d = digest_of(b, 3, M_BIG, 0x4b45454cULL);
	print_message("golden 1: 0x%016llxULL\n", (unsigned long long)d);
	assert_int_equal(d, GOLDEN_3_V4_65537);
	free(b);

	/* 2: 5 backends, mixed families, weights 1 2 3 0 5, seed 42, M = 251. */
	b = make_backends(5, 1);
	for (i = 0; i < 5; i++) {
		make_key(b[i].key, 100 + i, i & 1);
		b[i].weight = i == 3 ? 0 : i + 1;
	}
	d = digest_of(b, 5, 251, 42);
	print_message("golden 2: 0x%016llxULL\n", (unsigned long long)d);
	assert_int_equal(d, GOLDEN_MIXED_251);
	free(b);

	/* 3: 100 backends (make_backends), weights 1 + i % 4, seed 0x0123456789abcdef, M = 65537. */
	b = make_backends(100, 1);
	for (i = 0; i < 100; i++)
		b[i].weight = 1 + i % 4;
	d = digest_of(b, 100, M_BIG, 0x0123456789abcdefULL);
	print_message("golden 3: 0x%016llxULL\n", (unsigned long long)d);
	assert_int_equal(d, GOLDEN_100_WEIGHTED_65537);
	free(b);
}

static void test_digest(void **state)
{
	struct maglev_backend *b = make_backends(4, 1);
	uint8_t keys[4][17];
	uint16_t *t = alloc_table(251);
	uint64_t d1, d2, d3;
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		memcpy(keys[i], b[i].key, 17);
	assert_int_equal(maglev_build(t, 251, b, 4, 3), 0);
	d1 = maglev_digest(t, 251, (const uint8_t (*)[17])keys, 4);
	/* Ids are host-local: renumbering the backends leaves the digest alone. */
	for (i = 0; i < 4; i++) {
		b[i].id = (uint16_t)(3 - i);
		memcpy(keys[3 - i], b[i].key, 17);
	}
	assert_int_equal(maglev_build(t, 251, b, 4, 3), 0);
	d2 = maglev_digest(t, 251, (const uint8_t (*)[17])keys, 4);
	assert_int_equal(d1, d2);
	/* One slot changing owner changes the digest. */
	t[17] = t[17] == 0 ? 1 : 0;
	d3 = maglev_digest(t, 251, (const uint8_t (*)[17])keys, 4);
	assert_int_not_equal(d1, d3);
	/* Empty slots and ids without a key hash alike (as zeros). */
	for (i = 0; i < 251; i++)
		t[i] = KEEL_BACKEND_NONE;
	d1 = maglev_digest(t, 251, (const uint8_t (*)[17])keys, 4);
	for (i = 0; i < 251; i++)
		t[i] = 9;
	d2 = maglev_digest(t, 251, (const uint8_t (*)[17])keys, 4);
	assert_int_equal(d1, d2);
	free(t);
	free(b);
}

/*
 * maglev_digest_n gives maglev_digest's values: groups of four and the rest,
 * tables of different sizes in one group, empty slots and ids without a key,
 * and no keys at all.
 */
static void test_digest_n(void **state)
{
	static const uint32_t sizes[] = { 251, 251, 257, 13, 251, 65537, 251, 263, 251, 17, 65537 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]), NB = 40 };
	struct maglev_backend *b = make_backends(NB, 1);
	const uint16_t *tables[N];
	uint16_t *t[N];
	uint8_t keys[NB][17];
	uint64_t out[N];
	uint32_t i, j;

	(void)state;
	for (i = 0; i < NB; i++)
		memcpy(keys[i], b[i].key, 17);
	for (j = 0; j < N; j++) {
		t[j] = alloc_table(sizes[j]);
		tables[j] = t[j];
		/* Four backends of the forty per table, as a VIP has; a few empty slots and foreign ids. */
		assert_int_equal(maglev_build(t[j], sizes[j], b + (j * 4) % (NB - 4), 4, j), 0);
		t[j][j % sizes[j]] = KEEL_BACKEND_NONE;
		t[j][(j * 7 + 3) % sizes[j]] = (uint16_t)(NB + j);
	}
	assert_int_equal(maglev_digest_n(tables, sizes, N, (const uint8_t (*)[17])keys, NB, out), 0);
	for (j = 0; j < N; j++)
		assert_int_equal(out[j], maglev_digest(t[j], sizes[j], (const uint8_t (*)[17])keys, NB));
	/* Every count of tables from 0 to N (each group size, with a tail). */
	for (i = 0; i <= N; i++) {
		memset(out, 0, sizeof(out));
		assert_int_equal(maglev_digest_n(tables + N - i, sizes + N - i, i, (const uint8_t (*)[17])keys, NB,
						 out), 0);
		for (j = 0; j < i; j++)
			assert_int_equal(out[j], maglev_digest(t[N - i + j], sizes[N - i + j],
							       (const uint8_t (*)[17])keys, NB));
	}
	assert_int_equal(maglev_digest_n(tables, sizes, N, NULL, 0, out), 0);
	for (j = 0; j < N; j++)
		assert_int_equal(out[j], maglev_digest(t[j], sizes[j], NULL, 0));
	for (j = 0; j < N; j++)
		free(t[j]);
	free(b);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Build cost, printed for the record; the bound is loose because sanitizers slow this down a lot. */
static void test_build_time(void **state)
{
	struct maglev_backend *b = make_backends(1000, 1);
	uint16_t *t = alloc_table(M_BIG);
	double t0, t1;
	uint32_t i;

	(void)state;
	t0 = now_ms();
	assert_int_equal(maglev_build(t, M_BIG, b, 1000, 1), 0);
	t1 = now_ms();
	print_message("build M=%u N=1000 equal weights: %.2f ms\n", M_BIG, t1 - t0);
	assert_true(t1 - t0 < 2000);
	/* Extreme skew: one backend of weight 2^32-1, the rest 1. */
	b[0].weight = 0xffffffffu;
	t0 = now_ms();
	assert_int_equal(maglev_build(t, M_BIG, b, 1000, 1), 0);
	t1 = now_ms();
	print_message("build M=%u N=1000 skewed weights: %.2f ms\n", M_BIG, t1 - t0);
	assert_true(t1 - t0 < 2000);
	for (i = 0; i < M_BIG; i++)
		assert_true(t[i] < 1000);
	free(t);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_prime),
		cmocka_unit_test(test_slot_multiply_shift),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_oracle_unweighted),
		cmocka_unit_test(test_oracle_weighted),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_disruption),
		cmocka_unit_test(test_weighted_shares),
		cmocka_unit_test(test_weight_zero),
		cmocka_unit_test(test_all_zero),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_golden_digests),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_digest_n),
		cmocka_unit_test(test_build_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
