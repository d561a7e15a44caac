/* The Prometheus scrape endpoint: one libmicrohttpd thread, GET /metrics from control_metrics() into memory. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>

#include "control.h"
#include "metrics_http.h"
#include "log.h"
#include "pkt.h"

#define METRICS_CONNECTIONS_MAX 16u
#define METRICS_TIMEOUT_S 10u
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct keel_control *c;
	struct MHD_Daemon *d;
};

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_event(LOG_WARN, "metrics_http_error", "reason=%s", msg);
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
	if (*con_cls) {
		/* Answered on the first call already: whatever body follows is dropped. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = &first;
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
	/* One polling thread: a scrape is short, and Prometheus scrapes one at a time. */
	m->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, METRICS_CONNECTIONS_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, METRICS_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32u * 1024),
				MHD_OPTION_END);
	if (!m->d) {
		snprintf(why, whylen, "metrics: cannot listen on %s%s%s:%u", family == KEEL_AF_INET6 ? "[" : "",
			 text, family == KEEL_AF_INET6 ? "]" : "", port);
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
	free(m);
}
