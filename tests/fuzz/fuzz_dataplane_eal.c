/* libFuzzer harness: a /proc/PID/cmdline as keel-control reads keel-dataplane's EAL options from it, on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane_eal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dataplane_eal e;
	/* A copy of exactly size bytes: ASan catches any read past the command line. */
	char *buf = malloc(size ? size : 1);
	int rc;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	rc = dataplane_eal_parse(buf, size, &e);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && (!e.file_prefix[0] || strlen(e.file_prefix) >= sizeof(e.file_prefix) ||
			strlen(e.why) >= sizeof(e.why) || (!e.capture && !e.why[0])))
		abort();
	free(buf);
	return 0;
}
