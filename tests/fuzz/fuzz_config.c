/* libFuzzer harness: the configuration loader on arbitrary YAML; whatever it accepts must survive its canonical JSON form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keel_config *cfg = NULL, *back = NULL;
	struct config_error err;
	json_t *j;

	if (config_load_buffer((const char *)data, size, "fuzz", &cfg, &err)) {
		/* A refusal is always reported, and names its origin. */
		if (cfg || strncmp(err.msg, "fuzz", 4) || !memchr(err.msg, '\0', sizeof(err.msg)))
			abort();
		return 0;
	}
	/* Accepted: dump and reload must give the same model (what the state file relies on). */
	j = config_to_json(cfg);
	if (!j || config_from_json(j, "dump", &back, &err) || !config_equal(cfg, back))
		abort();
	json_decref(j);
	config_free(back);
	config_free(cfg);
	return 0;
}
