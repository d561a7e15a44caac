/* The management API's one errno table: every route turns a control error into a status through it. */
#include "api_status.h"

#include <errno.h>

/*
 * docs/api.md lists the same statuses. 503 means "the dataplane is not there
 * or did not answer: retry later", whatever the reason it is not there
 * (never attached, or attached and dead since), so a client can tell it from
 * a change that can never succeed (4xx).
 */
static const struct api_status table[] = {
	{ ENOENT, 404, "no such VIP or backend" },
	{ EAFNOSUPPORT, 400, "address of another family than the VIP's" },
	{ EDESTADDRREQ, 400, "the VIP's destination port is missing or another" },
	{ EINVAL, 422, "refused by the validator" },
	{ EPERM, 409, "refused without force" },
	{ EEXIST, 409, "conflicts with what is there" },
	{ EFBIG, 413, "too large" },
	{ ESTALE, 412, "changed since it was read (the If-Match generation, or in a fleet the spec revision): read it again" },
	{ ENOTCONN, 503, "dataplane not running" },
	{ EPIPE, 503, "dataplane not running" },
	{ ECONNREFUSED, 503, "dataplane not running" },
	{ ESRCH, 503, "dataplane not running" },
	{ EHOSTDOWN, 503, "dataplane not running" },
	{ EAGAIN, 503, "no snapshot active yet" },
	{ ETIMEDOUT, 503, "the dataplane did not answer in time" },
	{ EBUSY, 503, "the dataplane has not acknowledged an older snapshot" },
	{ EIO, 500, "state not persisted" },
	{ ENOLINK, 503, "the fleet store is unreachable: edits are refused" },
	{ ENOMEM, 500, "out of memory" },
};

/*
 * The request layer (api_request.c: routing, query, body) has its own
 * convention, where EINVAL is a malformed request (400), not a refused change:
 * its few errnos are here too, so that every errno-to-status decision of the
 * API is in this file.
 */
static const struct api_status request_table[] = {
	{ ENOENT, 404, "no such resource" },
	{ EOPNOTSUPP, 405, "method not allowed" },
	{ EFBIG, 413, "body over the limit" },
	{ ENOMEM, 500, "out of memory" },
};

static const struct api_status *find_in(const struct api_status *t, size_t n, int err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].err == err)
			return &t[i];
	return NULL;
}

static const struct api_status *find(int err)
{
	return find_in(table, sizeof(table) / sizeof(table[0]), err);
}

unsigned int api_status_of_request(int err)
{
	const struct api_status *s =
		find_in(request_table, sizeof(request_table) / sizeof(request_table[0]), err);

	return s ? s->status : 400;
}

unsigned int api_status_of(int err)
{
	const struct api_status *s = find(err);

	return s ? s->status : 500;
}

const char *api_status_message(int err)
{
	const struct api_status *s = find(err);

	return s ? s->message : "internal error";
}

const struct api_status *api_status_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct api_status *api_status_request_table(size_t *n)
{
	*n = sizeof(request_table) / sizeof(request_table[0]);
	return request_table;
}
