/* Slow start: the weight a backend that came back has in its VIP's Maglev table, step by step over a window. */
#ifndef KEEL_CONTROL_SLOW_START_H
#define KEEL_CONTROL_SLOW_START_H

#include <stdint.h>

/*
 * A backend that comes back (health up again, undrained, enabled, or added
 * to a VIP that was already there) under a VIP with `slow_start: W` takes
 * 1/5, 2/5, 3/5 and 4/5 of its configured weight, one step per W/4, then
 * all of it. The steps are few on purpose: each is one publish.
 *
 * Step boundaries are wall-clock multiples of the step (W/4): a ramp begins
 * at the boundary at or before the return, so hosts whose clocks agree and
 * who see the return within one step change weights at the same instants
 * (fleet mode builds equal tables from equal inputs). The first step is
 * therefore between 0 and W/4 long, and full weight comes 3/4 W to W after
 * the return.
 *
 * The table takes integers and a default weight is 1, so a fraction of a
 * weight cannot be written as such: every backend of a slow-start VIP goes
 * into the table with weight * SLOW_START_SCALE and a ramping one with
 * weight * step. Maglev's proportional turns depend only on the ratios of
 * weights (dataplane/core/maglev.c), so the uniform factor changes no slot.
 */
#define SLOW_START_STEPS 4u                    /* partial steps before the full weight */
#define SLOW_START_SCALE (SLOW_START_STEPS + 1) /* 1/5 .. 4/5, then 5/5 */

/* One step of a window (ms, > 0): window / SLOW_START_STEPS, at least 1 ms. */
uint64_t slow_start_step_ms(uint32_t window_ms);

/* Where a ramp for a return at now_ms (wall clock, ms) begins: the step boundary at or before it. */
uint64_t slow_start_begin(uint32_t window_ms, uint64_t now_ms);

/*
 * The step (1..SLOW_START_STEPS) of a ramp that began at begin_ms, at now_ms;
 * 0 once it is over (full weight). A clock that went back before the
 * beginning is in the first step.
 */
uint32_t slow_start_step(uint32_t window_ms, uint64_t begin_ms, uint64_t now_ms);

/* When the ramp is over: begin + SLOW_START_STEPS steps. */
uint64_t slow_start_end(uint32_t window_ms, uint64_t begin_ms);

/* The next step boundary after now_ms of a ramp that began at begin_ms (now before the end). */
uint64_t slow_start_next(uint32_t window_ms, uint64_t begin_ms, uint64_t now_ms);

/*
 * The weight the table gets for a backend of configured weight under a
 * slow-start VIP, scaled by SLOW_START_SCALE: weight * step while it ramps
 * (step 1..SLOW_START_STEPS), weight * SLOW_START_SCALE otherwise (step 0).
 */
uint32_t slow_start_weight(uint32_t weight, uint32_t step);

/* Percent of the configured weight at step (step 0: 100). */
uint32_t slow_start_percent(uint32_t step);

#endif
