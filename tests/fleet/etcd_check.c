/*
 * Checks of the etcd client (control/fleet/etcd.h) against a real etcd cluster: one subcommand
 * per property, each asserting what it claims and printing its figures. Run by
 * tests/integration/fleet_etcd_client.sh, which starts the cluster and breaks it; not by
 * `meson test` (there is no etcd there).
 *
 *   etcd_check [-e EP,EP,...] [-t TIMEOUT_MS] [-T CONNECT_MS] [-u USER -p PASSWORD] [-C CA -c CERT -k KEY] COMMAND ARGS
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"

static struct keel_etcd_opts opts = {.timeout_ms = 2000};
static int fails;

#define CHECK(cond, ...)                                                                            \
	do {                                                                                        \
		if (cond) {                                                                         \
			printf("ok   ");                                                            \
		} else {                                                                            \
			printf("FAIL ");                                                            \
			fails++;                                                                    \
		}                                                                                   \
		printf(__VA_ARGS__);                                                                \
		printf("\n");                                                                       \
		fflush(stdout);                                                                     \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct keel_etcd *open_client(void)
{
	char err[256];
	struct keel_etcd *c = keel_etcd_open(&opts, err, sizeof(err));

	if (!c) {
		fprintf(stderr, "etcd_check: %s\n", err);
		exit(2);
	}
	return c;
}

static void die(struct keel_etcd *c, const char *what, int rc)
{
	fprintf(stderr, "etcd_check: %s: %s (%s)\n", what, keel_etcd_errmsg(c), strerror(-rc));
	exit(1);
}

/* One key's value and mod_revision (0: absent). */
static int64_t get(struct keel_etcd *c, const char *key, char *val, size_t len)
{
	struct keel_etcd_range r;
	int64_t mod = 0;
	int rc = keel_etcd_range(c, key, 0, 0, &r);

	if (rc)
		die(c, "range", rc);
	if (val)
		snprintf(val, len, "%s", r.n ? r.kvs[0].value : "");
	if (r.n)
		mod = r.kvs[0].mod_revision;
	keel_etcd_range_free(&r);
	return mod;
}

