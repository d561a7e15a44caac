/* Slow start's ramp (slow_start.h): pure arithmetic on the window, the ramp's beginning and the clock. */
#include "slow_start.h"

uint64_t slow_start_step_ms(uint32_t window_ms)
{
	uint64_t s = window_ms / SLOW_START_STEPS;

	return s ? s : 1;
}

uint64_t slow_start_begin(uint32_t window_ms, uint64_t now_ms)
{
	uint64_t s = slow_start_step_ms(window_ms);

	return now_ms / s * s;
}

uint32_t slow_start_step(uint32_t window_ms, uint64_t begin_ms, uint64_t now_ms)
{
	uint64_t s = slow_start_step_ms(window_ms), k;

	if (now_ms < begin_ms)
		return 1;
	k = (now_ms - begin_ms) / s;
	return k >= SLOW_START_STEPS ? 0 : (uint32_t)k + 1;
}

uint64_t slow_start_end(uint32_t window_ms, uint64_t begin_ms)
{
	return begin_ms + SLOW_START_STEPS * slow_start_step_ms(window_ms);
}

uint64_t slow_start_next(uint32_t window_ms, uint64_t begin_ms, uint64_t now_ms)
{
	uint64_t s = slow_start_step_ms(window_ms);

	if (now_ms < begin_ms)
		return begin_ms + s;
	return begin_ms + ((now_ms - begin_ms) / s + 1) * s;
}

uint32_t slow_start_weight(uint32_t weight, uint32_t step)
{
	/* weight <= 65535 (config): times 5 fits 32 bits. */
	return weight * (step && step <= SLOW_START_STEPS ? step : SLOW_START_SCALE);
}

uint32_t slow_start_percent(uint32_t step)
{
	return step && step <= SLOW_START_STEPS ? step * 100 / SLOW_START_SCALE : 100;
}
