/* The Prometheus scrape endpoint: one libmicrohttpd thread, GET /metrics from control_metrics() into memory. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>

#include "conn_gate.h"
#include "mhd_glue.h"
#include "control.h"
#include "metrics_http.h"
#include "log.h"
#include "pkt.h"

#define METRICS_CONNECTIONS_MAX 16u
/*
 * A scrape sends its request at once: one that has not arrived in 6 s is a
 * slow client's (408). A silent connection is closed at 4 s by MHD, quietly.
 */
#define METRICS_TIMEOUT_S 4u
#define METRICS_REQUEST_MS 6000u
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct keel_control *c;
	struct MHD_Daemon *d;
	struct conn_gate *gate;
	struct log_limit log_mhd;
};

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_http *m = cls;

	mhd_glue_log(&m->log_mhd, "metrics_http_error", fmt, ap);
}

/*
 * Admission (conn_gate.h): no per-address cap, since Prometheus and a local
 * slow client share 127.0.0.1; a full server closes its oldest connection
 * whose request has not arrived, which a scrape never is for long.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci, *fi;
	struct conn_gate_client cl = { .privileged = false };
	struct metrics_http *m = cls;
	const struct sockaddr *sa;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_gate_release(m->gate, *socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	fi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	sa = ci ? ci->client_addr : NULL;
	snprintf(cl.label, sizeof(cl.label), "?");
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		cl.id[0] = 4;
		memcpy(cl.id + 1, &s4->sin_addr, 4);
		inet_ntop(AF_INET, &s4->sin_addr, cl.label, sizeof(cl.label));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		cl.id[0] = 6;
		memcpy(cl.id + 1, &s6->sin6_addr, 16);
		inet_ntop(AF_INET6, &s6->sin6_addr, cl.label, sizeof(cl.label));
	}
	*socket_context = conn_gate_admit(m->gate, fi ? fi->connect_fd : -1, &cl, conn_gate_now_ms());
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics_http *m = cls;

	(void)con_cls;
	(void)toe;
	conn_gate_idle(m->gate, mhd_glue_slot(conn), conn_gate_now_ms());
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int status,
				 const char *type, const char *text, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static int first; /* address only: marks a request whose headers we have seen */
	struct metrics_http *m = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload_data;
	/* Closed by the gate (refused, too slow, its place given to another): drop it. */
	if (!conn_gate_open(m->gate, mhd_glue_slot(conn)))
		return MHD_NO;
	if (*con_cls) {
		/* Answered on the first call already: whatever body follows is dropped. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = &first;
	/* The request is in (a scrape has no body): the deadline stops. */
	conn_gate_busy(m->gate, mhd_glue_slot(conn));
	/* Everything is decided from the headers: a scrape carries no body. */
	if (strcmp(url, "/metrics"))
		return send_text(conn, 404, "text/plain", "not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return send_text(conn, 405, "text/plain", "method not allowed\n", "GET, HEAD");

	f = open_memstream(&text, &len);
	if (!f)
		return send_text(conn, 500, "text/plain", "out of memory\n", NULL);
	control_metrics(m->c, f);
	if (fclose(f) || !text) {
		free(text);
		return send_text(conn, 500, "text/plain", "out of memory\n", NULL);
	}
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct metrics_http *metrics_http_start(struct keel_control *c, const uint8_t addr[16],
					uint8_t family, uint16_t port, char *why, size_t whylen)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	const struct sockaddr *sa = (const struct sockaddr *)&s4;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	char text[INET6_ADDRSTRLEN] = "?";
	struct metrics_http *m;

	if (family == KEEL_AF_INET6) {
		memcpy(&s6.sin6_addr, addr, 16);
		sa = (const struct sockaddr *)&s6;
		flags |= MHD_USE_IPv6;
		inet_ntop(AF_INET6, addr, text, sizeof(text));
	} else if (family == KEEL_AF_INET4) {
		memcpy(&s4.sin_addr, addr, 4);
		inet_ntop(AF_INET, addr, text, sizeof(text));
	} else {
		snprintf(why, whylen, "metrics: address family %u is not IPv4 or IPv6", family);
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(why, whylen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	m->c = c;
	m->gate = conn_gate_new("metrics",
				&(struct conn_gate_limits){ .max = METRICS_CONNECTIONS_MAX,
							    .request_ms = METRICS_REQUEST_MS },
				true);
	if (!m->gate) {
		snprintf(why, whylen, "metrics: connection gate: %s", strerror(errno));
		free(m);
		return NULL;
	}
	/*
	 * One polling thread, of its own: a scrape is short, Prometheus scrapes
	 * one at a time, and API clients (another daemon, another socket) take
	 * none of its connections. MHD's limit is the gate's slot count, so that
	 * the gate decides who is closed when it is full.
	 */
	m->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, conn_gate_capacity(m->gate),
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
				MHD_OPTION_CONNECTION_TIMEOUT, METRICS_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32u * 1024),
				MHD_OPTION_END);
	if (!m->d) {
		snprintf(why, whylen, "metrics: cannot listen on %s%s%s:%u", family == KEEL_AF_INET6 ? "[" : "",
			 text, family == KEEL_AF_INET6 ? "]" : "", port);
		conn_gate_free(m->gate);
		free(m);
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	log_event(LOG_INFO, "metrics_listening", "address=%s%s%s:%u", family == KEEL_AF_INET6 ? "[" : "",
		  text, family == KEEL_AF_INET6 ? "]" : "", port);
	return m;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	conn_gate_free(m->gate);
	free(m);
}
