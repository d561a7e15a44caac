/* String table for the drop reasons declared in drop.h. */
#include "drop.h"

#define KEEL_DROP_STR(name, str) [KEEL_DROP_##name] = str,
static const char *const drop_names[KEEL_DROP_MAX] = {
	KEEL_DROP_REASONS(KEEL_DROP_STR)
};
#undef KEEL_DROP_STR

const char *keel_drop_name(unsigned int reason)
{
	if (reason >= KEEL_DROP_MAX)
		return "unknown";
	return drop_names[reason];
}
