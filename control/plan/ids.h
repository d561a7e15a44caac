/* Stable ids for VIPs and backends: counters and tracked flows refer to them across snapshots and restarts. */
#ifndef KEEL_CONTROL_IDS_H
#define KEEL_CONTROL_IDS_H

#include <stdint.h>

#include <jansson.h>

#include "config_model.h"

/*
 * A VIP keeps its id for as long as its name is configured; a backend for as
 * long as (VIP name, address) is. A freed backend id is not given out again
 * for IDS_QUARANTINE_MS: workers' flow tables may still name it, and a reused
 * id would send those flows to a stranger.
 */
#define IDS_QUARANTINE_MS (20u * 60 * 1000)

struct ids;

struct ids *ids_new(void);
void ids_free(struct ids *ids);

/* Assign ids for every VIP and backend of cfg (keeping existing ones), release the others. 0 or -ENOSPC. */
int ids_sync(struct ids *ids, const struct keel_config *cfg, uint64_t now_ms);

/* Ids of a configured VIP / backend (after ids_sync); -1 if unknown. */
int ids_vip(const struct ids *ids, const char *vip);
int ids_backend(const struct ids *ids, const char *vip, const uint8_t addr[16], uint8_t family);

/* A copy (for trying a change without touching the live table). */
struct ids *ids_clone(const struct ids *ids);

/* Persisted form and back; ids_from_json returns NULL on a malformed tree. */
json_t *ids_to_json(const struct ids *ids);
struct ids *ids_from_json(const json_t *j);

#endif
