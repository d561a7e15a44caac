/* HTTP/1.1 over AF_UNIX for keelctl: request with Content-Length, answer by Content-Length, chunks or EOF. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events; -ETIMEDOUT past the deadline. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;
	int rc;

	while (len) {
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc)
			return rc;
		/* MSG_NOSIGNAL: a daemon that hangs up must not kill keelctl with SIGPIPE. */
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int http_dechunk(char *buf, size_t *len)
{
	size_t in = 0, out = 0, n = *len;

	for (;;) {
		char *end, *eol = memmem(buf + in, n - in, "\r\n", 2);
		unsigned long long sz;

		if (!eol)
			return 0;
		sz = strtoull(buf + in, &end, 16);
		/* chunk-ext (";name=value") may follow the size: RFC 9112 7.1.1 */
		if (end == buf + in || (end != eol && *end != ';' && *end != ' '))
			return -1;
		in = (size_t)(eol - buf) + 2;
		if (sz == 0) {
			/* Trailer section ends with an empty line. */
			for (;;) {
				eol = memmem(buf + in, n - in, "\r\n", 2);
				if (!eol)
					return 0;
				if (eol == buf + in)
					break;
				in = (size_t)(eol - buf) + 2;
			}
			*len = out;
			buf[out] = '\0';
			return 1;
		}
		if (sz > n - in || n - in - sz < 2)
			return 0;
		if (buf[in + sz] != '\r' || buf[in + sz + 1] != '\n')
			return -1;
		memmove(buf + out, buf + in, sz);
		out += sz;
		in += sz + 2;
	}
}

/* Header value of name in the header block hdr (NUL-terminated), or NULL. */
static const char *header(const char *hdr, const char *name, char *val, size_t vlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(hdr, "\r\n");

	while (p && p[2] != '\r' && p[2]) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t l;

			while (*v == ' ' || *v == '\t')
				v++;
			l = (size_t)(end - v);
			while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
				l--;
			if (l >= vlen)
				l = vlen - 1;
			memcpy(val, v, l);
			val[l] = '\0';
			return val;
		}
		p = end;
	}
	return NULL;
}

/* Parse status line and framing; *body_at, *clen (-1: none), *chunked. */
static int parse_head(char *buf, size_t hdr_end, int *status, size_t *body_at, long long *clen,
		      bool *chunked, char *etag, size_t etaglen)
{
	char v[64];
	int maj, min, st;

	/* Temporarily cut after the last header's CRLF: the header block as a string. */
	buf[hdr_end + 2] = '\0';
	if (sscanf(buf, "HTTP/%d.%d %3d", &maj, &min, &st) != 3 || maj != 1 || st < 100 ||
	    st > 599)
		return -EPROTO;
	*status = st;
	if (!header(buf, "ETag", etag, etaglen))
		etag[0] = '\0';
	*chunked = header(buf, "Transfer-Encoding", v, sizeof(v)) && strcasestr(v, "chunked");
	*clen = -1;
	if (!*chunked && header(buf, "Content-Length", v, sizeof(v))) {
		char *end;

		errno = 0;
		*clen = strtoll(v, &end, 10);
		if (errno || *end || end == v || *clen < 0)
			return -EPROTO;
		if (*clen > (long long)HTTP_MAX_BODY)
			return -EMSGSIZE;
	}
	buf[hdr_end + 2] = '\r';
	*body_at = hdr_end + 4;
	return 0;
}

static int read_response(int fd, long long deadline, struct http_response *rsp)
{
	size_t cap = 16384, len = 0, body_at = 0, hdr_end = 0;
	char *buf = malloc(cap + 1), *nb, *e;
	long long clen = -1;
	bool head = false, chunked = false, eof = false;
	int rc = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (head) {
			size_t blen = len - body_at;

			if (clen >= 0 && blen >= (size_t)clen) {
				len = body_at + (size_t)clen;
				break;
			}
			if (chunked) {
				size_t dl = blen;
				char *tmp = malloc(blen + 1);
				int d;

				if (!tmp) {
					rc = -ENOMEM;
					goto out;
				}
				memcpy(tmp, buf + body_at, blen);
				d = http_dechunk(tmp, &dl);
				if (d == 1) {
					memcpy(buf + body_at, tmp, dl);
					len = body_at + dl;
					free(tmp);
					break;
				}
				free(tmp);
				if (d < 0) {
					rc = -EPROTO;
					goto out;
				}
			}
			if (eof) {
				if (clen >= 0 || chunked)
					rc = -EPROTO; /* cut short */
				break;
			}
		} else if (eof) {
			rc = -EPROTO;
			goto out;
		}
		if (len == cap) {
			if (cap >= HTTP_MAX_HEADERS + HTTP_MAX_BODY) {
				rc = -EMSGSIZE;
				goto out;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc)
			goto out;
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno;
			goto out;
		}
		eof = n == 0;
		len += (size_t)n;
		if (!head) {
			buf[len] = '\0';
			e = memmem(buf, len, "\r\n\r\n", 4);
			if (!e && len > HTTP_MAX_HEADERS) {
				rc = -EMSGSIZE;
				goto out;
			}
			if (e) {
				hdr_end = (size_t)(e - buf);
				rc = parse_head(buf, hdr_end, &rsp->status, &body_at, &clen, &chunked,
						rsp->etag, sizeof(rsp->etag));
				if (rc)
					goto out;
				head = true;
			}
		}
	}
	if (rc)
		goto out;
	rsp->len = len - body_at;
	memmove(buf, buf + body_at, rsp->len);
	buf[rsp->len] = '\0';
	rsp->body = buf;
	return 0;
out:
	free(buf);
	return rc;
}

int http_request(const char *socket_path, const char *method, const char *path,
		 const char *content_type, const char *if_match, const char *body, size_t len,
		 int timeout_ms, struct http_response *rsp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	char head[2048];
	int fd, rc, hl;

	memset(rsp, 0, sizeof(*rsp));
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto out_close;
	}
	/* Connection: close: one request per connection, so EOF also ends an unframed answer. */
	hl = snprintf(head, sizeof(head),
		      "%s %s HTTP/1.1\r\nHost: keel\r\nUser-Agent: keelctl\r\n"
		      "Accept: application/json\r\nConnection: close\r\n%s%s%s%s%s%s"
		      "Content-Length: %zu\r\n\r\n",
		      method, path, content_type ? "Content-Type: " : "",
		      content_type ? content_type : "", content_type ? "\r\n" : "",
		      if_match ? "If-Match: " : "", if_match ? if_match : "", if_match ? "\r\n" : "",
		      len);
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		rc = -ENAMETOOLONG;
		goto out_close;
	}
	rc = send_all(fd, head, (size_t)hl, deadline);
	if (!rc && len)
		rc = send_all(fd, body, len, deadline);
	/*
	 * The daemon may answer from the headers alone (403, 404, 413) and hang
	 * up without reading the body: the write then fails with EPIPE (or
	 * ECONNRESET) while the answer already waits in our receive queue.
	 * That answer is the one to report; the write's error only when there
	 * is none.
	 */
	if (rc == -EPIPE || rc == -ECONNRESET) {
		int sent_rc = rc;

		rc = read_response(fd, deadline, rsp);
		if (rc)
			rc = sent_rc;
	} else if (!rc) {
		rc = read_response(fd, deadline, rsp);
	}
out_close:
	close(fd);
	return rc;
}

void http_response_free(struct http_response *rsp)
{
	free(rsp->body);
	rsp->body = NULL;
}
