/* The daemons' plumbing: sd_notify datagrams (path and abstract sockets) and log line formatting. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "notify.h"

/* --- notify ------------------------------------------------------------------- */

static int bind_dgram(const char *name, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path + (abstract ? 1 : 0), name, len);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0))), 0);
	return fd;
}

static void recv_equals(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_notify_path(void **state)
{
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/keel-notify-%d.sock", (int)getpid());
	unlink(path);
	fd = bind_dgram(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_send("READY=1\nSTATUS=running"), 1);
	recv_equals(fd, "READY=1\nSTATUS=running");
	assert_int_equal(notify_send("STOPPING=1"), 1);
	recv_equals(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	/* nobody listening any more: the error, not a crash or a hang */
	assert_int_equal(notify_send("READY=1"), -ENOENT);
}

static void test_notify_abstract(void **state)
{
	char name[64], env[66];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "keel-notify-test-%d", (int)getpid());
	fd = bind_dgram(name, true);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(notify_send("READY=1"), 1);
	recv_equals(fd, "READY=1");
	close(fd);
}

static void test_notify_unset_and_bad(void **state)
{
	char longname[200];

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1"), 0); /* not under systemd: nothing to do */
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_send("READY=1"), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(notify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

/* --- log ---------------------------------------------------------------------- */

static char line[512];

__attribute__((format(printf, 3, 4)))
static const char *fmt(enum log_level l, const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	log_format(line, sizeof(line), l, event, fields, ap);
	va_end(ap);
	return line;
}

static void test_log_fields(void **state)
{
	(void)state;
	assert_string_equal(fmt(LOG_WARN, "backend_down", "vip=%s backend=%s reason=%s", "web", "10.0.0.2",
				"connect timeout"),
			    "level=warn event=backend_down vip=web backend=10.0.0.2 reason=\"connect timeout\"");
	assert_string_equal(fmt(LOG_INFO, "published", "generation=%" PRIu64 " workers=%u ms=%.1f", (uint64_t)42,
				4u, 1.25),
			    "level=info event=published generation=42 workers=4 ms=1.2");
	assert_string_equal(fmt(LOG_ERROR, "x", "a=%d b=%lld c=%zu d=%x e=%c f=100%%", -3, -9000000000ll,
				(size_t)7, 255u, 'q'),
			    "level=error event=x a=-3 b=-9000000000 c=7 d=ff e=q f=100%");
	assert_string_equal(fmt(LOG_INFO, "started", NULL), "level=info event=started");
}

static void test_log_quoting(void **state)
{
	(void)state;
	/* empty, quotes, backslashes, '=', newlines, control characters */
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", ""), "level=info event=e v=\"\"");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "say \"hi\""), "level=info event=e v=\"say \\\"hi\\\"\"");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "a=b"), "level=info event=e v=\"a=b\"");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "two\nlines"), "level=info event=e v=\"two\\nlines\"");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "tab\there"), "level=info event=e v=\"tab\\x09here\"");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "back\\slash"), "level=info event=e v=back\\slash");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s", "c:\\ x"), "level=info event=e v=\"c:\\\\ x\"");
	/* a value built of several conversions and literals is one value, quoted once (issue 20):
	 * an empty piece does not make quotes in the middle of it */
	assert_string_equal(fmt(LOG_INFO, "metrics_listening", "address=%s%s%s:%u", "", "203.0.113.10", "", 9105u),
			    "level=info event=metrics_listening address=203.0.113.10:9105");
	assert_string_equal(fmt(LOG_INFO, "metrics_listening", "address=%s%s%s:%u", "[", "2001:db8::1", "]", 9105u),
			    "level=info event=metrics_listening address=[2001:db8::1]:9105");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s/%s n=%u", "a b", "c\"", 3u),
			    "level=info event=e v=\"a b/c\\\"\" n=3");
	assert_string_equal(fmt(LOG_INFO, "e", "v=%s%s k=x", "", ""), "level=info event=e v=\"\" k=x");
	/* a file:line:col error stays one value */
	assert_string_equal(fmt(LOG_WARN, "reload_refused", "reason=%s", "/etc/keel/keel.yaml:3:7: bad"),
			    "level=warn event=reload_refused reason=\"/etc/keel/keel.yaml:3:7: bad\"");
}

__attribute__((format(printf, 3, 4)))
static size_t fmt_into(char *buf, size_t len, const char *fields, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fields);
	n = log_format(buf, len, LOG_INFO, "e", fields, ap);
	va_end(ap);
	return n;
}

static void test_log_truncation(void **state)
{
	char small[24], big[300];
	size_t n;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = (size_t)snprintf(NULL, 0, "level=info event=e v=%s", big);
	assert_int_equal(strlen(fmt(LOG_INFO, "e", "v=%s", big)), n);
	/* a short buffer: cut and terminated, the whole length reported (as snprintf does) */
	memset(small, '#', sizeof(small));
	assert_int_equal(fmt_into(small, sizeof(small), "v=%s n=%u", big, 7u), n + 4);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "level=info event=e v=xx", sizeof(small) - 1);
}

static void test_log_levels(void **state)
{
	enum log_level l = LOG_DEBUG;

	(void)state;
	assert_int_equal(log_parse_level("warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("loud", &l), -EINVAL);
	assert_int_equal(l, LOG_DEBUG); /* unchanged on refusal */
	log_set_level(LOG_WARN);
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_WARN));
	assert_true(log_enabled(LOG_ERROR));
	log_set_level(LOG_INFO);
	assert_true(log_enabled(LOG_INFO));
	assert_false(log_enabled(LOG_DEBUG));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_path),
		cmocka_unit_test(test_notify_abstract),
		cmocka_unit_test(test_notify_unset_and_bad),
		cmocka_unit_test(test_log_fields),
		cmocka_unit_test(test_log_quoting),
		cmocka_unit_test(test_log_truncation),
		cmocka_unit_test(test_log_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
