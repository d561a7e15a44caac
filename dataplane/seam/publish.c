/* The publishing side of the seam: maps a dataplane's region and hands it snapshots through the worker rings. */
#include "seam.h"
#include "seam_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "snapshot.h"


uint64_t keel_seam_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

struct keel_seam *keel_seam_open(const char *name, const char **why)
{
	const char *bad, *unused;
	struct keel_seam *s;
	char path[256];
	struct stat st;
	int err;

	why = why ? why : &unused;
	*why = "";
	err = keel_region_path(name, path, sizeof(path));
	if (err) {
		*why = "bad instance name";
		errno = -err;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		*why = errno == ENOENT ? "no region (is keel-dataplane running?)" : "cannot open the region";
		goto out_free;
	}
	if (fstat(s->fd, &st) || (size_t)st.st_size < sizeof(struct keel_region)) {
		*why = "region file shorter than this build's header";
		errno = EPROTO;
		goto out_close;
	}
	s->size = (size_t)st.st_size;
	s->r = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->r == MAP_FAILED) {
		*why = "cannot map the region";
		goto out_close;
	}
	/* acquire: pairs with the dataplane's release store of the magic, made once the layout is complete. */
	if (__atomic_load_n(&s->r->magic, __ATOMIC_ACQUIRE) != KEEL_REGION_MAGIC)
		bad = "not a Keel region, or not initialised yet (bad magic)";
	else
		bad = keel_region_check(s->r, s->size);
	if (bad) {
		*why = bad;
		munmap(s->r, s->size);
		errno = EPROTO;
		goto out_close;
	}
	pthread_mutex_init(&s->post_mu, NULL);
	pthread_mutex_init(&s->summary_mu, NULL);
	pthread_rwlock_init(&s->slot_rw, NULL);
	s->ino = st.st_ino;
	s->inherited = true;
	/* Continue the numbering of an earlier publisher, so its late answers cannot pass for ours. */
	for (uint32_t w = 0; w < s->r->n_workers; w++)
		if (s->r->query_reply[w].seq > s->query_seq)
			s->query_seq = s->r->query_reply[w].seq;
	return s;

out_close:
	err = errno;
	close(s->fd);
	errno = err;
out_free:
	err = errno;
	free(s);
	errno = err;
	return NULL;
}

void keel_seam_close(struct keel_seam *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < KEEL_REGION_MAX_SLOTS; i++)
		free(s->memo[i]);
	pthread_rwlock_destroy(&s->slot_rw);
	pthread_mutex_destroy(&s->summary_mu);
	pthread_mutex_destroy(&s->post_mu);
	munmap(s->r, s->size);
	close(s->fd);
	free(s);
}

bool keel_seam_alive(struct keel_seam *s)
{
	uint32_t state = __atomic_load_n(&s->r->state, __ATOMIC_ACQUIRE);

	if (state != KEEL_REGION_RUNNING)
		return false;
	return kill((pid_t)s->r->pid, 0) == 0 || errno == EPERM;
}

/* acquire: pairs with the worker's release store after it switched snapshots. */
static uint64_t worker_gen(struct keel_seam *s, uint32_t w)
{
	return __atomic_load_n(&keel_region_status(s->r, w)->active_generation, __ATOMIC_ACQUIRE);
}

static bool all_at(struct keel_seam *s, uint64_t gen)
{
	uint32_t w;

	for (w = 0; w < s->r->n_workers; w++)
		if (worker_gen(s, w) < gen)
			return false;
	return true;
}

static bool rings_empty(struct keel_seam *s)
{
	uint32_t w;

	for (w = 0; w < s->r->n_workers; w++)
		if (rte_ring_count(keel_region_ring(s->r, w)))
			return false;
	return true;
}

/*
 * A slot is free when no worker runs on it and no activation of it can
 * still be dequeued: every worker's generation has reached the one last
 * posted into it. Until the rings we inherited have drained, we cannot know
 * what they still hold, so only that wait frees slots.
 */
static bool slot_busy(struct keel_seam *s, uint32_t slot)
{
	uint32_t w;

	if (s->inherited) {
		if (!rings_empty(s))
			return true;
		s->inherited = false;
	}
	for (w = 0; w < s->r->n_workers; w++) {
		/* acquire: pairs with the worker's release store of active_slot (keel_status_activated). */
		if (__atomic_load_n(&keel_region_status(s->r, w)->active_slot, __ATOMIC_ACQUIRE) ==
		    slot)
			return true;
		if (s->slot_gen[slot] && worker_gen(s, w) < s->slot_gen[slot])
			return true;
	}
	return false;
}

