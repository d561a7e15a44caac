/*
 * Health the fleet agrees on (docs/fleet.md): every host publishes its own verdicts (after rise/fall)
 * in one document under its lease, and every host folds the same documents, read at the same store
 * revision, with one rule. Pure functions over jansson values: no store, no clock, no checker.
 *
 * A host's document (<prefix>/health/<host>):
 *   {"version":1,"vips":{"web":{"up":["10.0.0.1",...],"down":["10.0.0.2"]}}}
 * A backend listed under "up" or "down" is checked by that host; one in neither (not probed yet,
 * or no check) is not counted; one listed twice (or as up and down) counts once, as its first
 * listing (up before down): one host, one vote. Addresses are in canonical text (config_format_addr).
 *
 * The rule, per (VIP, backend): among the live hosts whose document lists it, the fleet says
 * down when a strict majority says down (2 * down > checking). A tie is up; nobody checking is up
 * (as a backend not probed yet is routable on one host); one host alone is its own verdict.
 */
#ifndef KEEL_CONTROL_FLEET_VERDICT_H
#define KEEL_CONTROL_FLEET_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define FLEET_VERDICT_VERSION 1

/* One host's document as read from the store; lease 0 (written without a lease) is nobody's. */
struct fleet_verdict_doc {
	const char *host;
	int64_t lease;
	const char *value; /* the document's bytes (not NUL-terminated) */
	size_t len;
};

/* The strict-majority rule: down when more than half of those that check it say down. */
static inline bool fleet_verdict_down(uint32_t down, uint32_t checking)
{
	return checking > 0 && 2 * (uint64_t)down > checking;
}

/*
 * Fold n documents into {vip: {address: [down, checking]}} (a new reference). Documents that are
 * not leased, not JSON, of another version or of the wrong shape count as no verdicts (counted in
 * *ignored when it is not NULL). The result does not depend on the order of docs. NULL: no memory.
 */
json_t *fleet_verdict_fold(const struct fleet_verdict_doc *docs, size_t n, uint32_t *ignored);

/* Counts of one backend in a fold; false when no live host checks it (then down = checking = 0). */
bool fleet_verdict_counts(const json_t *fold, const char *vip, const char *addr, uint32_t *down,
			  uint32_t *checking);

/* The fleet's verdict: 1 routable, 0 down (no counts: routable). */
int fleet_verdict_routable(const json_t *fold, const char *vip, const char *addr);

/* Add one verdict to a document being built (doc: {"version":1,"vips":{}}); 0 or -ENOMEM. */
json_t *fleet_verdict_doc_new(void);
int fleet_verdict_doc_add(json_t *doc, const char *vip, const char *addr, bool down);

#endif
