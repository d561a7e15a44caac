/* The audit log: one event per change to the running configuration (or refusal), who asked, what moved, bounded and persisted. */
#ifndef KEEL_CONTROL_AUDIT_H
#define KEEL_CONTROL_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "keel_api.h"

#define AUDIT_MAX_EVENTS 200 /* kept in memory and in the state directory's audit.json */
#define AUDIT_DIFF_LINES 32  /* diff lines kept per event */

struct audit;

/*
 * Who is changing things on this thread: the API sets it from the caller's
 * SO_PEERCRED before serving a request, the SIGHUP handler from the
 * signal's sender (signalfd). uid/pid < 0: not known. Cleared afterwards.
 */
void audit_actor_set(const char *source, int64_t uid, int64_t pid);
void audit_actor_clear(void);

/* The events kept in state_dir/audit.json (none when absent or unreadable); NULL when out of memory. */
struct audit *audit_open(const char *state_dir);
void audit_free(struct audit *a);

/*
 * Record one event: applied (at generation) or refused (why), the
 * preview's moved share per VIP (preview: spec_preview_fill's, may be
 * NULL) and the diff (config_diff's array, stolen; may be NULL). Logged as
 * an "audit" line and persisted (a failed write is logged, the event kept).
 */
void audit_event(struct audit *a, uint64_t generation, bool applied, const char *why,
		 const struct keel_api_preview *preview, json_t *diff);

/* The last n events, newest last. */
json_t *audit_history_json(struct audit *a, size_t n);

#endif