static int cmd_kv(struct keel_etcd *c, const char *p)
{
	char k1[256], k2[256], other[256], val[64];
	struct keel_etcd_range r;
	int64_t rev, rev2, mod, deleted;
	bool ok;
	int rc;

	snprintf(k1, sizeof(k1), "%s/a", p);
	snprintf(k2, sizeof(k2), "%s/b", p);
	snprintf(other, sizeof(other), "%sx/c", p); /* shares the prefix's bytes but not its "/" */
	rc = keel_etcd_put(c, k1, "one", 3, 0, &rev);
	CHECK(!rc && rev > 0, "put %s: revision %" PRId64, k1, rev);
	rc = keel_etcd_range(c, k1, 0, 0, &r);
	CHECK(!rc && r.n == 1 && !strcmp(r.kvs[0].value, "one") && r.kvs[0].value_len == 3 &&
		      r.kvs[0].mod_revision == rev && r.kvs[0].create_revision == rev && r.kvs[0].version == 1 &&
		      r.revision >= rev,
	      "range %s: one kv, value one, mod=create=%" PRId64 ", version 1", k1, rev);
	keel_etcd_range_free(&r);
	rc = keel_etcd_put(c, k2, "two\0bytes", 9, 0, &rev2);
	CHECK(!rc && rev2 == rev + 1, "put %s: next revision %" PRId64, k2, rev2);
	char pre[260];
	snprintf(pre, sizeof(pre), "%s/", p);
	rc = keel_etcd_put(c, other, "x", 1, 0, &rev2);
	rc = rc ? rc : keel_etcd_range(c, pre, KEEL_ETCD_PREFIX, 0, &r);
	CHECK(!rc && r.n == 2 && r.count == 2 && !strcmp(r.kvs[0].key, k1) && !strcmp(r.kvs[1].key, k2) &&
		      r.kvs[1].value_len == 9 && !memcmp(r.kvs[1].value, "two\0bytes", 9),
	      "prefix range %s: exactly a and b (binary value kept), not %s", pre, other);
	keel_etcd_range_free(&r);
	rc = keel_etcd_range(c, pre, KEEL_ETCD_PREFIX | KEEL_ETCD_SERIALIZABLE, 0, &r);
	CHECK(!rc && r.n == 2, "serializable prefix range: 2 kvs");
	keel_etcd_range_free(&r);
	rc = keel_etcd_range(c, k1, 0, rev2 + 1000000, &r);
	CHECK(rc == -ERANGE, "range at a future revision: -ERANGE (%s)", keel_etcd_errmsg(c));

	/* compare-and-swap on mod_revision */
	mod = get(c, k1, NULL, 0);
	struct keel_etcd_cmp cmp = {.key = k1, .result = KEEL_ETCD_EQUAL, .mod_revision = mod};
	struct keel_etcd_op op = {.type = KEEL_ETCD_OP_PUT, .key = k1, .value = "cas1", .value_len = 4};
	rc = keel_etcd_txn(c, &cmp, 1, &op, 1, &ok, &rev);
	CHECK(!rc && ok && rev > mod && get(c, k1, val, sizeof(val)) == rev && !strcmp(val, "cas1"),
	      "CAS with the current mod_revision %" PRId64 ": succeeded at %" PRId64, mod, rev);
	op.value = "cas2";
	rc = keel_etcd_txn(c, &cmp, 1, &op, 1, &ok, &rev2);
	CHECK(!rc && !ok && rev2 == rev && get(c, k1, val, sizeof(val)) == rev && !strcmp(val, "cas1"),
	      "CAS with the stale mod_revision %" PRId64 ": refused, nothing written (revision stays %" PRId64 ")",
	      mod, rev2);
	/* create-only: mod_revision 0 means absent */
	char k3[260];
	snprintf(k3, sizeof(k3), "%s/new", p);
	struct keel_etcd_cmp absent = {.key = k3, .result = KEEL_ETCD_EQUAL, .mod_revision = 0};
	struct keel_etcd_op create = {.type = KEEL_ETCD_OP_PUT, .key = k3, .value = "c", .value_len = 1};
	bool ok2;
	rc = keel_etcd_txn(c, &absent, 1, &create, 1, &ok, &rev);
	rc = rc ? rc : keel_etcd_txn(c, &absent, 1, &create, 1, &ok2, &rev2);
	CHECK(!rc && ok && !ok2, "create-if-absent: the first succeeds, the second is refused");
	/* a prefix compare: nothing under the prefix changed since rev */
	struct keel_etcd_cmp since = {.key = pre, .flags = KEEL_ETCD_PREFIX, .result = KEEL_ETCD_LESS,
				      .mod_revision = rev + 1};
	struct keel_etcd_op del = {.type = KEEL_ETCD_OP_DELETE, .key = k3};
	rc = keel_etcd_txn(c, &since, 1, &del, 1, &ok, &rev2);
	CHECK(!rc && ok && get(c, k3, NULL, 0) == 0, "prefix compare (nothing newer than %" PRId64 ") + delete in a txn", rev);
	/* a put under the prefix after rev2: the same guard, now against rev2, is refused */
	rc = keel_etcd_put(c, k1, "later", 5, 0, &rev);
	since.mod_revision = rev2 + 1;
	rc = rc ? rc : keel_etcd_txn(c, &since, 1, &del, 1, &ok, &rev);
	CHECK(!rc && !ok, "prefix compare after a newer put under the prefix: refused");
	rc = keel_etcd_delete(c, pre, KEEL_ETCD_PREFIX, &deleted, &rev);
	CHECK(!rc && deleted == 2 && get(c, k1, NULL, 0) == 0 && get(c, other, NULL, 0) > 0,
	      "delete prefix %s: 2 keys gone, %s kept", pre, other);
	keel_etcd_delete(c, other, 0, &deleted, &rev);
	rc = keel_etcd_put(c, "", "x", 1, 0, &rev);
	CHECK(rc == -EINVAL, "an empty key: -EINVAL, nothing sent");
	return 0;
}

