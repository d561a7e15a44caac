/* Slow start's driver (control_slow_start.c): ramps begun and cancelled at each publish, one publish per step. */
#ifndef KEEL_CONTROL_SLOW_START_DRIVER_H
#define KEEL_CONTROL_SLOW_START_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

struct keel_control;
struct spec_inputs;
struct spec_side;

/*
 * Before a publish (edit_mu held): notice the backends that came back since
 * the last publish (health up again, undrained or enabled, added to a VIP
 * that was there) under a VIP with slow_start, begin their ramps, cancel
 * those of backends that went down or were drained, forget finished ones;
 * then set in's weights to the ramps' (control/plan/slow_start.h).
 */
void control_slow_start_inputs(struct keel_control *c, struct spec_inputs *in);

/*
 * A preview side with the running ramps' weights (edit_mu held), so a
 * change's preview compares the tables really published. A backend the
 * ramps do not know yet (an added one) is counted at its first step, as the
 * publish will begin it. Returns s.
 */
struct spec_side *control_slow_start_side(struct keel_control *c, struct spec_side *s);

/*
 * The main loop's tick (edit_mu held): at a step boundary, the step's
 * preview against the running weights, the max-move guard and an audit
 * event, then a publish is asked for (need_publish, need_bump). A step the
 * guard refuses is audited as refused and retried at the next boundary; the
 * last step (the configured weight) is published whatever it moves, as a
 * health change would be.
 */
void control_slow_start_tick(struct keel_control *c);

/*
 * The ramp of backend id bid for the views (mu held): false when it takes
 * its configured weight; else the published step's percent of it and the
 * wall-clock ms when the ramp ends.
 */
bool control_slow_start_ramp(struct keel_control *c, int bid, uint32_t *percent, uint64_t *until_ms);

void control_slow_start_free(struct keel_control *c);

#endif
