/* libFuzzer harness: a packet trace's filter from arbitrary JSON (POST /v1/trace); what it accepts, the workers must accept too. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "trace_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keel_trace_filter f;
	char vip[64], why[512];
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	if (!j)
		return 0;
	/* A filter the API takes is never refused by a worker (keel_trace_worker_sync drops it). */
	if (!trace_filter_parse(j, &f, vip, sizeof(vip), why, sizeof(why)) && keel_trace_filter_check(&f))
		abort();
	json_decref(j);
	return 0;
}
