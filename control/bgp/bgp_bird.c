/* BIRD's control socket: one non-blocking request per call, replies parsed by code (see BIRD's doc/reply_codes). */
#define _GNU_SOURCE /* memmem */
#include "bgp_bird.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The next line of buf[*off..len); NULL when no full line is left. */
static const char *next_line(const char *buf, size_t len, size_t *off, size_t *llen)
{
	const char *s = buf + *off, *nl;

	if (*off >= len)
		return NULL;
	nl = memchr(s, '\n', len - *off);
	if (!nl)
		return NULL;
	*llen = (size_t)(nl - s);
	*off += *llen + 1;
	return s;
}

static bool is_code(const char *s, size_t n)
{
	return n >= 5 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9' &&
	       (s[4] == '-' || s[4] == ' ');
}

/* Copy the next whitespace-separated word of s[*i..n) into w (truncated to wn - 1). */
static size_t word(const char *s, size_t n, size_t *i, char *w, size_t wn)
{
	size_t k = 0;

	while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
	while (*i < n && s[*i] != ' ' && s[*i] != '\t') {
		if (k + 1 < wn)
			w[k++] = s[*i];
		(*i)++;
	}
	w[k] = 0;
	return k;
}

/* "name proto table state since... info": since is one word (time) or two (date time). */
static bool parse_proto(const char *s, size_t n, struct bgp_bird_proto *p)
{
	char table[64], since[32];
	size_t i = 0, k;

	memset(p, 0, sizeof(*p));
	if (!word(s, n, &i, p->name, sizeof(p->name)) || !word(s, n, &i, p->proto, sizeof(p->proto)) ||
	    !word(s, n, &i, table, sizeof(table)) || !word(s, n, &i, p->state, sizeof(p->state)) ||
	    !word(s, n, &i, since, sizeof(since)))
		return false;
	/* A date-and-time "since" (timeformat protocol iso long) has a second word with ':'. */
	{
		size_t j = i;
		char w[32];

		if (word(s, n, &j, w, sizeof(w)) && strchr(w, ':') && strchr(since, '-'))
			i = j;
	}
	while (i < n && s[i] == ' ')
		i++;
	k = n - i < sizeof(p->info) - 1 ? n - i : sizeof(p->info) - 1;
	memcpy(p->info, s + i, k);
	while (k && (p->info[k - 1] == ' ' || p->info[k - 1] == '\r'))
		k--;
	p->info[k] = 0;
	p->up = !strcmp(p->proto, "BGP") && !strcmp(p->state, "up") &&
		!strncmp(p->info, "Established", 11);
	return true;
}

int bgp_bird_parse_protocols(const char *buf, size_t len, struct bgp_bird_proto *out, int max)
{
	size_t off = 0, n;
	const char *l;
	int count = 0, code = -1;

	while ((l = next_line(buf, len, &off, &n))) {
		const char *text;
		size_t tn;

		if (is_code(l, n)) {
			code = (l[0] - '0') * 1000 + (l[1] - '0') * 100 + (l[2] - '0') * 10 + (l[3] - '0');
			text = l + 5;
			tn = n - 5;
			if (code == 0)
				return count;
			if (code >= 8000)
				return -EPROTO;
			if (l[4] == ' ' && code < 1000)
				continue; /* 0001 greeting and other one-line notices */
		} else if (n && l[0] == ' ' && code >= 0) {
			text = l + 1; /* continuation of the last code */
			tn = n - 1;
		} else {
			return -EPROTO;
		}
		/* 1002: a protocol line; 2002: the table header. */
		if (code == 1002) {
			struct bgp_bird_proto p;

			if (!parse_proto(text, tn, &p))
				return -EPROTO;
			if (count < max)
				out[count] = p;
			count++;
		}
	}
	return -EAGAIN;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Whether buf holds a whole reply: a final line (0000, or an error code
 * 8000-9999, followed by a space), or a line that is not BIRD's (the parser
 * says so).
 */
static bool reply_end(const char *buf, size_t len)
{
	size_t off = 0, n;
	const char *l;

	while ((l = next_line(buf, len, &off, &n))) {
		if (is_code(l, n)) {
			int code = (l[0] - '0') * 1000 + (l[1] - '0') * 100 + (l[2] - '0') * 10 + (l[3] - '0');

			if (l[4] == ' ' && (code == 0 || code >= 8000))
				return true;
		} else if (!n || l[0] != ' ') {
			return true;
		}
	}
	return false;
}

/* Read until the buffer holds the greeting or a whole reply, or the deadline. */
static int read_reply(int fd, char *buf, size_t cap, size_t *len, const struct timespec *dl,
		      bool greeting)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = ms_left(dl);
		ssize_t r;

		if (greeting && memmem(buf, *len, "0001 ", 5))
			return 0;
		if (!greeting && *len && buf[*len - 1] == '\n' && reply_end(buf, *len))
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (*len + 1 >= cap)
			return -EMSGSIZE;
		r = read(fd, buf + *len, cap - 1 - *len);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		*len += (size_t)r;
	}
}

