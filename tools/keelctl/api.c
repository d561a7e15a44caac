/* keelctl's calls of the management API: one request, its JSON answer, and the exit code of a failure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "keelctl.h"

/* Long enough for an apply that waits for the dataplane to take the snapshot. */
#define API_TIMEOUT_MS 30000

int api_exit_code(int status)
{
	/* The contract's error table: one exit code per HTTP status (api/keel_api.h). */
	return keel_api_exit_code((unsigned int)status);
}

bool api_arg_fits(const char *s)
{
	char e[200];

	/* The bound keelctl always had on one %-encoded path parameter. */
	return !keel_api_escape(e, sizeof(e), s);
}

static int connect_failure(struct ctl *c, int err)
{
	switch (err) {
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "keelctl: %s: permission denied (root, or a member of the API's group: "
				"api.group in the configuration)\n", c->socket);
		return KEELCTL_NOPERM;
	case -ENOENT:
	case -ECONNREFUSED:
	case -ENOTDIR:
		fprintf(stderr, "keelctl: %s: keel-control is not running (%s); start it, or point "
				"--socket or KEEL_SOCKET at its api.socket\n", c->socket, strerror(-err));
		return KEELCTL_UNAVAILABLE;
	case -ETIMEDOUT:
		fprintf(stderr, "keelctl: %s: keel-control did not answer in %d s\n", c->socket,
			API_TIMEOUT_MS / 1000);
		return KEELCTL_UNAVAILABLE;
	case -EPROTO:
		fprintf(stderr, "keelctl: %s: malformed answer (is this keel-control's socket?)\n",
			c->socket);
		return KEELCTL_UNAVAILABLE;
	default:
		fprintf(stderr, "keelctl: %s: %s\n", c->socket, strerror(-err));
		return KEELCTL_UNAVAILABLE;
	}
}

int api_call(struct ctl *c, enum keel_api_route r, const char *vip, const char *addr,
	     const struct keel_api_query *q, const char *ctype, const char *body, size_t len,
	     int *status, json_t **out)
{
	const struct keel_api_route_def *d = keel_api_route(r);
	struct keel_api_query full = { 0 };
	const char *method = d ? keel_api_method_name(d->method) : "";
	struct http_response rsp;
	char path[KEEL_API_PATH_MAX];
	json_error_t jerr;
	int rc;

	*out = NULL;
	if (q)
		full = *q;
	/* A fleet edit's precondition and wait travel as query parameters of the POST. */
	if (d && d->method == KEEL_API_POST) {
		full.no_wait = full.no_wait || c->no_wait;
		if (c->revision)
			full.revision = c->revision;
	}
	if (keel_api_path(path, sizeof(path), r, vip, addr, &full)) {
		fprintf(stderr, "keelctl: %s: argument too long\n", c->cmd ? c->cmd : "keelctl");
		return KEELCTL_USAGE;
	}
	rc = http_request(c->socket, method, path, ctype, c->if_match, body, len, API_TIMEOUT_MS,
			  &rsp);
	if (rc)
		return connect_failure(c, rc);
	memcpy(c->etag, rsp.etag, sizeof(c->etag));
	*status = rsp.status;
	*out = json_loadb(rsp.body, rsp.len, JSON_DECODE_ANY, &jerr);
	if (!*out) {
		/* Every answer of the API is JSON; libmicrohttpd's own refusals are not. */
		fprintf(stderr, "keelctl: %s: HTTP %d with a body that is not JSON (%s %s): %.120s\n",
			c->cmd ? c->cmd : path, rsp.status, method, path, rsp.body);
		http_response_free(&rsp);
		return rsp.status >= 200 && rsp.status < 300 ? KEELCTL_UNAVAILABLE :
							       api_exit_code(rsp.status);
	}
	http_response_free(&rsp);
	return KEELCTL_OK;
}

int api_fail(struct ctl *c, const char *what, int status, json_t *body)
{
	const char *why = jstr(body, "error");

	/* One line on stderr; with -j the daemon's JSON also goes to stdout for scripts. */
	fprintf(stderr, "keelctl: %s: %s\n", what, *why ? why : "failed");
	if (c->json && body)
		json_print(body);
	(void)status;
	return api_exit_code(status);
}

int api_get(struct ctl *c, enum keel_api_route r, const char *vip,
	    const struct keel_api_query *q, json_t **out)
{
	int status = 0, rc;

	rc = api_call(c, r, vip, NULL, q, NULL, NULL, 0, &status, out);
	if (rc)
		return rc;
	if (status != 200) {
		rc = api_fail(c, c->cmd ? c->cmd : keel_api_route(r)->pattern, status, *out);
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}