static int post(struct keel_seam *s, struct keel_cmd *cmd, uint64_t deadline)
{
	uint32_t w;
	int ret = 0;

	pthread_mutex_lock(&s->post_mu);
	for (w = 0; w < s->r->n_workers && !ret; w++) {
		/* Release on the ring tail: the snapshot bytes are visible before the message. */
		while (rte_ring_enqueue_elem(keel_region_ring(s->r, w), cmd, sizeof(*cmd)) != 0) {
			if (keel_seam_now_ms() > deadline) {
				ret = -ETIMEDOUT;
				break;
			}
			sleep_ms(1);
		}
	}
	pthread_mutex_unlock(&s->post_mu);
	return ret;
}

static void memos_forget(struct keel_seam *s)
{
	for (uint32_t i = 0; i < KEEL_REGION_MAX_SLOTS; i++)
		if (s->memo[i])
			s->memo[i]->n = 0;
}

static int publish_once(struct keel_seam *s, const struct keel_snapshot_spec *spec,
			uint32_t timeout_ms, const char **why);

int keel_seam_publish(struct keel_seam *s, const struct keel_snapshot_spec *spec,
		      uint32_t timeout_ms, const char **why)
{
	int ret = publish_once(s, spec, timeout_ms, why);

	/* Whatever went wrong, the next publish writes every byte again. */
	if (ret)
		memos_forget(s);
	return ret;
}

static int publish_once(struct keel_seam *s, const struct keel_snapshot_spec *spec,
			uint32_t timeout_ms, const char **why)
{
	uint64_t deadline = keel_seam_now_ms() + timeout_ms, refused[KEEL_REGION_MAX_WORKERS];
	struct keel_cmd cmd = { .type = KEEL_CMD_ACTIVATE, .generation = spec->generation };
	uint32_t slot, w;
	int ret;

	if (!keel_seam_alive(s)) {
		*why = "dataplane not running";
		return -EPIPE;
	}
	for (w = 0; w < s->r->n_workers; w++)
		if (worker_gen(s, w) >= spec->generation) {
			*why = "generation not newer than a worker's active one";
			return -EINVAL;
		}
	for (slot = 0; slot < s->r->n_slots; slot++)
		if (!slot_busy(s, slot))
			break;
	if (slot == s->r->n_slots) {
		*why = "no free snapshot slot: a worker has not acknowledged an older one";
		return -EBUSY;
	}
	if (keel_snapshot_size(spec) > s->r->slot_size) {
		*why = "snapshot larger than a slot (dataplane --slot-size)";
		return -ENOSPC;
	}
	pthread_rwlock_wrlock(&s->slot_rw);
	/* Best effort: without a memo every table is copied. */
	if (!s->memo[slot])
		s->memo[slot] = calloc(1, sizeof(*s->memo[slot]));
	ret = keel_snapshot_build_over(keel_region_slot(s->r, slot), s->r->slot_size, spec, s->memo[slot], why);
	pthread_rwlock_unlock(&s->slot_rw);
	if (ret)
		return ret;

	/* acquire: pairs with the worker's release store of refused (keel_status_refused). */
	for (w = 0; w < s->r->n_workers; w++)
		refused[w] = __atomic_load_n(&keel_region_status(s->r, w)->refused, __ATOMIC_ACQUIRE);
	cmd.slot = slot;
	s->slot_gen[slot] = spec->generation;
	ret = post(s, &cmd, deadline);
	if (ret) {
		*why = "a worker's command ring stayed full";
		return ret;
	}
	for (;;) {
		if (all_at(s, spec->generation))
			return 0;
		for (w = 0; w < s->r->n_workers; w++)
			if (__atomic_load_n(&keel_region_status(s->r, w)->refused, __ATOMIC_ACQUIRE) !=
			    refused[w]) {
				*why = "a worker refused the snapshot as invalid";
				return -EINVAL;
			}
		if (keel_seam_now_ms() > deadline || !keel_seam_alive(s)) {
			*why = "a worker did not acknowledge in time";
			return -ETIMEDOUT;
		}
		sleep_ms(1);
	}
}

