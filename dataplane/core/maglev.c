/* Maglev table builder (Eisenbud et al., NSDI'16) with weighted turns, and the fleet-comparable table digest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "maglev.h"
#include "snapshot.h"

/*
 * The two derivations of a backend's permutation from its key. They are part
 * of the fleet-wide contract: every host must compute the same offset and
 * skip for the same key and seed, so changing either constant (or the rule
 * below) reshuffles every table in the fleet and must be deliberate.
 *
 *   offset = keel_hash_bytes(key, 17, seed ^ MAGLEV_OFFSET_TWEAK) % m
 *   skip   = keel_hash_bytes(key, 17, seed ^ MAGLEV_SKIP_TWEAK) % (m - 1) + 1
 *
 * m is prime, so any skip in [1, m-1] makes (offset + j * skip) % m visit
 * every slot exactly once for j in [0, m).
 */
#define MAGLEV_OFFSET_TWEAK 0x6f66667365740001ULL /* "offset" + 1 */
#define MAGLEV_SKIP_TWEAK 0x736b697000000002ULL   /* "skip" + 2 */

/* Digest domain separator, so a digest never equals some other keel hash by construction. */
#define MAGLEV_DIGEST_SEED 0x6d61676c65764447ULL /* "maglevDG" */

bool maglev_is_prime(uint32_t m)
{
	uint32_t d;

	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	/* d <= m / d rather than d * d <= m: no overflow near UINT32_MAX. */
	for (d = 3; d <= m / d; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

/* Builder state for one backend that takes slots (weight > 0), in key order. */
struct maglev_turn {
	uint64_t next_round; /* round of this backend's next turn */
	uint64_t turns;      /* turns taken so far */
	uint32_t pos;        /* current permutation entry: (offset + j * skip) % m */
	uint32_t skip;
	uint32_t weight;
	uint16_t id;
};

/*
 * Backends are sorted through pointers rather than in place (the caller's
 * array is const) and without a global comparator context, so that several
 * control-plane threads may build tables at once.
 */
static int cmp_by_key(const void *a, const void *b)
{
	const struct maglev_backend *x = *(const struct maglev_backend *const *)a;
	const struct maglev_backend *y = *(const struct maglev_backend *const *)b;

	return memcmp(x->key, y->key, sizeof(x->key));
}

/*
 * Heap order: earlier round first; within a round, lower rank (key order)
 * first. Ranks are unique, so the order is total and the fill is the same
 * whatever the heap's internal layout.
 */
static bool turn_before(const struct maglev_turn *t, uint32_t a, uint32_t b)
{
	if (t[a].next_round != t[b].next_round)
		return t[a].next_round < t[b].next_round;
	return a < b;
}

static void heap_sift_down(uint32_t *heap, uint32_t len, uint32_t i, const struct maglev_turn *t)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, best = i, tmp;

		if (l < len && turn_before(t, heap[l], heap[best]))
			best = l;
		if (r < len && turn_before(t, heap[r], heap[best]))
			best = r;
		if (best == i)
			return;
		tmp = heap[i];
		heap[i] = heap[best];
		heap[best] = tmp;
		i = best;
	}
}

/* Round of turn k (1-based) for weight w under the largest weight wmax: ceil(k * wmax / w). */
static uint64_t turn_round(uint64_t k, uint32_t w, uint32_t wmax)
{
	/* k <= m < 2^21 and wmax < 2^32: the product fits in 64 bits. */
	return (k * wmax + w - 1) / w;
}

/*
 * Weighted fill by proportional turns. With W the largest weight, backend i
 * takes its k-th turn in round ceil(k * W / w_i), and within one round turns
 * go in key order. Equivalently: every round each backend earns w_i credit
 * and, holding at least W, spends W on one turn. A turn is the paper's: take
 * the next empty slot in the backend's own permutation. Backends of weight W
 * turn every round, so with equal weights this is exactly Pseudocode 1 of
 * the paper. No backend turns twice in a round (w_i <= W), so a min-heap on
 * (round, rank) replays the rounds without visiting idle backends: O(m log n)
 * however skewed the weights are.
 */
/*
 * The same fill replayed round by round: every round each backend earns its
 * weight in credit and, holding at least W, spends W on one turn; within a
 * round, turns go in key (rank) order. Backend i's k-th turn then falls in
 * round ceil(k * W / w_i), in rank order within the round: exactly the heap's
 * (round, rank) order, so the table is the same byte for byte. It visits
 * every backend every round, which is cheaper than a heap step per turn when
 * most of them turn in most rounds (weights within a small ratio, the common
 * case): additions and compares only, no division and no sifting.
 */
