/*
 * The etcd client (etcd.h) and its transport: one HTTP POST of JSON per call through libcurl,
 * the endpoints tried in turn on a connect failure, the whole call within opts.timeout_ms.
 *
 * A write is sent to one member only: once any of it left, a broken connection or a timeout is
 * reported (its outcome is unknown) and never retried on another member, so a compare-and-swap
 * that did commit is never answered "conflict" by its own retry. Reads also move on after those;
 * "no leader" (refused before anything was done) moves any call on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd_priv.h"

uint64_t etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void etcd_seterr(struct keel_etcd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

const char *keel_etcd_errmsg(const struct keel_etcd *c)
{
	return c->err;
}

const char *keel_etcd_endpoint(const struct keel_etcd *c)
{
	return c->ep[c->cur];
}

size_t etcd_prefix_end(const char *key, char *end)
{
	size_t n = strlen(key);

	memcpy(end, key, n);
	while (n && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (!n) {
		end[0] = '\0'; /* "\0" as range_end: every key from key on */
		return 1;
	}
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	return n;
}

static void free_opts(struct keel_etcd *c)
{
	size_t i;

	for (i = 0; i < c->n_ep; i++)
		free(c->ep[i]);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->user);
	free(c->password);
	free(c->token);
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

struct keel_etcd *keel_etcd_open(const struct keel_etcd_opts *o, char *err, size_t errlen)
{
	struct keel_etcd *c;
	size_t i;
	int rc = 0;

	if (!o->n_endpoints || o->n_endpoints > KEEL_ETCD_MAX_ENDPOINTS) {
		snprintf(err, errlen, "etcd: %zu endpoints (1 to %d)", o->n_endpoints, KEEL_ETCD_MAX_ENDPOINTS);
		return NULL;
	}
	for (i = 0; i < o->n_endpoints; i++) {
		const char *e = o->endpoints[i];

		if (!e || (strncmp(e, "http://", 7) && strncmp(e, "https://", 8)) || strlen(e) > 256 ||
		    strpbrk(e, " \t\r\n")) {
			snprintf(err, errlen, "etcd: endpoint %zu is not an http:// or https:// URL", i + 1);
			return NULL;
		}
	}
	if (!o->user != !o->password || (!o->cert_file != !o->key_file)) {
		snprintf(err, errlen, "etcd: %s", !o->user != !o->password ? "a user needs a password and a password a user"
						   : "a client certificate needs its key and a key its certificate");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "etcd: libcurl does not start");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "etcd: out of memory");
		return NULL;
	}
	for (i = 0; i < o->n_endpoints && !rc; i++, c->n_ep++) {
		size_t n = strlen(o->endpoints[i]);

		rc = dup_opt(o->endpoints[i], &c->ep[i]);
		if (!rc && n && c->ep[i][n - 1] == '/')
			c->ep[i][n - 1] = '\0'; /* paths start with "/" */
	}
	if (!rc)
		rc = dup_opt(o->ca_file, &c->ca);
	if (!rc)
		rc = dup_opt(o->cert_file, &c->cert);
	if (!rc)
		rc = dup_opt(o->key_file, &c->key);
	if (!rc)
		rc = dup_opt(o->user, &c->user);
	if (!rc)
		rc = dup_opt(o->password, &c->password);
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
	c->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 500;
	if (c->connect_ms > c->timeout_ms)
		c->connect_ms = c->timeout_ms;
	if (!rc && !(c->h = curl_easy_init()))
		rc = -ENOMEM;
	if (rc) {
		snprintf(err, errlen, "etcd: out of memory");
		keel_etcd_close(c);
		return NULL;
	}
	atomic_init(&c->stop_watch, false);
	return c;
}

void keel_etcd_close(struct keel_etcd *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free_opts(c);
	free(c);
}