/* n increments of an integer key by compare-and-swap, retried on conflict. */
static int cmd_incr(struct keel_etcd *c, const char *key, int n)
{
	long conflicts = 0;
	int i;

	for (i = 0; i < n; i++) {
		int tries;

		for (tries = 0; tries < 1000; tries++) {
			char val[32], next[32];
			int64_t mod = get(c, key, val, sizeof(val)), rev;
			struct keel_etcd_cmp cmp = {.key = key, .result = KEEL_ETCD_EQUAL, .mod_revision = mod};
			struct keel_etcd_op op = {.type = KEEL_ETCD_OP_PUT, .key = key, .value = next};
			bool ok;
			int rc;

			op.value_len = (size_t)snprintf(next, sizeof(next), "%ld", strtol(val, NULL, 10) + 1);
			rc = keel_etcd_txn(c, &cmp, 1, &op, 1, &ok, &rev);
			if (rc)
				die(c, "txn", rc);
			if (ok)
				break;
			conflicts++;
		}
		if (tries == 1000) {
			fprintf(stderr, "etcd_check: 1000 conflicts in a row\n");
			return 1;
		}
	}
	printf("incr %s: %d increments, %ld conflicts retried\n", key, n, conflicts);
	return 0;
}

struct watch_seen {
	int64_t revs[512];
	bool del[512];
	size_t n, want;
	int progress;
};

static int on_watch(void *arg, const struct keel_etcd_watch_resp *r)
{
	struct watch_seen *s = arg;
	size_t i;

	if (r->progress)
		s->progress++;
	for (i = 0; i < r->n_events && s->n < 512; i++, s->n++) {
		s->revs[s->n] = r->events[i].kv.mod_revision;
		s->del[s->n] = r->events[i].is_delete;
	}
	return s->want && s->n >= s->want;
}

struct stopper {
	struct keel_etcd *c;
	struct keel_etcd_watch_opts w;
	int rc;
};

static void *run_watch(void *arg)
{
	struct stopper *st = arg;
	struct watch_seen seen = {0};
	struct keel_etcd_watch_end end;

	st->rc = keel_etcd_watch(st->c, &st->w, on_watch, &seen, &end);
	return NULL;
}

/* n changes (puts and deletes), then a watch from the first sees each in order. */
static int cmd_watch(struct keel_etcd *c, const char *p, int n)
{
	int64_t revs[512], deleted;
	bool del[512];
	struct watch_seen seen = {.want = (size_t)n};
	struct keel_etcd_watch_end end;
	char key[256];
	int i, rc;

	if (n < 1 || n > 512)
		return 2;
	for (i = 0; i < n; i++) {
		/* every fifth change deletes the key the one before put: each change is a revision */
		del[i] = i % 5 == 4;
		snprintf(key, sizeof(key), "%s/k%d", p, del[i] ? i - 1 : i);
		rc = del[i] ? keel_etcd_delete(c, key, 0, &deleted, &revs[i]) : keel_etcd_put(c, key, "v", 1, 0, &revs[i]);
		if (rc)
			die(c, "write", rc);
	}
	snprintf(key, sizeof(key), "%s/", p);
	struct keel_etcd_watch_opts w = {.key = key, .flags = KEEL_ETCD_PREFIX, .start_revision = revs[0],
					 .idle_timeout_ms = 5000};
	double t0 = now_ms();
	rc = keel_etcd_watch(c, &w, on_watch, &seen, &end);
	bool same = seen.n == (size_t)n;
	for (i = 0; same && i < n; i++)
		same = seen.revs[i] == revs[i] && seen.del[i] == del[i];
	CHECK(!rc && same && end.last_revision == revs[n - 1],
	      "watch from revision %" PRId64 ": %zu of %d changes, each in order with its revision and type "
	      "(last %" PRId64 ", %.0f ms)", revs[0], seen.n, n, end.last_revision, now_ms() - t0);

	/* keel_etcd_watch_stop() from another thread ends a quiet watch within about a second */
	struct stopper st = {.c = c, .w = {.key = key, .flags = KEEL_ETCD_PREFIX, .idle_timeout_ms = 10000}};
	pthread_t th;
	if (pthread_create(&th, NULL, run_watch, &st))
		return 2;
	usleep(1000000);
	t0 = now_ms();
	keel_etcd_watch_stop(c);
	pthread_join(th, NULL);
	CHECK(st.rc == 0 && now_ms() - t0 < 1500, "a quiet watch stopped from another thread: returned %d after %.0f ms",
	      st.rc, now_ms() - t0);
	return 0;
}

