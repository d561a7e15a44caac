/* libFuzzer harness for keel_exc_classify: any bytes as a frame, read only within their length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exception_class.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that ASan sees any read past the frame. */
	uint8_t *f = malloc(size ? size : 1);

	if (!f)
		return 0;
	memcpy(f, data, size);
	(void)keel_exc_classify(f, (uint32_t)size);
	free(f);
	return 0;
}