CURLcode etcd_post(struct keel_etcd *c, struct etcd_post *p)
{
	struct curl_slist *hdrs = NULL, *h;
	char url[512], auth[600];
	long conn = c->connect_ms, sent = 0;
	CURLcode rc;

	p->status = 0;
	p->sent = false;
	snprintf(url, sizeof(url), "%s%s", c->ep[p->ep], p->path);
	/* No "Expect: 100-continue" wait; and the member refuses (no leader) rather than queue. */
	h = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h)
		h = curl_slist_append(hdrs = h, "Expect:");
	if (h)
		h = curl_slist_append(hdrs = h, "Grpc-Metadata-hasleader: true");
	if (h && c->token && strcmp(p->path, "/v3/auth/authenticate")) {
		snprintf(auth, sizeof(auth), "Authorization: %s", c->token);
		h = curl_slist_append(hdrs = h, auth);
	}
	if (!h) {
		curl_slist_free_all(hdrs);
		return CURLE_OUT_OF_MEMORY;
	}
	hdrs = h;
	if (p->timeout_ms && conn > (long)p->timeout_ms)
		conn = (long)p->timeout_ms;

	curl_easy_reset(c->h); /* keeps the connections */
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(p->body));
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, conn);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, p->write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, p->write_arg);
	if (p->xferinfo) {
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, p->xferinfo);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, p->xferinfo_arg);
	}
	if (c->ca)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->ca);
	if (c->cert) {
		curl_easy_setopt(c->h, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(c->h, CURLOPT_SSLKEY, c->key);
	}
	rc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &p->status);
	curl_easy_getinfo(c->h, CURLINFO_REQUEST_SIZE, &sent);
	p->sent = sent > 0;
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}

bool etcd_curl_unsent(CURLcode rc, const struct etcd_post *p)
{
	if (p->sent)
		return false;
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	       rc == CURLE_GOT_NOTHING || etcd_curl_tls(rc);
}

bool etcd_curl_tls(CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
	       rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CIPHER ||
	       rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CRL_BADFILE;
}

struct answer {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t answer_write(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	char *b;

	if (len > ETCD_MAX_ANSWER - a->len) {
		a->too_big = true;
		return 0;
	}
	b = realloc(a->buf, a->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + a->len, data, len);
	a->buf = b;
	a->len += len;
	return len;
}

/*
 * POST body to path and parse the answer, before deadline_ms. idempotent: a read, which may move
 * on to the next member after a timeout, a broken connection or "no leader" too.
 */
static int call_until(struct keel_etcd *c, const char *path, const char *body, bool idempotent,
		      uint64_t deadline_ms, json_t **root)
{
	char why[sizeof(c->err)] = "", msg[300];
	size_t tried, unreachable = 0, tls = 0, ep = c->cur;
	int rc = -ETIMEDOUT;

	*root = NULL;
	for (tried = 0; tried < c->n_ep; tried++, ep = (ep + 1) % c->n_ep) {
		uint64_t now = etcd_now_ms();
		struct answer a = {0};
		struct etcd_post p = {.ep = ep, .path = path, .body = body, .write = answer_write, .write_arg = &a};
		CURLcode crc;

		if (now >= deadline_ms) {
			rc = -ETIMEDOUT;
			snprintf(msg, sizeof(msg), "no time left for %s", c->ep[ep]);
			break;
		}
		p.timeout_ms = (unsigned)(deadline_ms - now);
		crc = etcd_post(c, &p);
		if (crc != CURLE_OK) {
			free(a.buf);
			if (a.too_big) {
				snprintf(msg, sizeof(msg), "%s: answer larger than %u MiB", c->ep[ep], ETCD_MAX_ANSWER >> 20);
				rc = -E2BIG;
				break;
			}
			if (etcd_curl_unsent(crc, &p)) {
				unreachable++;
				tls += etcd_curl_tls(crc);
				snprintf(msg, sizeof(msg), "%s: %s", c->ep[ep], curl_easy_strerror(crc));
				rc = -EHOSTUNREACH;
			} else if (crc == CURLE_OPERATION_TIMEDOUT) {
				snprintf(msg, sizeof(msg), "%s: no answer in time (no quorum?)%s", c->ep[ep],
					 idempotent ? "" : "; the write may have been applied");
				rc = -ETIMEDOUT;
			} else {
				snprintf(msg, sizeof(msg), "%s: connection lost: %s%s", c->ep[ep], curl_easy_strerror(crc),
					 idempotent ? "" : "; the write may have been applied");
				rc = crc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -ECONNRESET;
			}
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s", *why ? "; " : "", msg);
			if (rc == -EHOSTUNREACH || idempotent)
				continue;
			break;
		}
		rc = etcd_parse_answer(a.buf ? a.buf : "", a.len, p.status, root, msg, sizeof(msg));
		free(a.buf);
		if (rc == -ETCD_ENOLEADER || (rc == -ETIMEDOUT && idempotent)) {
			rc = -ETIMEDOUT;
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s: %s", *why ? "; " : "",
				 c->ep[ep], msg);
			continue;
		}
		c->cur = ep;
		if (rc)
			etcd_seterr(c, "%s: %s", c->ep[ep], msg);
		return rc;
	}
	if (rc == -EHOSTUNREACH && unreachable < c->n_ep)
		rc = -ETIMEDOUT; /* some member was reached but did not answer */
	if (rc == -EHOSTUNREACH && tls == unreachable) {
		rc = -EACCES; /* every member refused our certificate or failed the check of its own */
		etcd_seterr(c, "etcd TLS failed: %s", why);
	} else if (rc == -EHOSTUNREACH)
		etcd_seterr(c, "etcd unreachable: %s", why);
	else if (rc == -ETIMEDOUT && !*why)
		etcd_seterr(c, "etcd: %s", msg);
	else
		etcd_seterr(c, "etcd%s: %s", rc == -ETIMEDOUT ? " (no quorum or too slow)" : "", *why ? why : msg);
	return rc;
}

