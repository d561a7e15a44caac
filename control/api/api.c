/* The management API's HTTP side: its Unix socket, libmicrohttpd, access and size checks before a body is read. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "api_auth.h"
#include "api_request.h"
#include "api_routes.h"
#include "audit.h"
#include "conn_gate.h"
#include "mhd_glue.h"
#include "log.h"

/* Bounds of the API (issue 4 item 7): connections, time, memory per connection. */
#define API_CONNECTIONS_MAX 64u
#define API_TIMEOUT_S 10u
/*
 * Issue 20 item 11: slow clients. Per uid other than root, kept for root and
 * admins, request arrival. The deadline is past the idle timeout, so that
 * a connection that sent nothing is closed silently by MHD first and only
 * one that trickles its request gets the 408.
 */
#define API_CONNECTIONS_PER_UID 8u
#define API_CONNECTIONS_RESERVED 8u
#define API_REQUEST_MS 12000u
#define API_CONN_MEMORY (64u * 1024) /* request line + headers + read buffer */
#define API_LOG_PATH_MAX 160
/* The status of a refusal before any route runs: the request layer of the one table (api/keel_api.h). */
#define REQ_STATUS(err) keel_api_error_status(KEEL_API_REQUEST, err)

struct api {
	struct keel_control *c;
	struct MHD_Daemon *d;
	struct api_auth auth;
	struct conn_gate *gate;
	struct log_limit log_mhd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* the socket file we made: stop removes only that one */
	ino_t ino;
};

/* One request, from its headers to its completion (MHD's *con_cls). */
struct api_conn {
	struct conn_gate *gate;
	struct api_peer peer;
	enum api_role role;
	struct api_request rq;
	struct api_body body;
	bool answered;      /* a response is queued: ignore whatever else comes */
	bool too_big;       /* went over the limit while streaming: 413 at the end */
	bool no_memory;
	size_t discarded;   /* bytes dropped after too_big (bounded, then we hang up) */
	unsigned int status;
	char etag[24];      /* "\"N\"": the ETag header of the answer, when it has one */
	char method[8];
	char path[API_LOG_PATH_MAX];
};

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *a = cls;

	mhd_glue_log(&a->log_mhd, "api_http_error", fmt, ap);
}

/* Admission by uid: root and the admin group may use the reserve (conn_gate.h). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_gate_client cl = { .privileged = false };
	struct api *a = cls;
	struct api_peer peer;
	int fd;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_gate_release(a->gate, *socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	fd = ci ? ci->connect_fd : -1;
	if (fd >= 0 && !api_auth_peer(fd, &peer)) {
		memcpy(cl.id, &peer.uid, sizeof(peer.uid));
		cl.privileged = api_auth_role(&a->auth, &peer) == API_ROLE_ADMIN;
		snprintf(cl.label, sizeof(cl.label), "uid %u", (unsigned int)peer.uid);
	} else {
		/* No credentials: one client of its own, answered 403 if it gets in. */
		memset(cl.id, 0xff, sizeof(cl.id));
		snprintf(cl.label, sizeof(cl.label), "unknown peer");
	}
	*socket_context = conn_gate_admit(a->gate, fd, &cl, conn_gate_now_ms());
}