/* One command on a new connection: greeting, command, whole reply into buf (len bytes). */
static int request(const char *path, const char *cmd, int timeout_ms, char *buf, size_t cap,
		   size_t *len, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cl = strlen(cmd);
	struct timespec dl;
	int fd, ret;

	*len = 0;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		ret = -errno;
		snprintf(why, whylen, "connect %s: %s", path, strerror(errno));
		goto out;
	}
	ret = read_reply(fd, buf, cap, len, &dl, true);
	if (ret) {
		snprintf(why, whylen, "no greeting from %s: %s", path, strerror(-ret));
		goto out;
	}
	if (write(fd, cmd, cl) != (ssize_t)cl) {
		ret = -EIO;
		snprintf(why, whylen, "write to %s: %s", path, strerror(errno));
		goto out;
	}
	*len = 0;
	ret = read_reply(fd, buf, cap, len, &dl, false);
	if (ret)
		snprintf(why, whylen, "no answer to %.*s: %s", (int)(cl ? cl - 1 : 0), cmd, strerror(-ret));
out:
	close(fd);
	return ret;
}

int bgp_bird_show_protocols(const char *path, int timeout_ms, struct bgp_bird_proto *out,
			    int max, char *why, size_t whylen)
{
	char buf[16384];
	size_t len;
	int ret;

	ret = request(path, "show protocols\n", timeout_ms, buf, sizeof(buf), &len, why, whylen);
	if (ret)
		return ret;
	ret = bgp_bird_parse_protocols(buf, len, out, max);
	if (ret < 0)
		snprintf(why, whylen, "unexpected reply to show protocols");
	return ret;
}

/* "192.0.2.1/32" or "2001:db8::1/128" at the start of s[0..n): true and *net filled. */
static bool parse_net(const char *s, size_t n, struct bgp_bird_net *net)
{
	char w[64], *slash, *end;
	size_t i = 0;
	unsigned long l;

	memset(net, 0, sizeof(*net));
	if (!word(s, n, &i, w, sizeof(w)) || !(slash = strchr(w, '/')))
		return false;
	*slash = 0;
	if (!slash[1] || slash[1] < '0' || slash[1] > '9')
		return false;
	l = strtoul(slash + 1, &end, 10);
	if (*end)
		return false;
	if (inet_pton(AF_INET, w, net->addr) == 1 && l <= 32)
		net->family = 4;
	else if (inet_pton(AF_INET6, w, net->addr) == 1 && l <= 128)
		net->family = 6;
	else
		return false;
	net->len = (uint8_t)l;
	return true;
}

int bgp_bird_parse_routes(const char *buf, size_t len, struct bgp_bird_net *out, int max)
{
	size_t off = 0, n;
	const char *l;
	int count = 0, code = -1;

	while ((l = next_line(buf, len, &off, &n))) {
		struct bgp_bird_net net;
		const char *text;
		size_t tn;

		if (is_code(l, n)) {
			code = (l[0] - '0') * 1000 + (l[1] - '0') * 100 + (l[2] - '0') * 10 + (l[3] - '0');
			text = l + 5;
			tn = n - 5;
			if (code == 0)
				return count;
			if (code >= 8000)
				return -EREMOTEIO;
			if (l[4] == ' ' && code < 1000)
				continue;
		} else if (n && l[0] == ' ' && code >= 0) {
			text = l + 1;
			tn = n - 1;
		} else {
			return -EPROTO;
		}
		/* 1007: a route; a line that starts with whitespace continues the one before it. */
		if (code != 1007 || !tn || text[0] == ' ' || text[0] == '\t' || !parse_net(text, tn, &net))
			continue;
		if (count < max)
			out[count] = net;
		count++;
	}
	return -EAGAIN;
}

int bgp_bird_show_export(const char *path, const char *protocol, int timeout_ms,
			 struct bgp_bird_net *out, int max, char *why, size_t whylen)
{
	/* A route line is ~70 bytes: room for a few thousand. */
	size_t cap = 256 * 1024, len, k;
	char cmd[BGP_BIRD_NAME_MAX + 32], *buf;
	int ret;

	/* A name from "show protocols": BIRD's symbol characters only, never a second command. */
	for (k = 0; protocol[k]; k++)
		if (!((protocol[k] >= 'a' && protocol[k] <= 'z') || (protocol[k] >= 'A' && protocol[k] <= 'Z') ||
		      (protocol[k] >= '0' && protocol[k] <= '9') || protocol[k] == '_')) {
			snprintf(why, whylen, "protocol name %s: not a BIRD symbol", protocol);
			return -EINVAL;
		}
	if (!k || k >= BGP_BIRD_NAME_MAX) {
		snprintf(why, whylen, "protocol name empty or too long");
		return -EINVAL;
	}
	buf = malloc(cap);
	if (!buf) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	snprintf(cmd, sizeof(cmd), "show route export %s\n", protocol);
	ret = request(path, cmd, timeout_ms, buf, cap, &len, why, whylen);
	if (!ret) {
		ret = bgp_bird_parse_routes(buf, len, out, max);
		if (ret == -EREMOTEIO) {
			/* BIRD's words: "No valid tables" (the channel is down), ... */
			size_t e = strcspn(buf, "\n");

			snprintf(why, whylen, "BIRD: %.*s", (int)(e > 5 ? e - 5 : 0), buf + (e > 5 ? 5 : e));
		} else if (ret < 0) {
			snprintf(why, whylen, "unexpected reply to show route export %s", protocol);
		}
	}
	free(buf);
	return ret;
}
