/* The logfmt-style event lines of keel-control and keel-dataplane's main thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static _Atomic int min_level = LOG_INFO;
static bool to_journal;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
/* syslog(3) priorities: LOG_DEBUG 7, LOG_INFO 6, LOG_WARNING 4, LOG_ERR 3 */
static const int level_prio[] = { 7, 6, 4, 3 };

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream stderr is connected to. */
	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_level(enum log_level l)
{
	atomic_store_explicit(&min_level, (int)l, memory_order_relaxed);
}

int log_parse_level(const char *name, enum log_level *out)
{
	for (int i = 0; i <= LOG_ERROR; i++)
		if (!strcmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	if (!strcmp(name, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

bool log_enabled(enum log_level l)
{
	return (int)l >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

struct out {
	char *buf;
	size_t len, n; /* n: characters wanted so far, as snprintf counts */
};

static void put(struct out *o, const char *s, size_t k)
{
	if (o->n < o->len) {
		size_t room = o->len - 1 - o->n;

		memcpy(o->buf + o->n, s, k < room ? k : room);
	}
	o->n += k;
}

static void putc_(struct out *o, char ch)
{
	put(o, &ch, 1);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (*s == ' ' || *s == '"' || *s == '=' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void put_value(struct out *o, const char *s)
{
	if (!s)
		s = "(null)";
	if (!needs_quotes(s)) {
		put(o, s, strlen(s));
		return;
	}
	putc_(o, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			putc_(o, '\\');
			putc_(o, (char)ch);
		} else if (ch == '\n') {
			put(o, "\\n", 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			char hex[5];

			snprintf(hex, sizeof(hex), "\\x%02x", ch);
			put(o, hex, 4);
		} else {
			putc_(o, (char)ch);
		}
	}
	putc_(o, '"');
}

/*
 * One conversion spec at *fmt (after '%'): consume its argument, print it. The spec handed to
 * snprintf is one conversion cut from FIELDS, which the compiler checked against the arguments
 * at the log_event call (format attribute): hence no -Wformat-nonliteral here.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static const char *put_conversion(struct out *o, const char *fmt, va_list *ap, bool raw)
{
	char spec[32], tmp[64];
	const char *start = fmt - 1;
	enum { L_NONE, L_HH, L_H, L_L, L_LL, L_Z, L_J } lm = L_NONE;
	size_t sl;
	int k = 0;

	while (*fmt && strchr("-+ #0", *fmt))
		fmt++;
	while (*fmt >= '0' && *fmt <= '9')
		fmt++;
	if (*fmt == '.') {
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			fmt++;
	}
	if (fmt[0] == 'h' && fmt[1] == 'h') { lm = L_HH; fmt += 2; }
	else if (fmt[0] == 'h') { lm = L_H; fmt++; }
	else if (fmt[0] == 'l' && fmt[1] == 'l') { lm = L_LL; fmt += 2; }
	else if (fmt[0] == 'l') { lm = L_L; fmt++; }
	else if (fmt[0] == 'z') { lm = L_Z; fmt++; }
	else if (fmt[0] == 'j') { lm = L_J; fmt++; }
	sl = (size_t)(fmt - start) + 1;
	if (!*fmt || sl >= sizeof(spec)) {
		put(o, start, strlen(start));
		return start + strlen(start);
	}
	memcpy(spec, start, sl);
	spec[sl] = '\0';
	switch (*fmt) {
	case 's':
		if (raw) {
			const char *v = va_arg(*ap, const char *);

			v = v ? v : "(null)";
			put(o, v, strlen(v));
		} else {
			put_value(o, va_arg(*ap, const char *));
		}
		return fmt + 1;
	case '%':
		putc_(o, '%');
		return fmt + 1;
	case 'c':
		k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int));
		break;
	case 'd': case 'i':
		switch (lm) {
		case L_L: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long)); break;
		case L_LL: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, long long)); break;
		case L_Z: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, ssize_t)); break;
		case L_J: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, intmax_t)); break;
		default: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, int)); break;
		}
		break;
	case 'u': case 'x': case 'X': case 'o':
		switch (lm) {
		case L_L: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned long)); break;
		case L_LL: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned long long)); break;
		case L_Z: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, size_t)); break;
		case L_J: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, uintmax_t)); break;
		default: k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, unsigned int)); break;
		}
		break;
	case 'f': case 'g': case 'e':
		k = snprintf(tmp, sizeof(tmp), spec, va_arg(*ap, double));
		break;
	default: /* unsupported: printed as written, no argument consumed */
		put(o, start, sl);
		return fmt + 1;
	}
	if (k > 0)
		put(o, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
	return fmt + 1;
}
#pragma GCC diagnostic pop

/* FIELDS from f to end, conversions expanded; raw: %s as given, else each quoted as needed. */
static void put_span(struct out *o, const char *f, const char *end, va_list *ap, bool raw)
{
	while (f < end) {
		if (*f == '%') {
			f = put_conversion(o, f + 1, ap, raw);
		} else {
			const char *p = memchr(f, '%', (size_t)(end - f));
			size_t k = p ? (size_t)(p - f) : (size_t)(end - f);

			put(o, f, k);
			f += k;
		}
	}
}

size_t log_format(char *buf, size_t len, enum log_level l, const char *event, const char *fields,
		  va_list ap)
{
	struct out o = { .buf = buf, .len = len };
	va_list aq;
	const char *f;

	if ((unsigned int)l > LOG_ERROR)
		l = LOG_ERROR;
	put(&o, "level=", 6);
	put(&o, level_names[l], strlen(level_names[l]));
	put(&o, " event=", 7);
	put_value(&o, event);
	if (fields && *fields)
		putc_(&o, ' ');
	va_copy(aq, ap);
	/*
	 * Field by field (FIELDS split at its spaces): a value is the whole text after "key=",
	 * conversions and literals together, quoted once as one value. "address=%s%s%s:%u" with
	 * "" "192.0.2.1" "" 9105 is address=192.0.2.1:9105, not address=""192.0.2.1"":9105.
	 */
	for (f = fields; f && *f;) {
		const char *end = f + strcspn(f, " "), *eq = memchr(f, '=', (size_t)(end - f));
		char value[LOG_LINE_MAX];
		struct out v = { .buf = value, .len = sizeof(value) };

		if (f == end) {
			putc_(&o, *f++);
			continue;
		}
		if (!eq) {
			put_span(&o, f, end, &aq, false);
			f = end;
			continue;
		}
		put(&o, f, (size_t)(eq + 1 - f));
		put_span(&v, eq + 1, end, &aq, true);
		value[v.n < sizeof(value) ? v.n : sizeof(value) - 1] = '\0';
		put_value(&o, value);
		f = end;
	}
	va_end(aq);
	if (len)
		buf[o.n < len ? o.n : len - 1] = '\0';
	return o.n;
}

void log_eventv(enum log_level l, const char *event, const char *fields, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t off = 0, n;

	if (!log_enabled(l))
		return;
	if (to_journal) {
		off = (size_t)snprintf(line, sizeof(line), "<%d>", level_prio[l < 0 || l > LOG_ERROR ? LOG_ERROR : l]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
		off += (size_t)snprintf(line + off, sizeof(line) - off, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n = log_format(line + off, sizeof(line) - off - 1, l, event, fields, ap);
	n = off + (n < sizeof(line) - off - 1 ? n : sizeof(line) - off - 2);
	line[n++] = '\n';
	/* One write: a line never interleaves with another thread's. Nothing to do if it fails. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_event(enum log_level l, const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	log_eventv(l, event, fields, ap);
	va_end(ap);
}