/* Keep %-escapes: api_request decodes each path segment after cutting at '/'. */
static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, struct api_conn *rc,
				 unsigned int status, json_t *body, const char *allow, bool close)
{
	static const char oom[] = "{\"error\": \"out of memory\"}\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = body ? json_dumps(body, JSON_INDENT(2)) : NULL;
	size_t len;

	json_decref(body);
	if (text) {
		len = strlen(text);
		char *t = realloc(text, len + 2);

		if (t) {
			text = t;
			memcpy(text + len, "\n", 2);
			len++;
		}
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(text);
	} else {
		status = 500;
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (rc->etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rc->etag);
	/* Answered before the body was read: the rest of the request cannot be parsed, hang up. */
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	/* An answer on its way is not a slow request: the deadline stops. */
	conn_gate_busy(rc->gate, mhd_glue_slot(conn));
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	rc->answered = true;
	rc->status = status;
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct api_conn *rc,
				  unsigned int status, const char *allow, bool close,
				  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(struct MHD_Connection *conn, struct api_conn *rc,
				  unsigned int status, const char *allow, bool close,
				  const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return send_json(conn, rc, status, json_pack("{s:s}", "error", why), allow, close);
}

struct query_ctx {
	struct keel_api_query *q;
	char why[256];
	bool bad;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_ctx *qc = cls;

	(void)kind;
	if (keel_api_query_set(qc->q, key, value, qc->why, sizeof(qc->why))) {
		qc->bad = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* Content-Length, or -1 when the body is chunked, or -2 when the header is malformed. */
static long long content_length(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);
	unsigned long long v;
	char *end;

	if (cl) {
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (cl[0] < '0' || cl[0] > '9' || *end || errno || v > (1ull << 62))
			return -2;
		return (long long)v;
	}
	return te ? -1 : 0;
}

/* Everything that can be decided from the request line and headers; returns true when answered. */
static bool first_call(struct api *a, struct MHD_Connection *conn, struct api_conn *rc,
		       const char *url, const char *method, enum MHD_Result *ret)
{
	const union MHD_ConnectionInfo *ci;
	struct query_ctx qc = { .q = &rc->rq.q };
	const char *allow, *te;
	char why[256];
	long long clen;
	int err;

	snprintf(rc->method, sizeof(rc->method), "%s", method);
	/* Decoded for the log and messages: an operator greps for 2001:db8::1, not %3A. */
	api_request_log_path(url, rc->path, sizeof(rc->path));
	clen = content_length(conn);

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	err = ci ? api_auth_peer(ci->connect_fd, &rc->peer) : -EBADF;
	if (err) {
		*ret = send_error(conn, rc, REQ_STATUS(EACCES), NULL, true,
				  "permission denied: no peer credentials (%s)", strerror(-err));
		return true;
	}
	rc->role = api_auth_role(&a->auth, &rc->peer);
	if (rc->role == API_ROLE_NONE) {
		*ret = send_error(conn, rc, REQ_STATUS(EACCES), NULL, true,
				  "permission denied: uid %u is neither root nor in the API's groups",
				  (unsigned int)rc->peer.uid);
		return true;
	}
	/*
	 * libmicrohttpd decodes chunked alone; any other coding it reads "until
	 * the client closes", so the answer would wait for the idle timeout.
	 */
	te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te && strcasecmp(te, "chunked")) {
		*ret = send_error(conn, rc, REQ_STATUS(ENOSYS), NULL, true,
				  "Transfer-Encoding \"%.64s\" is not supported (only chunked)", te);
		return true;
	}
	err = keel_api_match(method, url, &rc->rq.t, &allow, why, sizeof(why));
	if (err) {
		*ret = send_error(conn, rc, keel_api_error_status(KEEL_API_REQUEST, -err), allow, clen != 0,
				  "%s", why);
		return true;
	}
	if (keel_api_route_mutates(rc->rq.t.route) && rc->role != API_ROLE_ADMIN) {
		*ret = send_error(conn, rc, REQ_STATUS(EACCES), NULL, clen != 0,
				  "permission denied: %s %s needs root or the admin group", method,
				  rc->path);
		return true;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &qc);
	if (qc.bad) {
		*ret = send_error(conn, rc, REQ_STATUS(EINVAL), NULL, clen != 0, "%s", qc.why);
		return true;
	}
	/* The precondition of a change (docs/api.md "Preconditions"); reads have nothing to guard. */
	rc->rq.if_match = API_IF_ANY;
	{
		const char *im = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_IF_MATCH);

		if (im && keel_api_route_mutates(rc->rq.t.route) &&
		    api_request_if_match(im, &rc->rq.if_match, why, sizeof(why))) {
			*ret = send_error(conn, rc, REQ_STATUS(EINVAL), NULL, clen != 0, "%s", why);
			return true;
		}
	}
	if (clen == -2) {
		*ret = send_error(conn, rc, REQ_STATUS(EINVAL), NULL, true, "malformed Content-Length");
		return true;
	}
	rc->rq.content = api_request_content(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
	if (api_request_body_init(&rc->body, keel_api_route_body_limit(rc->rq.t.route), clen)) {
		/*
		 * A body small enough to read is read and dropped, and the 413
		 * comes after it: answering first would close the connection
		 * under a client that is still sending (curl sends up to 1 MiB
		 * without waiting for 100-continue), and it would see a broken
		 * pipe instead of the answer. Larger ones are refused at once.
		 */
		if (clen <= (long long)KEEL_API_BODY_CONFIG_MAX) {
			rc->too_big = true;
			return false;
		}
		*ret = send_error(conn, rc, REQ_STATUS(EFBIG), NULL, true,
				  "request body of %lld bytes is over this call's limit of %zu", clen,
				  rc->body.limit);
		return true;
	}
	return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct api_conn *rc = *con_cls;
	struct api_reply rp;
	enum MHD_Result ret = MHD_YES;
	int err;

	(void)version;
	/* Closed by the gate (refused, too slow, or its place given to another): drop it. */
	if (!conn_gate_open(a->gate, mhd_glue_slot(conn)))
		return MHD_NO;
	if (!rc) {
		/* Headers only: decide everything we can before a byte of the body is taken. */
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		rc->gate = a->gate;
		*con_cls = rc;
		return first_call(a, conn, rc, url, method, &ret) ? ret : MHD_YES;
	}
	if (rc->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (rc->too_big || rc->no_memory) {
			/* Drop it without buffering; a client that goes on and on is cut off. */
			rc->discarded += n;
			return rc->discarded > KEEL_API_BODY_CONFIG_MAX ? MHD_NO : MHD_YES;
		}
		err = api_request_body_append(&rc->body, upload_data, n);
		if (err) {
			rc->too_big = err == -EFBIG;
			rc->no_memory = err == -ENOMEM;
			api_request_body_free(&rc->body);
		}
		return MHD_YES;
	}
	/* The whole request is in. */
	if (rc->too_big)
		return send_error(conn, rc, REQ_STATUS(EFBIG), NULL, true,
				  "request body is over this call's limit of %zu bytes",
				  rc->body.limit);
	if (rc->no_memory)
		return send_error(conn, rc, REQ_STATUS(ENOMEM), NULL, true, "out of memory");
	/* All in: from here on no deadline cuts it (an apply may wait seconds for the workers). */
	if (!conn_gate_busy(a->gate, mhd_glue_slot(conn)))
		return MHD_NO;
	rc->rq.body = rc->body.buf ? rc->body.buf : "";
	rc->rq.body_len = rc->body.len;
	/* The audit log names the caller of any change this request makes (audit.h). */
	audit_actor_set("api", (int64_t)rc->peer.uid, (int64_t)rc->peer.pid);
	api_routes_handle(a->c, &rc->rq, &rp);
	if (rp.has_etag)
		snprintf(rc->etag, sizeof(rc->etag), "\"%llu\"", (unsigned long long)rp.etag);
	audit_actor_clear();
	return send_json(conn, rc, rp.status, rp.body, NULL, false);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_conn *rc = *con_cls;
	struct api *a = cls;

	/* The answer is out: a next request on this connection has its own deadline. */
	conn_gate_idle(a->gate, mhd_glue_slot(conn), conn_gate_now_ms());
	if (!rc)
		return;
	/* An audit line for every change asked for and every refusal of access. */
	if (rc->status == 403 || (keel_api_route_mutates(rc->rq.t.route) && rc->status))
		log_event(rc->status == 403 ? LOG_WARN : LOG_INFO, "api_request",
			  "uid=%u pid=%d method=%s path=%s status=%u delivered=%s",
			  (unsigned int)rc->peer.uid, (int)rc->peer.pid, rc->method, rc->path, rc->status,
			  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "yes" : "no");
	api_request_body_free(&rc->body);
	free(rc);
	*con_cls = NULL;
}

/* A socket file left by a dead keel-control is removed; a live one (or any other file) is not. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *why, size_t whylen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : (snprintf(why, whylen, "%s: %s", path, strerror(errno)), -errno);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!rc) {
		snprintf(why, whylen, "%s: another process is listening on it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) && errno != ENOENT) {
		snprintf(why, whylen, "unlink %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Parent directory, made if missing (one level, e.g. /run/keel): members of the group must reach the socket. */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			log_event(LOG_WARN, "api_mkdir_failed", "dir=%s reason=%s", dir, strerror(errno));
	}
}