static void maglev_fill_rounds(uint16_t *table, uint32_t m, struct maglev_turn *t, uint32_t nt,
			       uint32_t wmax)
{
	uint32_t filled = 0, i;

	for (i = 0; i < m; i++)
		table[i] = KEEL_BACKEND_NONE;
	for (i = 0; i < nt; i++)
		t[i].turns = 0; /* the credit, below W between rounds */
	while (filled < m) {
		for (i = 0; i < nt && filled < m; i++) {
			struct maglev_turn *b = &t[i];

			b->turns += b->weight;
			if (b->turns < wmax)
				continue;
			b->turns -= wmax;
			/* m is prime, so the permutation reaches every empty slot: this ends. */
			while (table[b->pos] != KEEL_BACKEND_NONE) {
				b->pos += b->skip;
				if (b->pos >= m)
					b->pos -= m;
			}
			table[b->pos] = b->id;
			filled++;
		}
	}
}

static void maglev_fill(uint16_t *table, uint32_t m, struct maglev_turn *t, uint32_t nt,
			uint32_t *heap, uint32_t wmax)
{
	uint32_t filled = 0, i;

	for (i = 0; i < m; i++)
		table[i] = KEEL_BACKEND_NONE;
	for (i = 0; i < nt; i++) {
		t[i].turns = 0;
		t[i].next_round = turn_round(1, t[i].weight, wmax);
		heap[i] = i;
	}
	for (i = nt / 2; i-- > 0;)
		heap_sift_down(heap, nt, i, t);

	while (filled < m) {
		struct maglev_turn *b = &t[heap[0]];

		/* m is prime, so the permutation reaches every empty slot: this ends. */
		while (table[b->pos] != KEEL_BACKEND_NONE) {
			b->pos += b->skip;
			if (b->pos >= m)
				b->pos -= m;
		}
		table[b->pos] = b->id;
		filled++;
		b->turns++;
		b->next_round = turn_round(b->turns + 1, b->weight, wmax);
		heap_sift_down(heap, nt, 0, t);
	}
}

int maglev_build(uint16_t *table, uint32_t m, const struct maglev_backend *backends,
		 uint32_t n, uint64_t seed)
{
	const struct maglev_backend **order;
	struct maglev_turn *turns = NULL;
	uint32_t *heap = NULL;
	uint32_t i, nt = 0, wmax = 0;
	uint64_t sumw = 0;
	int ret = 0;

	if (!table || (n && !backends))
		return -EINVAL;
	if (m > KEEL_MAGLEV_MAX_SIZE || !maglev_is_prime(m) || n > m)
		return -EINVAL;

	order = malloc(sizeof(*order) * (n ? n : 1));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		order[i] = &backends[i];
	/* Keys are unique (checked next), so qsort's instability cannot show. */
	qsort(order, n, sizeof(*order), cmp_by_key);

	for (i = 0; i < n; i++) {
		const struct maglev_backend *b = order[i];

		if (i > 0 && !memcmp(order[i - 1]->key, b->key, sizeof(b->key))) {
			ret = -EINVAL;
			goto out_free_order;
		}
		if (b->weight == 0)
			continue;
		/* The empty-slot marker cannot also be a backend that takes slots. */
		if (b->id == KEEL_BACKEND_NONE) {
			ret = -EINVAL;
			goto out_free_order;
		}
		if (b->weight > wmax)
			wmax = b->weight;
		nt++;
	}

	if (nt == 0) {
		for (i = 0; i < m; i++)
			table[i] = KEEL_BACKEND_NONE;
		goto out_free_order;
	}

	turns = malloc(sizeof(*turns) * nt);
	heap = malloc(sizeof(*heap) * nt);
	if (!turns || !heap) {
		ret = -ENOMEM;
		goto out_free_scratch;
	}

	nt = 0;
	for (i = 0; i < n; i++) {
		const struct maglev_backend *b = order[i];
		struct maglev_turn *t;

		if (b->weight == 0)
			continue;
		t = &turns[nt++];
		/* Reductions in 64 bits: the same on every host whatever its word size. */
		t->pos = (uint32_t)(keel_hash_bytes(b->key, sizeof(b->key),
						    seed ^ MAGLEV_OFFSET_TWEAK) % m);
		/* m == 2 leaves m - 1 == 1: skip is 1, still a permutation. */
		t->skip = (uint32_t)(keel_hash_bytes(b->key, sizeof(b->key),
						     seed ^ MAGLEV_SKIP_TWEAK) % (m - 1)) + 1;
		t->weight = b->weight;
		t->id = b->id;
		sumw += b->weight;
	}

	/*
	 * Rounds when on average at least a quarter of the backends turn in a
	 * round (sum of weights >= nt * W / 4), the heap otherwise (very uneven
	 * weights, where most rounds would visit idle backends).
	 */
	if ((uint64_t)nt * wmax <= 4 * sumw)
		maglev_fill_rounds(table, m, turns, nt, wmax);
	else
		maglev_fill(table, m, turns, nt, heap, wmax);

out_free_scratch:
	free(heap);
	free(turns);
out_free_order:
	free(order);
	return ret;
}