/* A watch from a compacted revision ends with -ESTALE and the compaction's revision. */
static int cmd_watch_compacted(struct keel_etcd *c, const char *key, int64_t from, int64_t compacted)
{
	struct watch_seen seen = {0};
	struct keel_etcd_watch_end end;
	struct keel_etcd_watch_opts w = {.key = key, .start_revision = from, .idle_timeout_ms = 5000};
	struct keel_etcd_range r;
	int rc = keel_etcd_watch(c, &w, on_watch, &seen, &end);

	CHECK(rc == -ESTALE && end.compact_revision == compacted,
	      "watch from %" PRId64 " after compaction at %" PRId64 ": -ESTALE, compact_revision %" PRId64 " (%s)",
	      from, compacted, end.compact_revision, keel_etcd_errmsg(c));
	rc = keel_etcd_range(c, key, 0, from, &r);
	CHECK(rc == -ESTALE, "range at the compacted revision %" PRId64 ": -ESTALE (%s)", from, keel_etcd_errmsg(c));
	return 0;
}

/* A silent watch ends by its idle timeout; progress notifications keep a quiet one alive. */
static int cmd_watch_idle(struct keel_etcd *c, const char *key, unsigned idle_ms)
{
	struct watch_seen seen = {0};
	struct keel_etcd_watch_end end;
	struct keel_etcd_watch_opts w = {.key = key, .progress_notify = true, .idle_timeout_ms = idle_ms};
	double t0 = now_ms();
	int rc = keel_etcd_watch(c, &w, on_watch, &seen, &end);

	printf("watch-idle: rc %d (%s) after %.0f ms, %d progress notifications, last revision %" PRId64 ": %s\n",
	       rc, strerror(-rc), now_ms() - t0, seen.progress, end.last_revision, keel_etcd_errmsg(c));
	return rc == -ETIMEDOUT && seen.progress > 0 ? 0 : 1;
}

/* A watch the server cancels (no permission to read the key): -EACCES with etcd's reason. */
static int cmd_watch_denied(struct keel_etcd *c, const char *key)
{
	struct watch_seen seen = {0};
	struct keel_etcd_watch_end end;
	struct keel_etcd_watch_opts w = {.key = key, .idle_timeout_ms = 3000};
	double t0 = now_ms();
	int rc = keel_etcd_watch(c, &w, on_watch, &seen, &end);

	CHECK(rc == -EACCES && strstr(keel_etcd_errmsg(c), "cancelled") && now_ms() - t0 < 2000,
	      "a watch without read permission: cancelled by the server, %s after %.0f ms (%s)", strerror(-rc),
	      now_ms() - t0, keel_etcd_errmsg(c));
	return 0;
}

static bool present(struct keel_etcd *c, const char *key)
{
	return get(c, key, NULL, 0) != 0;
}