static int listen_unix(struct api *a, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (a->path[0] != '/' || strlen(a->path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "API socket \"%s\": not an absolute path under %zu bytes",
			 a->path, sizeof(sa.sun_path));
		return -EINVAL;
	}
	memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
	make_parent(a->path);
	err = clear_stale(a->path, &sa, why, whylen);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return err;
	}
	/*
	 * bind() creates the file with 0777 & ~umask; connect() needs write
	 * access, which the usual umask (022) gives to the owner only, so the
	 * moment before chmod opens nothing to others.
	 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (a->auth.has_group && chown(a->path, (uid_t)-1, a->auth.group)) ||
	    chmod(a->path, 0660) || stat(a->path, &st) || listen(fd, (int)API_CONNECTIONS_MAX)) {
		err = -errno;
		snprintf(why, whylen, "API socket %s: %s", a->path, strerror(errno));
		close(fd);
		unlink(a->path);
		return err;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	return fd;
}

struct api *api_start(struct keel_control *c, const char *socket_path, const char *group,
		      const char *admin_group, char *why, size_t whylen)
{
	struct api *a;
	char warn[160];
	int fd, err;

	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(why, whylen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->c = c;
	snprintf(a->path, sizeof(a->path), "%s", socket_path ? socket_path : "");
	api_auth_init(&a->auth, group, admin_group, warn, sizeof(warn));
	if (warn[0])
		log_event(LOG_WARN, "api_group_missing", "reason=%s", warn);
	a->gate = conn_gate_new("api",
				&(struct conn_gate_limits){ .max = API_CONNECTIONS_MAX,
							    .per_client = API_CONNECTIONS_PER_UID,
							    .reserved = API_CONNECTIONS_RESERVED,
							    .request_ms = API_REQUEST_MS,
							    .json = true },
				true);
	if (!a->gate) {
		err = errno;
		snprintf(why, whylen, "API connection gate: %s", strerror(err));
		goto out_free;
	}
	fd = listen_unix(a, why, whylen);
	if (fd < 0) {
		err = -fd;
		goto out_free;
	}
	/*
	 * A thread per connection: an apply waits for the workers' acknowledgement
	 * (seconds at worst) and must not hold up reads. The gate admits by uid
	 * and cuts requests that arrive too slowly (conn_gate.h); MHD's own limit
	 * is the gate's slot count, so that MHD never refuses before the gate
	 * decides. The idle timeout bounds a silent client, the memory limit its
	 * headers; bodies are bounded per route in on_request.
	 */
	a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					MHD_USE_POLL | MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, a,
				/* first, or MHD's own logger reports the options before it */
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				MHD_OPTION_CONNECTION_LIMIT, conn_gate_capacity(a->gate),
				MHD_OPTION_CONNECTION_TIMEOUT, API_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
				MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
				MHD_OPTION_END);
	if (!a->d) {
		err = EIO;
		snprintf(why, whylen, "libmicrohttpd would not serve %s", a->path);
		goto out_close;
	}
	log_event(LOG_INFO, "api_listening", "socket=%s", a->path);
	return a;

out_close:
	close(fd);
	unlink(a->path);
out_free:
	conn_gate_free(a->gate);
	free(a);
	errno = err;
	return NULL;
}

void api_stop(struct api *a)
{
	struct stat st;

	if (!a)
		return;
	/* MHD closes the listening socket it was given. */
	MHD_stop_daemon(a->d);
	conn_gate_free(a->gate);
	if (!lstat(a->path, &st) && st.st_dev == a->dev && st.st_ino == a->ino)
		unlink(a->path);
	free(a);
}