/*
 * Each slot absorbs its owner's 17-byte key as three words: bytes 0-7,
 * bytes 8-15 (little-endian loads) and byte 16. An empty slot, or one whose
 * id has no key (>= nkeys, KEEL_BACKEND_NONE included), absorbs 17 zero
 * bytes. m is absorbed first so tables of different sizes never collide by
 * construction. The digest format is part of what operators compare across
 * hosts and releases: changing it invalidates every recorded digest.
 */
uint64_t maglev_digest(const uint16_t *table, uint32_t m, const uint8_t (*keys)[17],
		       uint32_t nkeys)
{
	static const uint8_t zero[17];
	uint64_t h = keel_hash_step(MAGLEV_DIGEST_SEED, m);
	uint32_t i;

	for (i = 0; i < m; i++) {
		const uint8_t *k = zero;

		if (keys && table[i] < nkeys)
			k = keys[table[i]];
		h = keel_hash_step(h, keel_load64_le(k));
		h = keel_hash_step(h, keel_load64_le(k + 8));
		h = keel_hash_step(h, k[16]);
	}
	return keel_mix64(h);
}

uint64_t maglev_table_fingerprint(const uint16_t *table, uint32_t m)
{
	const uint8_t *p = (const uint8_t *)table;
	uint64_t h0 = keel_hash_step(MAGLEV_DIGEST_SEED, m), h1 = h0 + 1, h2 = h0 + 2, h3 = h0 + 3;
	uint32_t i;

	/* 16 slots (32 bytes) a round, one 64-bit word to each lane: the lanes' chains overlap. */
	for (i = 0; i + 16 <= m; i += 16, p += 32) {
		h0 = keel_hash_step(h0, keel_load64_le(p));
		h1 = keel_hash_step(h1, keel_load64_le(p + 8));
		h2 = keel_hash_step(h2, keel_load64_le(p + 16));
		h3 = keel_hash_step(h3, keel_load64_le(p + 24));
	}
	for (; i < m; i++)
		h0 = keel_hash_step(h0, table[i]);
	return keel_mix64(keel_hash_step(keel_hash_step(keel_hash_step(h0, h1), h2), h3));
}

/* The three hashed words a slot owned by a key absorbs (maglev_digest). */
struct digest_key {
	uint64_t w[3];
};

static inline uint64_t digest_slot(uint64_t h, const struct digest_key *k)
{
	return keel_hash_absorb(keel_hash_absorb(keel_hash_absorb(h, k->w[0]), k->w[1]), k->w[2]);
}

#define DIGEST_LANES 4

int maglev_digest_n(const uint16_t *const *tables, const uint32_t *m, uint32_t n, const uint8_t (*keys)[17],
		    uint32_t nkeys, uint64_t *out)
{
	struct digest_key *dk = malloc(((size_t)nkeys + 1) * sizeof(*dk));
	uint32_t j, i, l;

	if (!dk)
		return -ENOMEM;
	/* dk[nkeys]: the zero key of empty slots and of ids without a key. */
	for (i = 0; i <= nkeys; i++) {
		static const uint8_t zero[17];
		const uint8_t *k = i < nkeys && keys ? keys[i] : zero;

		dk[i].w[0] = keel_hash_word(keel_load64_le(k));
		dk[i].w[1] = keel_hash_word(keel_load64_le(k + 8));
		dk[i].w[2] = keel_hash_word(k[16]);
	}
	for (j = 0; j < n; j += DIGEST_LANES) {
		uint32_t lanes = n - j < DIGEST_LANES ? n - j : DIGEST_LANES, common = UINT32_MAX;
		uint64_t h[DIGEST_LANES];

		for (l = 0; l < lanes; l++) {
			h[l] = keel_hash_step(MAGLEV_DIGEST_SEED, m[j + l]);
			common = m[j + l] < common ? m[j + l] : common;
		}
		if (lanes == DIGEST_LANES) {
			const uint16_t *t0 = tables[j], *t1 = tables[j + 1], *t2 = tables[j + 2], *t3 = tables[j + 3];

			/* The four chains are independent: the CPU overlaps their multiplies. */
			for (i = 0; i < common; i++) {
				h[0] = digest_slot(h[0], &dk[t0[i] < nkeys ? t0[i] : nkeys]);
				h[1] = digest_slot(h[1], &dk[t1[i] < nkeys ? t1[i] : nkeys]);
				h[2] = digest_slot(h[2], &dk[t2[i] < nkeys ? t2[i] : nkeys]);
				h[3] = digest_slot(h[3], &dk[t3[i] < nkeys ? t3[i] : nkeys]);
			}
		} else {
			common = 0;
		}
		/* Tables longer than the group's shortest, or a group short of four: one chain at a time. */
		for (l = 0; l < lanes; l++) {
			const uint16_t *t = tables[j + l];

			for (i = common; i < m[j + l]; i++)
				h[l] = digest_slot(h[l], &dk[t[i] < nkeys ? t[i] : nkeys]);
			out[j + l] = keel_mix64(h[l]);
		}
	}
	free(dk);
	return 0;
}
