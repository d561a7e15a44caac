/* Maglev tables by content: a hash map from maglev_key to built tables, with a bounded pool of builder threads. */
#include "tables.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vip_table.h"

#define VT_BUCKETS 4096 /* a power of two; 1024 VIPs with a current and a previewed table each */
#define VT_MAX_THREADS 8

struct vip_tables {
	struct vip_table *bucket[VT_BUCKETS];
	uint64_t epoch;
	uint64_t builds;
	uint64_t serials;
	uint32_t n;
	uint64_t bytes;
	unsigned int threads;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct vip_tables *vip_tables_new(unsigned int threads)
{
	struct vip_tables *vt = calloc(1, sizeof(*vt));
	long cpus;

	if (!vt)
		return NULL;
	if (!threads) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (unsigned int)cpus : 1;
	}
	vt->threads = threads > VT_MAX_THREADS ? VT_MAX_THREADS : threads;
	vt->epoch = 1;
	return vt;
}

static void entry_free(struct vip_table *t)
{
	free(t->in);
	free(t->counts);
	free(t->slots);
	free(t);
}

void vip_tables_free(struct vip_tables *vt)
{
	uint32_t b;

	if (!vt)
		return;
	for (b = 0; b < VT_BUCKETS; b++)
		while (vt->bucket[b]) {
			struct vip_table *t = vt->bucket[b];

			vt->bucket[b] = t->next;
			entry_free(t);
		}
	free(vt);
}

/* An entry with its inputs taken from vs, not built yet; NULL on ENOMEM. */
static struct vip_table *entry_new(const struct keel_vip_spec *vs, uint64_t seed)
{
	struct vip_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->in = malloc(sizeof(*t->in) * (vs->n_backends ? vs->n_backends : 1));
	if (!t->in) {
		free(t);
		return NULL;
	}
	t->n = keel_vip_table_inputs(vs, t->in);
	t->m = keel_vip_table_size(vs);
	t->seed = seed;
	t->key = maglev_key(t->m, seed, t->in, t->n);
	return t;
}

static bool same_inputs(const struct vip_table *a, const struct vip_table *b)
{
	uint32_t i;

	if (a->key != b->key || a->m != b->m || a->seed != b->seed || a->n != b->n)
		return false;
	/* Field by field: struct maglev_backend has padding, which nobody initialises. */
	for (i = 0; i < a->n; i++)
		if (memcmp(a->in[i].key, b->in[i].key, sizeof(a->in[i].key)) || a->in[i].id != b->in[i].id ||
		    a->in[i].weight != b->in[i].weight)
			return false;
	return true;
}

static struct vip_table *find(struct vip_tables *vt, const struct vip_table *want)
{
	struct vip_table *t;

	for (t = vt->bucket[want->key & (VT_BUCKETS - 1)]; t; t = t->next)
		if (same_inputs(t, want))
			return t;
	return NULL;
}

/* Build t's slots and counts (any thread: touches t alone). */
static int entry_build(struct vip_table *t)
{
	uint32_t s, i, *idx;
	int rc;

	t->slots = malloc(sizeof(*t->slots) * t->m);
	t->counts = calloc(t->n ? t->n : 1, sizeof(*t->counts));
	if (!t->slots || !t->counts)
		return -ENOMEM;
	rc = keel_vip_table_fill(t->slots, t->m, t->in, t->n, t->seed);
	if (rc)
		return rc;
	/* Slots per input through an id -> input index map: one lookup per slot, not a scan of the inputs. */
	idx = calloc(KEEL_MAX_BACKENDS, sizeof(*idx)); /* index + 1; 0: not an input */
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < t->n; i++)
		if (t->in[i].id < KEEL_MAX_BACKENDS)
			idx[t->in[i].id] = i + 1;
	for (s = 0; s < t->m; s++) {
		uint16_t id = t->slots[s];

		/* The table holds only the inputs' ids, or NONE (past the map). */
		if (id < KEEL_MAX_BACKENDS && idx[id])
			t->counts[idx[id] - 1]++;
	}
	free(idx);
	/* One pass now, so a publish adds the table to the snapshot's checksum without reading it. */
	keel_snapshot_sum_table(t->slots, t->m, t->sum);
	return 0;
}

static void insert(struct vip_tables *vt, struct vip_table *t)
{
	struct vip_table **head = &vt->bucket[t->key & (VT_BUCKETS - 1)];

	t->used = vt->epoch;
	t->serial = ++vt->serials;
	t->next = *head;
	*head = t;
	vt->n++;
	vt->bytes += (uint64_t)t->m * sizeof(*t->slots) + (uint64_t)t->n * (sizeof(*t->in) + sizeof(*t->counts));
	vt->builds++;
}

