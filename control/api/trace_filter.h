/* A packet trace's filter from the API's JSON body (POST /v1/trace): every member known and in range. */
#ifndef KEEL_CONTROL_TRACE_FILTER_H
#define KEEL_CONTROL_TRACE_FILTER_H

#include <stddef.h>

#include <jansson.h>

#include "trace.h"

#define TRACE_DEFAULT_COUNT 10
#define TRACE_DEFAULT_MS 10000

/*
 * body (NULL: every default) into f; a "vip" member's name into vip (""
 * when none), for keel-control to resolve. 0, or -1 with errno EINVAL and
 * why. A filter it returns passes keel_trace_filter_check.
 */
int trace_filter_parse(const json_t *body, struct keel_trace_filter *f, char *vip, size_t viplen, char *why,
		       size_t whylen);

#endif
