/*
 * The etcd watch (etcd.h): one streaming POST /v3/watch whose answer is a newline-delimited JSON
 * stream, read by curl's write callback as it arrives. The request body is sent whole: etcd 3.4's
 * HTTP/1.1 gateway cannot read more of the body once it answers, so no later request (progress,
 * cancel) goes up the same stream; silence is caught by an idle timeout instead, which progress
 * notifications keep from firing while nothing changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_priv.h"

struct watch_state {
	struct keel_etcd *c;
	keel_etcd_watch_cb cb;
	void *arg;
	struct keel_etcd_watch_end *end;
	struct etcd_lines lines;
	uint64_t last_rx_ms;
	unsigned idle_ms;
	bool created, done;
	int rc; /* the watch's result once done */
};

static void finish(struct watch_state *s, int rc)
{
	if (!s->done) {
		s->done = true;
		s->rc = rc;
	}
}

/* One answer of the stream; nonzero stops the transfer (finish() says why). */
static int watch_line(void *arg, const char *line, size_t len)
{
	struct watch_state *s = arg;
	struct etcd_watch_msg m;
	struct keel_etcd_watch_resp r;
	char msg[300];
	json_t *root;
	size_t i;
	int rc;

	if (!len)
		return 0;
	rc = etcd_parse_answer(line, len, 200, &root, msg, sizeof(msg));
	if (rc) {
		etcd_seterr(s->c, "etcd watch on %s: %s", keel_etcd_endpoint(s->c), msg);
		finish(s, rc == -ETCD_ETOKEN ? -EACCES : rc == -ETCD_ENOLEADER ? -ETIMEDOUT : rc);
		return 1;
	}
	rc = etcd_parse_watch(root, &m);
	json_decref(root);
	if (rc) {
		etcd_seterr(s->c, "etcd watch on %s: an answer that does not parse", keel_etcd_endpoint(s->c));
		finish(s, rc);
		return 1;
	}
	if (m.compact_revision) {
		s->end->compact_revision = m.compact_revision;
		etcd_seterr(s->c, "etcd watch: revision %" PRId64 " compacted, the oldest left is %" PRId64,
			    s->end->last_revision + 1, m.compact_revision);
		etcd_watch_msg_free(&m);
		finish(s, -ESTALE);
		return 1;
	}
	if (m.canceled) {
		etcd_seterr(s->c, "etcd watch cancelled by %s: %s", keel_etcd_endpoint(s->c),
			    *m.reason ? m.reason : "no reason given");
		rc = strstr(m.reason, "auth") || strstr(m.reason, "ermission") ? -EACCES : -ECANCELED;
		etcd_watch_msg_free(&m);
		finish(s, rc);
		return 1;
	}
	if (m.created && !s->created) {
		/* The header of "created" is the store's revision, not what was delivered: no progress. */
		s->created = true;
		etcd_watch_msg_free(&m);
		return 0;
	}
	r = (struct keel_etcd_watch_resp){.revision = m.revision, .progress = !m.n_events,
					  .events = m.events, .n_events = m.n_events};
	/* An answer to a watcher catching up may carry a newer header than its events; only a
	 * progress notification (sent to watchers that caught up) vouches for its header. */
	for (i = 0; i < m.n_events; i++)
		if (m.events[i].kv.mod_revision > s->end->last_revision)
			s->end->last_revision = m.events[i].kv.mod_revision;
	if (!m.n_events && m.revision > s->end->last_revision)
		s->end->last_revision = m.revision;
	rc = s->cb(s->arg, &r);
	etcd_watch_msg_free(&m);
	if (rc) {
		finish(s, 0);
		return 1;
	}
	return 0;
}

static size_t watch_write(char *data, size_t size, size_t n, void *arg)
{
	struct watch_state *s = arg;
	int rc;

	s->last_rx_ms = etcd_now_ms();
	rc = etcd_lines_feed(&s->lines, data, size * n, watch_line, s);
	if (rc < 0 && !s->done) {
		etcd_seterr(s->c, "etcd watch on %s: %s", keel_etcd_endpoint(s->c),
			    rc == -E2BIG ? "an answer larger than the limit" : "out of memory");
		finish(s, rc);
	}
	return s->done ? 0 : size * n;
}

