/* keel-control's persisted state: the applied configuration, the id tables and the generation, written atomically. */
#ifndef KEEL_CONTROL_STATE_H
#define KEEL_CONTROL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "config_model.h"

/*
 * STATE_DIR/state.json holds {"version":1, "generation":N, "config":{...},
 * "ids":{...}}. state_save writes a temporary file, fsyncs it, renames it over
 * the old one and fsyncs the directory, so after a crash the file is either
 * the old state or the new one, never a mix; a change is acknowledged only
 * after state_save returned 0.
 */
/*
 * The largest generation a state file holds (a JSON integer is signed 64-bit).
 * state_save refuses anything past it (-EOVERFLOW, why says so) and changes
 * nothing; keel-control then refuses the edit or the publish that needed it.
 */
#define STATE_GENERATION_MAX ((uint64_t)INT64_MAX)

int state_save(const char *dir, uint64_t generation, const struct keel_config *cfg,
	       const struct ids *ids, char *why, size_t whylen);

/*
 * The host drain (keelctl host drain) is part of the one state file:
 * "host_drained": true while it holds (absent: not drained). state_save
 * writes it absent; keel-control saves through state_save_host only, so a
 * persist of the configuration keeps the drain and a drain keeps the
 * configuration. state_load_host reads it back (state_load ignores it).
 */
int state_save_host(const char *dir, uint64_t generation, const struct keel_config *cfg,
		    const struct ids *ids, bool host_drained, char *why, size_t whylen);
int state_load_host(const char *dir, uint64_t *generation, struct keel_config **cfg,
		    struct ids **ids, bool *host_drained, char *why, size_t whylen);

/*
 * Before the drain joined state.json it was the file STATE_DIR/bgp-drained.
 * An upgrade reads it once: state_old_drain says whether it is there; the
 * caller saves the drain in state.json (state_save_host) and only then
 * removes the old file (state_old_drain_remove: 0, or -EIO with why), so a
 * crash in between loses nothing.
 */
bool state_old_drain(const char *dir);
int state_old_drain_remove(const char *dir, char *why, size_t whylen);

/*
 * Load; -ENOENT when there is no state yet, -EINVAL (why) when it is unusable
 * (a directory or another non-file at the path is named as such). Removes the
 * temporary files of persists cut short first (state_clear_stale).
 */
int state_load(const char *dir, uint64_t *generation, struct keel_config **cfg, struct ids **ids,
	       char *why, size_t whylen);

/*
 * Remove .state.json.<pid> files that a keel-control killed during a persist
 * left behind: every one whose pid is not a live keel-control other than the
 * caller. Returns how many were removed.
 */
int state_clear_stale(const char *dir);

/*
 * Fleet mode: STATE_DIR/fleet_revision holds "applied revision R", the store revision of the fleet
 * spec that the persisted configuration came from. Written (atomically) after the configuration it
 * belongs to, so a crash between the two re-applies R, which changes nothing. Load: 0 if none.
 */
int state_save_revision(const char *dir, int64_t revision, char *why, size_t whylen);
int64_t state_load_revision(const char *dir);

/*
 * Replace dir/name by text, whole or not at all (a temporary file, fsync,
 * rename, then the directory's fsync): 0, or -EIO with *why.
 */
int state_write_file(const char *dir, const char *name, const char *text, char *why, size_t whylen);

#endif