const struct keel_snapshot *keel_seam_read_active(struct keel_seam *s)
{
	uint32_t slot;

	pthread_rwlock_rdlock(&s->slot_rw);
	/* acquire: pairs with worker 0's release store of active_slot (keel_status_activated). */
	slot = __atomic_load_n(&keel_region_status(s->r, 0)->active_slot, __ATOMIC_ACQUIRE);
	if (slot < s->r->n_slots)
		return keel_region_slot(s->r, slot);
	pthread_rwlock_unlock(&s->slot_rw);
	return NULL;
}

void keel_seam_read_done(struct keel_seam *s)
{
	pthread_rwlock_unlock(&s->slot_rw);
}

int keel_seam_query_flow(struct keel_seam *s, const struct keel_flow_key *key,
			 uint32_t timeout_ms, struct keel_flow_answer *out)
{
	struct keel_cmd cmd = { .type = KEEL_CMD_LOOKUP };
	uint64_t deadline = keel_seam_now_ms() + timeout_ms;
	uint32_t w, n;

	if (!keel_seam_alive(s))
		return -EPIPE;
	s->query_seq++;
	s->r->query_key = *key; /* ordered before the messages by the rings' release */
	cmd.arg = s->query_seq;
	if (post(s, &cmd, deadline))
		return -ETIMEDOUT;
	for (;;) {
		for (w = 0, n = 0; w < s->r->n_workers; w++) {
			__typeof__(s->r->query_reply[0]) *rep = &s->r->query_reply[w];

			out[w].answered = __atomic_load_n(&rep->seq, __ATOMIC_ACQUIRE) == s->query_seq;
			out[w].hit = out[w].answered && rep->hit;
			out[w].backend = rep->backend;
			out[w].vip = rep->vip;
			n += out[w].answered;
		}
		if (n == s->r->n_workers || keel_seam_now_ms() > deadline)
			return (int)n;
		sleep_ms(1);
	}
}

int keel_seam_flush_backend(struct keel_seam *s, uint16_t backend_id)
{
	struct keel_cmd cmd = { .type = KEEL_CMD_FLUSH_BACKEND, .arg = backend_id };

	if (!keel_seam_alive(s))
		return -EPIPE;
	return post(s, &cmd, keel_seam_now_ms() + 1000);
}

void keel_seam_read_status(struct keel_seam *s, uint32_t w, struct keel_worker_status *out)
{
	const struct keel_worker_status *st = keel_region_status(s->r, w);

	/* Each word as the header's table says: acquire where the worker releases, else relaxed. */
	memset(out, 0, sizeof(*out));
	out->active_generation = __atomic_load_n(&st->active_generation, __ATOMIC_ACQUIRE);
	out->active_slot = __atomic_load_n(&st->active_slot, __ATOMIC_ACQUIRE);
	out->refused = __atomic_load_n(&st->refused, __ATOMIC_ACQUIRE);
	out->heartbeat_ms = __atomic_load_n(&st->heartbeat_ms, __ATOMIC_RELAXED);
	out->activations = __atomic_load_n(&st->activations, __ATOMIC_RELAXED);
	out->busy_cycles = __atomic_load_n(&st->busy_cycles, __ATOMIC_RELAXED);
	out->idle_cycles = __atomic_load_n(&st->idle_cycles, __ATOMIC_RELAXED);
	/* Written once before the region is RUNNING (ordered by the state's release store). */
	out->lcore = st->lcore;
	out->socket = st->socket;
	out->numa_mismatch = st->numa_mismatch;
}

void keel_seam_sum_counters(struct keel_seam *s, struct keel_worker_counters *out)
{
	const size_t words = sizeof(*out) / sizeof(uint64_t);
	uint64_t *o = (uint64_t *)out;
	uint32_t w;
	size_t i;

	_Static_assert(sizeof(struct keel_worker_counters) % sizeof(uint64_t) == 0,
		       "counters are summed as 64-bit words");
	memset(out, 0, sizeof(*out));
	for (w = 0; w < s->r->n_workers; w++) {
		const uint64_t *c = (const uint64_t *)keel_region_counters(s->r, w);

		/* Single writer per word: a relaxed read sees a whole, possibly slightly old, value. */
		for (i = 0; i < words; i++)
			o[i] += __atomic_load_n(&c[i], __ATOMIC_RELAXED);
	}
}
