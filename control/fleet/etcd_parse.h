/*
 * The etcd client's answers, parsed from a buffer (no I/O, so the fuzzer and the unit tests call
 * exactly what the client runs): the gateway's JSON (int64 as strings, bytes as base64), its two
 * error shapes, range/watch answers, and the newline-delimited stream of a watch.
 */
#ifndef KEEL_FLEET_ETCD_PARSE_H
#define KEEL_FLEET_ETCD_PARSE_H

#include <jansson.h>

#include "etcd.h"

/* A private errno for "the auth token expired or is unknown": the client authenticates again. */
#define ETCD_ETOKEN EKEYEXPIRED
/* A private errno for "etcdserver: no leader": the member refused before doing anything (the
 * request asks it to, Grpc-Metadata-hasleader), so even a write may go to the next member.
 * The caller sees -ETIMEDOUT (no quorum). */
#define ETCD_ENOLEADER ENOTCONN

/* Standard alphabet, padded. encode: malloc'd string or NULL; decode: 0, or -EPROTO on a bad
 * character or length, *out malloc'd with a NUL after *out_len bytes. */
char *etcd_b64_encode(const void *data, size_t len);
int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *out_len);

/*
 * One answer body (http_status as received, 200 for a stream line). 0 and *root (an object, the
 * caller's reference; a stream's {"result": X} gives X), or -errno with etcd's reason in err:
 * both error shapes ({"error": "...", "code": N} and {"error": {"grpc_code": N, "message": "..."}})
 * map to the errnos of etcd.h (ETCD_ETOKEN, ETCD_ENOLEADER above), anything not JSON to -EPROTO.
 */
int etcd_parse_answer(const char *buf, size_t len, long http_status, json_t **root, char *err,
		      size_t errlen);

/* An int64 field written as a string or a number; absent or null is 0. -EPROTO otherwise. */
int etcd_parse_i64(const json_t *obj, const char *field, int64_t *out);
int etcd_parse_revision(const json_t *root, int64_t *revision); /* header.revision */

int etcd_parse_kv(const json_t *o, struct keel_etcd_kv *kv);
void etcd_kv_free(struct keel_etcd_kv *kv);
int etcd_parse_range(const json_t *root, struct keel_etcd_range *out);

struct etcd_watch_msg {
	bool created, canceled;
	int64_t revision, compact_revision;
	char reason[160];                 /* cancel_reason */
	struct keel_etcd_event *events;
	size_t n_events;
};
int etcd_parse_watch(const json_t *root, struct etcd_watch_msg *m);
void etcd_watch_msg_free(struct etcd_watch_msg *m);

/*
 * A stream's bytes cut into lines (the gateway ends each answer with "\n"): feed appends data and
 * calls line() for every complete line (without the "\n"); a line longer than max is -E2BIG, a
 * nonzero return of line() stops and is returned. Lines still incomplete stay in the buffer.
 */
struct etcd_lines {
	char *buf;
	size_t len, cap, max;
};
int etcd_lines_feed(struct etcd_lines *l, const char *data, size_t n,
		    int (*line)(void *arg, const char *s, size_t len), void *arg);
void etcd_lines_free(struct etcd_lines *l);

#endif