const struct vip_table *vip_tables_get(struct vip_tables *vt, const struct keel_vip_spec *vs,
				       uint64_t seed)
{
	struct vip_table *want = entry_new(vs, seed), *t;
	int rc;

	if (!want) {
		errno = ENOMEM;
		return NULL;
	}
	t = find(vt, want);
	if (t) {
		entry_free(want);
		t->used = vt->epoch;
		return t;
	}
	rc = entry_build(want);
	if (rc) {
		entry_free(want);
		errno = -rc;
		return NULL;
	}
	insert(vt, want);
	return want;
}

uint32_t vip_table_count(const struct vip_table *t, const uint8_t key[17])
{
	uint32_t lo = 0, hi = t->n;

	/* Inputs are sorted by key (keel_vip_table_inputs). */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t->in[mid].key, key, 17);

		if (!c)
			return t->counts[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* --- parallel builds --------------------------------------------------------------- */

struct job {
	struct vip_table **pending;
	uint32_t n;
	uint32_t next; /* atomic: the next index to take */
	uint32_t done; /* atomic: tables finished */
	int err;       /* atomic: the first failure */
};

static void *builder(void *arg)
{
	struct job *j = arg;
	uint32_t i;
	int rc;

	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n) {
		rc = entry_build(j->pending[i]);
		if (rc) {
			int zero = 0;

			__atomic_compare_exchange_n(&j->err, &zero, rc, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
		}
		/* release: pairs with the caller's acquire load; the table is complete before it counts. */
		__atomic_fetch_add(&j->done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int vip_tables_prepare(struct vip_tables *vt, const struct keel_vip_spec *vips, uint32_t n,
		       uint64_t seed, vip_tables_progress_fn progress, void *arg)
{
	struct job j = { 0 };
	pthread_t th[VT_MAX_THREADS];
	unsigned int nth = 0, k;
	uint64_t t0 = mono_ms(), last = t0;
	uint32_t i, d;
	int rc = 0;

	j.pending = calloc(n ? n : 1, sizeof(*j.pending));
	if (!j.pending)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vip_table *want = entry_new(&vips[i], seed), *t;
		uint32_t q;

		if (!want) {
			rc = -ENOMEM;
			goto out;
		}
		t = find(vt, want);
		for (q = 0; !t && q < j.n; q++)
			if (same_inputs(j.pending[q], want))
				t = j.pending[q];
		if (t) {
			t->used = vt->epoch;
			entry_free(want);
			continue;
		}
		j.pending[j.n++] = want;
	}
	if (!j.n)
		goto out;
	/* One table is a few milliseconds: threads only pay off for several. */
	nth = vt->threads < j.n ? vt->threads : j.n;
	for (k = 1; k < nth; k++)
		if (pthread_create(&th[k - 1], NULL, builder, &j))
			break;
	nth = k;
	/* This thread builds too, and reports progress between its tables. */
	while ((i = __atomic_fetch_add(&j.next, 1, __ATOMIC_RELAXED)) < j.n) {
		int e = entry_build(j.pending[i]);

		if (e) {
			int zero = 0;

			__atomic_compare_exchange_n(&j.err, &zero, e, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&j.done, 1, __ATOMIC_RELEASE);
		if (progress && mono_ms() - last >= 1000) {
			last = mono_ms();
			d = __atomic_load_n(&j.done, __ATOMIC_ACQUIRE);
			progress(arg, d, j.n);
		}
	}
	for (k = 1; k < nth; k++)
		pthread_join(th[k - 1], NULL);
	if (progress && last != t0)
		progress(arg, j.n, j.n);
	rc = j.err;
	for (i = 0; i < j.n; i++) {
		if (rc) {
			entry_free(j.pending[i]);
			continue;
		}
		insert(vt, j.pending[i]);
	}
	j.n = 0;
out:
	for (i = 0; i < j.n; i++)
		entry_free(j.pending[i]);
	free(j.pending);
	return rc;
}

void vip_tables_sweep(struct vip_tables *vt)
{
	uint32_t b;

	for (b = 0; b < VT_BUCKETS; b++) {
		struct vip_table **p = &vt->bucket[b];

		while (*p) {
			struct vip_table *t = *p;

			if (t->used >= vt->epoch) {
				p = &t->next;
				continue;
			}
			*p = t->next;
			vt->n--;
			vt->bytes -= (uint64_t)t->m * sizeof(*t->slots) +
				     (uint64_t)t->n * (sizeof(*t->in) + sizeof(*t->counts));
			entry_free(t);
		}
	}
	vt->epoch++;
}

void vip_tables_begin(struct vip_tables *vt)
{
	vt->epoch++;
}

bool vip_tables_live(const struct vip_tables *vt, const struct vip_table *t, uint64_t key,
		     uint64_t serial)
{
	const struct vip_table *e;

	for (e = vt->bucket[key & (VT_BUCKETS - 1)]; e; e = e->next)
		if (e == t && e->serial == serial)
			return true;
	return false;
}

uint64_t vip_tables_builds(const struct vip_tables *vt)
{
	return vt->builds;
}

uint32_t vip_tables_count(const struct vip_tables *vt, uint64_t *bytes)
{
	if (bytes)
		*bytes = vt->bytes;
	return vt->n;
}
