/* The management API's one errno table: each error the control layer returns as an HTTP status and a message. */
#ifndef KEEL_CONTROL_API_STATUS_H
#define KEEL_CONTROL_API_STATUS_H

#include <stddef.h>

struct api_status {
	int err;             /* positive errno */
	unsigned int status; /* HTTP status */
	const char *message; /* when the control layer gave no reason of its own */
};

/* The HTTP status of a positive errno; 500 for one not in the table. */
unsigned int api_status_of(int err);

/* Its default message (never NULL). */
const char *api_status_message(int err);

/* The table itself, for tests and docs: n rows. */
const struct api_status *api_status_table(size_t *n);

/* The status of a request-layer error (api_request.c: EINVAL there is a malformed request): 400 unless listed. */
unsigned int api_status_of_request(int err);
const struct api_status *api_status_request_table(size_t *n);

#endif
