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
	if (status >= 200 && status < 300)
		return KEELCTL_OK;
	switch (status) {
	case 403:
		return KEELCTL_NOPERM;
	case 412: /* If-Match, or in a fleet the spec revision: changed since it was read */
		return KEELCTL_CONFLICT;
	case 400: /* what we sent was wrong: an address or name the daemon refuses */
	case 404: /* unknown VIP or backend */
	case 409: /* needs --force, or already there */
	case 413:
	case 415:
	case 422: /* refused by the validator */
		return KEELCTL_DATAERR;
	default:
		/* 503 (no dataplane), 500 (not persisted), anything unexpected: retry later. */
		return KEELCTL_UNAVAILABLE;
	}
}

/* Percent-encode everything but RFC 3986 unreserved characters. 0, or -1 when out is too short. */
int api_escape(char *out, size_t len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';

		if (o + (plain ? 1 : 3) >= len)
			return -1;
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
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

int api_call(struct ctl *c, const char *method, const char *path, const char *ctype,
	     const char *body, size_t len, int *status, json_t **out)
{
	struct http_response rsp;
	json_error_t jerr;
	int rc;

	*out = NULL;
	/* A fleet edit's precondition and wait travel as query parameters of the POST. */
	char full[1024];

	if (!strcmp(method, "POST") && (c->no_wait || c->revision)) {
		snprintf(full, sizeof(full), "%s%s%s%s", path, strchr(path, '?') ? "&" : "?",
			 c->no_wait ? "no_wait=1" : "", c->revision && c->no_wait ? "&" : "");
		if (c->revision)
			snprintf(full + strlen(full), sizeof(full) - strlen(full), "revision=%lld",
				 c->revision);
		path = full;
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

int api_get(struct ctl *c, const char *path, json_t **out)
{
	int status = 0, rc;

	rc = api_call(c, "GET", path, NULL, NULL, 0, &status, out);
	if (rc)
		return rc;
	if (status != 200) {
		rc = api_fail(c, c->cmd ? c->cmd : path, status, *out);
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}
