/* keel-control's persisted state: the applied configuration, the id tables and the generation, written atomically. */
#ifndef KEEL_CONTROL_STATE_H
#define KEEL_CONTROL_STATE_H

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
int state_save(const char *dir, uint64_t generation, const struct keel_config *cfg,
	       const struct ids *ids, char *why, size_t whylen);

/* Load; -ENOENT when there is no state yet, -EINVAL (why) when it is unusable. */
int state_load(const char *dir, uint64_t *generation, struct keel_config **cfg, struct ids **ids,
	       char *why, size_t whylen);

#endif