int etcd_authenticate(struct keel_etcd *c, uint64_t deadline_ms)
{
	json_t *req, *root;
	const char *tok;
	char *body;
	int rc;

	if (!c->user || c->token)
		return 0;
	req = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -ENOMEM;
	rc = call_until(c, "/v3/auth/authenticate", body, true, deadline_ms, &root);
	free(body);
	if (rc) {
		if (rc == -EACCES || rc == -EINVAL)
			rc = -EACCES;
		if (rc == -EACCES) {
			char why[sizeof(c->err)];

			snprintf(why, sizeof(why), "%s", c->err);
			etcd_seterr(c, "etcd: authentication as %s failed: %s", c->user, why);
		}
		return rc;
	}
	tok = json_string_value(json_object_get(root, "token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n")) {
		json_decref(root);
		etcd_seterr(c, "etcd: authentication as %s: no token in the answer", c->user);
		return -EPROTO;
	}
	c->token = strdup(tok);
	json_decref(root);
	return c->token ? 0 : -ENOMEM;
}

/* A call with a JSON request (consumed): authenticates first, and once more if the token expired. */
int etcd_call(struct keel_etcd *c, const char *path, json_t *req, bool idempotent, json_t **root)
{
	uint64_t deadline = etcd_now_ms() + c->timeout_ms;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc, tries;

	json_decref(req);
	*root = NULL;
	c->err[0] = '\0';
	if (!body) {
		etcd_seterr(c, "etcd: out of memory");
		return -ENOMEM;
	}
	for (tries = 0; tries < 2; tries++) {
		rc = etcd_authenticate(c, deadline);
		if (!rc)
			rc = call_until(c, path, body, idempotent, deadline, root);
		if (rc != -ETCD_ETOKEN)
			break;
		free(c->token);
		c->token = NULL;
	}
	free(body);
	if (rc == -ETCD_ETOKEN)
		rc = -EACCES;
	return rc;
}