static int cmd_lease(struct keel_etcd *c, const char *p)
{
	char key[256], key2[256];
	int64_t id, ttl, rev, left;
	double t0, t;
	bool kept = true;
	int rc, i;

	snprintf(key, sizeof(key), "%s/alive", p);
	rc = keel_etcd_lease_grant(c, 2, &id, &ttl);
	CHECK(!rc && id && ttl == 2, "lease granted: id %" PRId64 ", TTL %" PRId64 " s", id, ttl);
	if (rc)
		return 1;
	rc = keel_etcd_put(c, key, "1", 1, id, &rev);
	CHECK(!rc, "put %s under the lease", key);
	/* 4 s of keepalives every 500 ms: twice the TTL, the key stays */
	for (i = 0; i < 8; i++) {
		usleep(500000);
		rc = keel_etcd_lease_keepalive(c, id, &left);
		kept = kept && !rc && left == 2 && present(c, key);
	}
	CHECK(kept, "keepalive every 500 ms for 4 s (TTL 2 s): the key stayed");
	t0 = now_ms();
	while (present(c, key) && now_ms() - t0 < 6000)
		usleep(100000);
	t = now_ms() - t0;
	CHECK(!present(c, key) && t > 1000 && t < 4000, "keepalives stopped: the key vanished after %.0f ms", t);
	rc = keel_etcd_lease_keepalive(c, id, &left);
	CHECK(rc == -ENOENT, "keepalive of the expired lease: -ENOENT (%s)", keel_etcd_errmsg(c));

	snprintf(key2, sizeof(key2), "%s/revoked", p);
	rc = keel_etcd_lease_grant(c, 60, &id, &ttl);
	rc = rc ? rc : keel_etcd_put(c, key2, "1", 1, id, &rev);
	rc = rc ? rc : keel_etcd_lease_revoke(c, id);
	CHECK(!rc && !present(c, key2), "revoke: the lease's key is gone at once");
	rc = keel_etcd_lease_revoke(c, id);
	CHECK(rc == -ENOENT, "revoke again: -ENOENT");
	rc = keel_etcd_put(c, key2, "1", 1, id, &rev);
	CHECK(rc == -ENOENT, "put under a revoked lease: -ENOENT (%s)", keel_etcd_errmsg(c));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_latency(struct keel_etcd *c, const char *key, int n)
{
	double lat[1000], t;
	int64_t rev;
	int i, rc;

	if (n < 1 || n > 1000)
		return 2;
	for (i = 0; i < n; i++) {
		t = now_ms();
		rc = keel_etcd_put(c, key, "0123456789abcdef", 16, 0, &rev);
		if (rc)
			die(c, "put", rc);
		lat[i] = now_ms() - t;
	}
	qsort(lat, (size_t)n, sizeof(lat[0]), cmp_double);
	printf("put latency over %d puts: median %.2f ms, p90 %.2f ms, max %.2f ms (%s)\n", n, lat[n / 2],
	       lat[n * 9 / 10], lat[n - 1], keel_etcd_endpoint(c));
	return 0;
}

/* Puts seq numbers for some seconds; each acknowledged one is appended to ackfile at once. */
static int cmd_writer(struct keel_etcd *c, const char *p, double seconds, const char *ackfile)
{
	FILE *f = fopen(ackfile, "w");
	double t0 = now_ms(), last_ack = t0, gap = 0, gap_at = 0;
	long seq, acked = 0, errors = 0;
	char key[256], val[32], first_err[600] = "";

	if (!f)
		return 2;
	for (seq = 0; now_ms() - t0 < seconds * 1000; seq++) {
		int64_t rev;
		int rc;

		snprintf(key, sizeof(key), "%s/%08ld", p, seq);
		snprintf(val, sizeof(val), "%ld", seq);
		rc = keel_etcd_put(c, key, val, strlen(val), 0, &rev);
		if (rc) {
			if (!errors++)
				snprintf(first_err, sizeof(first_err), "%s (%s)", keel_etcd_errmsg(c), strerror(-rc));
			if (errors <= 10)
				printf("writer: %.3f s: seq %ld not acknowledged: %s (%s)\n", (now_ms() - t0) / 1000, seq,
				       keel_etcd_errmsg(c), strerror(-rc));
			usleep(20000);
			continue;
		}
		fprintf(f, "%ld %" PRId64 "\n", seq, rev);
		fflush(f);
		acked++;
		if (now_ms() - last_ack > gap) {
			gap = now_ms() - last_ack;
			gap_at = last_ack - t0;
		}
		last_ack = now_ms();
	}
	fclose(f);
	printf("writer: %ld writes acknowledged, %ld failed; longest gap between acknowledgements %.0f ms "
	       "(from %.1f s)%s%s\n", acked, errors, gap, gap_at / 1000, *first_err ? "; first error: " : "", first_err);
	return 0;
}

static int cmd_verify(struct keel_etcd *c, const char *p, const char *ackfile)
{
	FILE *f = fopen(ackfile, "r");
	struct keel_etcd_range r;
	char pre[256], key[300];
	long seq, n = 0, missing = 0;
	int64_t rev;
	size_t i = 0;
	int rc;

	if (!f)
		return 2;
	snprintf(pre, sizeof(pre), "%s/", p);
	rc = keel_etcd_range(c, pre, KEEL_ETCD_PREFIX, 0, &r);
	if (rc)
		die(c, "range", rc);
	/* keys sort by their zero-padded seq: one merge pass */
	while (fscanf(f, "%ld %" SCNd64, &seq, &rev) == 2) {
		snprintf(key, sizeof(key), "%s%08ld", pre, seq);
		while (i < r.n && strcmp(r.kvs[i].key, key) < 0)
			i++;
		if (i == r.n || strcmp(r.kvs[i].key, key) || r.kvs[i].mod_revision != rev) {
			if (!missing)
				fprintf(stderr, "missing: %s at revision %" PRId64 "\n", key, rev);
			missing++;
		}
		n++;
	}
	fclose(f);
	CHECK(n > 0 && !missing, "%ld acknowledged writes, %ld missing (%zu keys under %s)", n, missing, r.n, pre);
	keel_etcd_range_free(&r);
	return 0;
}

/* Without quorum: a write and a read each fail with a clear error within the timeout. */
static int cmd_expect_fail(struct keel_etcd *c, const char *key)
{
	struct keel_etcd_range r;
	int64_t rev;
	double t = now_ms(), slack = 500;
	int rc = keel_etcd_put(c, key, "x", 1, 0, &rev);

	t = now_ms() - t;
	CHECK(rc == -ETIMEDOUT && t < opts.timeout_ms + slack,
	      "put without quorum: %s after %.0f ms (timeout %u ms): %s", strerror(-rc), t, opts.timeout_ms,
	      keel_etcd_errmsg(c));
	t = now_ms();
	rc = keel_etcd_range(c, key, 0, 0, &r);
	t = now_ms() - t;
	CHECK(rc == -ETIMEDOUT && t < opts.timeout_ms + slack, "linearizable range without quorum: %s after %.0f ms: %s",
	      strerror(-rc), t, keel_etcd_errmsg(c));
	if (!rc)
		keel_etcd_range_free(&r);
	return 0;
}

/* Every endpoint down or absent: -EHOSTUNREACH within the timeout. */
static int cmd_unreachable(struct keel_etcd *c, const char *key)
{
	int64_t rev;
	double t = now_ms();
	int rc = keel_etcd_put(c, key, "x", 1, 0, &rev);

	t = now_ms() - t;
	CHECK(rc == -EHOSTUNREACH && t < opts.timeout_ms + 500, "put with no member reachable: %s after %.0f ms: %s",
	      strerror(-rc), t, keel_etcd_errmsg(c));
	return 0;
}

static int cmd_failover(struct keel_etcd *c, const char *key)
{
	int64_t rev;
	double t = now_ms();
	int rc = keel_etcd_put(c, key, "f", 1, 0, &rev);

	t = now_ms() - t;
	CHECK(!rc && strcmp(keel_etcd_endpoint(c), opts.endpoints[0]),
	      "put with %s first in the list: answered by %s after %.0f ms", opts.endpoints[0], keel_etcd_endpoint(c), t);
	return 0;
}

static int cmd_auth(struct keel_etcd *c, const char *key, const char *want)
{
	struct keel_etcd_range r;
	int rc = keel_etcd_range(c, key, 0, 0, &r);

	if (!strcmp(want, "ok"))
		CHECK(!rc, "range as %s: %s", opts.user ? opts.user : "nobody", rc ? keel_etcd_errmsg(c) : "answered");
	else if (!strcmp(want, "fails"))
		CHECK(rc < 0, "range: refused: %s (%s)", rc ? strerror(-rc) : "answered", keel_etcd_errmsg(c));
	else
		CHECK(rc == -EACCES, "range as %s: -EACCES (%s)", opts.user ? opts.user : "nobody", keel_etcd_errmsg(c));
	if (!rc)
		keel_etcd_range_free(&r);
	return 0;
}

/* The member forgets a token unused for --auth-token-ttl: the client authenticates again. */
static int cmd_auth_renew(struct keel_etcd *c, const char *key, int idle_s)
{
	struct keel_etcd_range r;
	int rc = keel_etcd_range(c, key, 0, 0, &r);

	if (!rc)
		keel_etcd_range_free(&r);
	sleep((unsigned)idle_s);
	rc = rc ? rc : keel_etcd_range(c, key, 0, 0, &r);
	CHECK(!rc, "a range %d s after the last one (the token expired meanwhile): %s", idle_s,
	      rc ? keel_etcd_errmsg(c) : "answered");
	if (!rc)
		keel_etcd_range_free(&r);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: etcd_check [-e EP,EP] [-t MS] [-T CONNECT_MS] [-u USER -p PASS] kv PREFIX | incr KEY N | get KEY |\n"
			"  watch PREFIX N | watch-compacted KEY FROM COMPACTED | watch-idle KEY IDLE_MS | watch-denied KEY |\n"
			"  lease PREFIX | latency KEY N | writer PREFIX SECONDS ACKFILE | verify PREFIX ACKFILE |\n"
			"  expect-fail KEY | unreachable KEY | failover KEY | auth KEY ok|denied|fails |\n"
			"  auth-renew KEY IDLE_S\n"
			"  (-C CA -c CERT -k KEY: TLS)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *eps = getenv("ETCD_ENDPOINTS"), *tok;
	struct keel_etcd *c;
	int o, rc = 2;

	while ((o = getopt(argc, argv, "e:t:T:u:p:C:c:k:")) != -1) {
		if (o == 'e')
			eps = optarg;
		else if (o == 't')
			opts.timeout_ms = (unsigned)atoi(optarg);
		else if (o == 'T')
			opts.connect_timeout_ms = (unsigned)atoi(optarg);
		else if (o == 'u')
			opts.user = optarg;
		else if (o == 'p')
			opts.password = optarg;
		else if (o == 'C')
			opts.ca_file = optarg;
		else if (o == 'c')
			opts.cert_file = optarg;
		else if (o == 'k')
			opts.key_file = optarg;
		else
			usage();
	}
	if (!eps || optind >= argc)
		usage();
	eps = strdup(eps);
	for (tok = strtok(eps, ","); tok && opts.n_endpoints < KEEL_ETCD_MAX_ENDPOINTS; tok = strtok(NULL, ","))
		opts.endpoints[opts.n_endpoints++] = tok;
	c = open_client();
	argv += optind;
	argc -= optind;
#define ARGS(n) if (argc != (n) + 1) usage()
	if (!strcmp(argv[0], "kv")) {
		ARGS(1);
		rc = cmd_kv(c, argv[1]);
	} else if (!strcmp(argv[0], "incr")) {
		ARGS(2);
		rc = cmd_incr(c, argv[1], atoi(argv[2]));
	} else if (!strcmp(argv[0], "get")) {
		char val[256];
		ARGS(1);
		get(c, argv[1], val, sizeof(val));
		printf("%s\n", val);
		rc = 0;
	} else if (!strcmp(argv[0], "watch")) {
		ARGS(2);
		rc = cmd_watch(c, argv[1], atoi(argv[2]));
	} else if (!strcmp(argv[0], "watch-compacted")) {
		ARGS(3);
		rc = cmd_watch_compacted(c, argv[1], atoll(argv[2]), atoll(argv[3]));
	} else if (!strcmp(argv[0], "watch-denied")) {
		ARGS(1);
		rc = cmd_watch_denied(c, argv[1]);
	} else if (!strcmp(argv[0], "watch-idle")) {
		ARGS(2);
		rc = cmd_watch_idle(c, argv[1], (unsigned)atoi(argv[2]));
	} else if (!strcmp(argv[0], "lease")) {
		ARGS(1);
		rc = cmd_lease(c, argv[1]);
	} else if (!strcmp(argv[0], "latency")) {
		ARGS(2);
		rc = cmd_latency(c, argv[1], atoi(argv[2]));
	} else if (!strcmp(argv[0], "writer")) {
		ARGS(3);
		rc = cmd_writer(c, argv[1], atof(argv[2]), argv[3]);
	} else if (!strcmp(argv[0], "verify")) {
		ARGS(2);
		rc = cmd_verify(c, argv[1], argv[2]);
	} else if (!strcmp(argv[0], "expect-fail")) {
		ARGS(1);
		rc = cmd_expect_fail(c, argv[1]);
	} else if (!strcmp(argv[0], "unreachable")) {
		ARGS(1);
		rc = cmd_unreachable(c, argv[1]);
	} else if (!strcmp(argv[0], "failover")) {
		ARGS(1);
		rc = cmd_failover(c, argv[1]);
	} else if (!strcmp(argv[0], "auth-renew")) {
		ARGS(2);
		rc = cmd_auth_renew(c, argv[1], atoi(argv[2]));
	} else if (!strcmp(argv[0], "auth")) {
		ARGS(2);
		rc = cmd_auth(c, argv[1], argv[2]);
	} else {
		usage();
	}
	keel_etcd_close(c);
	free(eps);
	return rc ? rc : fails ? 1 : 0;
}