/* Called by curl about once a second at least: the stop request and the idle timeout. */
static int watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct watch_state *s = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (atomic_load(&s->c->stop_watch)) {
		finish(s, 0);
		return 1;
	}
	if (etcd_now_ms() - s->last_rx_ms >= s->idle_ms) {
		etcd_seterr(s->c, "etcd watch on %s: nothing received for %u ms (member silent or cut off)",
			    keel_etcd_endpoint(s->c), s->idle_ms);
		finish(s, -ETIMEDOUT);
		return 1;
	}
	return 0;
}

static char *watch_body(const struct keel_etcd_watch_opts *w)
{
	size_t n = strlen(w->key);
	char *key = etcd_b64_encode(n ? w->key : "", n ? n : 1), *endb = NULL, *end = malloc(n + 1);
	char rev[24], *body = NULL;
	json_t *req = NULL;

	if (key && end && (w->flags & KEEL_ETCD_PREFIX))
		endb = etcd_b64_encode(end, etcd_prefix_end(w->key, end));
	snprintf(rev, sizeof(rev), "%" PRId64, w->start_revision);
	if (key && end && (endb || !(w->flags & KEEL_ETCD_PREFIX)))
		req = json_pack("{s:{s:s, s:s*, s:s, s:b}}", "create_request", "key", key, "range_end", endb,
				"start_revision", rev, "progress_notify", w->progress_notify);
	if (req)
		body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	free(key);
	free(endb);
	free(end);
	return body;
}

int keel_etcd_watch(struct keel_etcd *c, const struct keel_etcd_watch_opts *w, keel_etcd_watch_cb cb,
		    void *arg, struct keel_etcd_watch_end *end)
{
	struct watch_state s = {.c = c, .cb = cb, .arg = arg, .end = end,
				.lines = {.max = ETCD_MAX_ANSWER},
				.idle_ms = w->idle_timeout_ms ? w->idle_timeout_ms : 30000};
	char why[sizeof(c->err)] = "";
	size_t tried, ep = c->cur;
	char *body;
	int rc;

	end->last_revision = w->start_revision > 0 ? w->start_revision - 1 : 0;
	end->compact_revision = 0;
	c->err[0] = '\0';
	if (atomic_exchange(&c->stop_watch, false))
		return 0; /* stopped before it began */
	if (!w->key || (!*w->key && !(w->flags & KEEL_ETCD_PREFIX))) {
		etcd_seterr(c, "etcd watch: an empty key");
		return -EINVAL;
	}
	body = watch_body(w);
	if (!body) {
		etcd_seterr(c, "etcd: out of memory");
		return -ENOMEM;
	}
	rc = etcd_authenticate(c, etcd_now_ms() + c->timeout_ms);
	for (tried = 0; !rc && tried < c->n_ep; tried++, ep = (ep + 1) % c->n_ep) {
		struct etcd_post p = {.ep = ep, .path = "/v3/watch", .body = body, .write = watch_write,
				      .write_arg = &s, .xferinfo = watch_progress, .xferinfo_arg = &s};
		CURLcode crc;

		s.last_rx_ms = etcd_now_ms();
		crc = etcd_post(c, &p);
		if (s.done)
			break;
		if (etcd_curl_unsent(crc, &p)) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s%s: %s", *why ? "; " : "",
				 c->ep[ep], curl_easy_strerror(crc));
			rc = -EHOSTUNREACH;
			continue;
		}
		c->cur = ep;
		/* What is left without a newline is the last answer (an error body has none). */
		if (s.lines.len && watch_line(&s, s.lines.buf, s.lines.len))
			break;
		etcd_seterr(c, "etcd watch on %s ended: %s", c->ep[ep],
			    crc == CURLE_OK ? "the member closed the stream" : curl_easy_strerror(crc));
		finish(&s, -ECONNRESET);
		break;
	}
	if (!s.done && rc == -EHOSTUNREACH)
		etcd_seterr(c, "etcd unreachable: %s", why);
	if (s.done)
		rc = s.rc;
	if (atomic_load(&c->stop_watch) && !rc)
		atomic_store(&c->stop_watch, false); /* this stop is spent */
	if (rc == -EACCES) { /* the next call authenticates again */
		free(c->token);
		c->token = NULL;
	}
	etcd_lines_free(&s.lines);
	free(body);
	return rc;
}

void keel_etcd_watch_stop(struct keel_etcd *c)
{
	atomic_store(&c->stop_watch, true);
}
