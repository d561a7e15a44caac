/* The error table of the contract (KEEL_API_ERRORS): status, message and keelctl's exit code per error. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

static const struct keel_api_error errors[] = {
#define KEEL_API_ERROR_ROW(e, lay, st, ex, msg)                                                    \
	{ .err = e, .layer = KEEL_API_##lay, .status = st, .exit_code = KEEL_API_EXIT_##ex,        \
	  .message = msg },
	KEEL_API_ERRORS(KEEL_API_ERROR_ROW)
#undef KEEL_API_ERROR_ROW
};

const struct keel_api_error *keel_api_errors(size_t *n)
{
	*n = N_OF(errors);
	return errors;
}

const struct keel_api_error *keel_api_error_find(enum keel_api_layer layer, int err)
{
	for (size_t i = 0; i < N_OF(errors); i++)
		if (errors[i].layer == layer && errors[i].err == err)
			return &errors[i];
	return layer == KEEL_API_TRACE ? keel_api_error_find(KEEL_API_CONTROL, err) : NULL;
}

unsigned int keel_api_error_status(enum keel_api_layer layer, int err)
{
	const struct keel_api_error *e = keel_api_error_find(layer, err);

	return e ? e->status : layer == KEEL_API_REQUEST ? 400 : 500;
}

const char *keel_api_error_message(enum keel_api_layer layer, int err)
{
	const struct keel_api_error *e = keel_api_error_find(layer, err);

	return e ? e->message : layer == KEEL_API_REQUEST ? "malformed request" : "internal error";
}

int keel_api_exit_code(unsigned int status)
{
	if (status >= 200 && status < 300)
		return KEEL_API_EXIT_OK;
	for (size_t i = 0; i < N_OF(errors); i++)
		if (errors[i].status == status)
			return errors[i].exit_code;
	/* 503 (no dataplane), 500 (not persisted), anything unexpected: retry later. */
	return KEEL_API_EXIT_UNAVAILABLE;
}
