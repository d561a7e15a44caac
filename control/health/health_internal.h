/*
 * The health checker's insides, shared by its files: the table (health.c), the
 * targets' canonical form and index (health_target.c), the two heaps
 * (health_heap.c) and the checker thread (health_checker.c). Not for users of
 * health.h.
 */
#ifndef KEEL_HEALTH_INTERNAL_H
#define KEEL_HEALTH_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "health.h"
#include "health_probe.h"
#include "health_tunnel.h"

/*
 * Locking: one mutex (h->lock) covers the target table, the index, the heaps
 * and every entry. The checker thread holds it while it starts probes and
 * handles socket events (all non-blocking, microseconds each) and drops it only
 * around epoll_wait(); health_set_targets() takes it.
 *
 * Readers take only h->st_lock, never h->lock: with thousands of probes the
 * checker is busy for long stretches and re-takes h->lock as soon as it drops
 * it (mutexes are not fair), so a reader that needs h->lock for each of 10 000
 * backends waits for seconds. st_lock covers what readers see: the entries
 * array and index (swapped by health_set_targets() under both locks), every
 * entry's st (written by the checker under st_lock, a few hundred ns per
 * finished probe) and the published figures (h->pub). An entry's key and hash
 * never change. Only the generation is read without a lock.
 *
 * Lifetime: only the checker thread frees entries. health_set_targets() moves
 * removed entries to h->retired and flags them; the checker closes their
 * sockets and frees them at the top of its loop, before it waits again, so an
 * event already fetched by epoll_wait() never points at freed memory.
 */

#define NS_PER_MS 1000000ull
#define CHECKER_EVENTS 64 /* epoll events handled per wakeup */
#define BEHIND_LOG_MS 60000ull   /* at most one health_behind_schedule line a minute */
#define BEHIND_HOLD_NS (10000ull * NS_PER_MS) /* behind stays set this long after a late start */
#define DEFER_RETRY_NS (100ull * NS_PER_MS)   /* EMFILE with nothing in flight: retry after this */

/* Which of the two heaps holds an entry (one at most). */
enum { IN_NONE = 0, IN_WAIT, IN_FLIGHT };

/* A min-heap of entries on due_ns; heap_idx lets the checker move an entry after an event. */
struct entry_heap {
	struct health_entry **a;
	uint32_t n;
};

struct health_entry {
	struct health_target key;  /* normalised (health_target_normalise), so equality is field-wise */
	uint64_t hash;
	struct health_probe probe; /* epoll cookie: this entry */
	uint64_t due_ns;           /* CLOCK_MONOTONIC: next start when idle, deadline when in flight */
	uint64_t anchor_ns;        /* start of the last probe; the next one starts interval later */
	uint32_t heap_idx;
	uint8_t in_heap;           /* IN_WAIT (idle, due_ns = start), IN_FLIGHT (due_ns = deadline) */
	uint32_t seen;             /* health_set_targets() pass that last listed it */
	bool fresh;                /* created by the running health_set_targets(), undone on failure */
	bool retired;              /* out of the table, waiting for the checker to free it */
	struct health_entry *next_retired;
	struct health_status st;
};

struct health_pub {
	uint32_t targets, in_flight, waiting;
	uint64_t started, late, deferred, last_late_ns;
	uint64_t oldest_due_ns; /* of the wait heap's top, 0 if empty */
	uint32_t oldest_interval_ms;
};

struct health {
	pthread_mutex_t lock;
	pthread_mutex_t st_lock; /* readers' lock; see above */
	struct health_pub pub;   /* under st_lock: the checker's figures as of its last loop */
	uint64_t waiting_at_ns;  /* checker: when pub.waiting was last counted */
	/* All below: checker rw, health_set_targets rw, health_get ro; under lock. */
	struct health_entry **entries; /* the current set, n_entries distinct targets */
	uint32_t n_entries;
	struct health_entry **index;   /* open addressing on hash; index_mask + 1 slots */
	uint32_t index_mask;
	/*
	 * The probed entries (type != NONE) are in exactly one of two heaps: wait
	 * (idle, on their next start) or flight (on their deadline). Two heaps so
	 * that due probes held back by the budget do not hide the deadlines that
	 * will free it.
	 */
	struct entry_heap wait, flight;
	uint32_t budget;     /* in flight at most; see health.h */
	uint32_t budget_eff; /* lowered on EMFILE, climbs back by one per finished probe */
	uint64_t started, late, deferred;
	uint64_t last_late_ns;   /* CLOCK_MONOTONIC of the last late start, 0 if none */
	uint64_t late_logged;    /* h->late when the last health_behind_schedule line was written */
	uint64_t last_log_ms;    /* CLOCK_MONOTONIC ms of that line, 0 if none */
	struct health_entry *retired;
	uint32_t pass;
	uint64_t rng;
	bool stop;

	/* Written by the checker under lock; read lock-free by health_generation(). */
	_Atomic uint64_t generation;

	int epfd;     /* checker: the probes' sockets, wake_fd, timer_fd */
	int wake_fd;  /* eventfd: set_targets and destroy -> checker */
	int timer_fd; /* timerfd armed at the earliest due_ns */
	int event_fd; /* eventfd: checker -> keel-control, on generation bumps */
	pthread_t thread;
	struct health_tunnel_conf tunnel; /* under lock; every probe points at it */
};

/* Clocks (health_checker.c). */
uint64_t health_now_mono_ns(void);
uint64_t health_now_real_ms(void);

/* Targets' canonical form and the open-addressing index (health_target.c). */
void health_target_normalise(struct health_target *dst, const struct health_target *src);
uint64_t health_target_hash(const struct health_target *t);
struct health_entry *health_index_find(struct health_entry **index, uint32_t mask,
				       const struct health_target *key, uint64_t hash);
void health_index_insert(struct health_entry **index, uint32_t mask, struct health_entry *e);

/* The wait and flight heaps (health_heap.c); all under h->lock. */
void health_heap_down(struct entry_heap *q, uint32_t i);
void health_heap_push(struct health *h, struct health_entry *e, uint8_t which);
void health_heap_remove(struct health *h, struct health_entry *e);

/* The checker thread (health_checker.c). */
void health_wake(int fd);
void health_reap_retired(struct health *h);
void *health_checker_main(void *arg);
uint64_t health_late_after_ns(uint32_t interval_ms);

#endif
