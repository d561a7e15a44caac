/* What etcd.c (the calls) and etcd_watch.c (the stream) share: the client and its HTTP layer. */
#ifndef KEEL_FLEET_ETCD_PRIV_H
#define KEEL_FLEET_ETCD_PRIV_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "etcd.h"
#include "etcd_parse.h"

/* The largest answer or watch line kept: far above a fleet spec, far below the host's memory. */
#define ETCD_MAX_ANSWER (64u << 20)

struct keel_etcd {
	char *ep[KEEL_ETCD_MAX_ENDPOINTS];
	size_t n_ep;
	size_t cur; /* the endpoint that answered last: tried first */
	unsigned timeout_ms, connect_ms;
	char *ca, *cert, *key, *user, *password;
	char *token; /* from /v3/auth/authenticate, while it is valid */
	CURL *h;
	char err[512];
	atomic_bool stop_watch;
};

uint64_t etcd_now_ms(void);
void etcd_seterr(struct keel_etcd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One POST of body to endpoint i, within timeout_ms (0: no total limit, a watch): every option
 * set afresh (the handle keeps its connections). sent: whether any of the request left. */
struct etcd_post {
	size_t ep;
	const char *path, *body;
	unsigned timeout_ms;
	curl_write_callback write;
	void *write_arg;
	curl_xferinfo_callback xferinfo;
	void *xferinfo_arg;
	long status; /* out: HTTP status, 0 if none */
	bool sent;   /* out */
};
CURLcode etcd_post(struct keel_etcd *c, struct etcd_post *p);

/* A connect that failed before anything was sent: the next endpoint may be tried. */
bool etcd_curl_unsent(CURLcode rc, const struct etcd_post *p);
bool etcd_curl_tls(CURLcode rc); /* a TLS handshake or certificate failure */

/* A token for the user (if any) before deadline_ms: 0 or -errno. */
int etcd_authenticate(struct keel_etcd *c, uint64_t deadline_ms);

/* A call: the JSON request (consumed) POSTed to path, authenticating first and once more if the
 * token expired; 0 and the answer's *root, or -errno with c->err set. idempotent: a read, which
 * may also move on to the next member after a timeout, a broken connection or "no leader". */
int etcd_call(struct keel_etcd *c, const char *path, json_t *req, bool idempotent, json_t **root);

/* Request fields: bytes as base64, int64 as a string, a key or a prefix as key and range_end. */
int etcd_set_bytes(json_t *o, const char *field, const void *data, size_t len);
int etcd_set_i64(json_t *o, const char *field, int64_t v);
int etcd_set_range(json_t *o, const char *key, unsigned flags);

/* rc, with c->err saying "etcd: what" ("out of memory" for -ENOMEM). */
int etcd_fail(struct keel_etcd *c, int rc, const char *what);

/* key's range end for a prefix: the key with its last byte below 0xff incremented ("\0" for "");
 * written to end (strlen(key) + 1 bytes), its length returned. */
size_t etcd_prefix_end(const char *key, char *end);

#endif
