/* Operator log lines: one per event, "level=L event=E key=value ...", journald-friendly. */
#ifndef KEEL_SERVICE_LOG_H
#define KEEL_SERVICE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/*
 * Where lines go and how they start. Lines go to stderr. When stderr is the journal
 * ($JOURNAL_STREAM names it, as systemd sets it up) each line starts with the syslog priority
 * ("<4>") so that journald files it at that priority, and carries no timestamp: the journal has
 * one. Otherwise it starts with "ts=2026-01-02T03:04:05.678Z ". Call once, first thing.
 */
void log_init(void);

/* The least severe level written (default LOG_INFO). */
void log_set_level(enum log_level l);
/* "debug", "info", "warn" (or "warning"), "error": 0, or -EINVAL for anything else. */
int log_parse_level(const char *name, enum log_level *out);
bool log_enabled(enum log_level l);

/*
 * One line: level=L event=EVENT, then FIELDS formatted like printf. FIELDS is a list of
 * key=value pairs, "vip=%s backend=%s reason=%s"; every %s value is quoted when it needs it
 * (empty, or holding a space, '"', '=' or a control character: "connect timeout" comes out as
 * reason="connect timeout"), so callers never quote. A value is everything after "key=" up to the next space of FIELDS, quoted as
one ("address=%s:%u" with "::1" is address=::1:9105; no space flag in conversions). Other
conversions (%d %u %llu %x %zu
 * PRIu64 %f %c %%) print as printf would; '*' widths are not supported; NULL for no fields.
 * The line is written with one write(2), so lines of threads do not interleave. For events,
 * never per packet.
 */
void log_event(enum log_level l, const char *event, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));
void log_eventv(enum log_level l, const char *event, const char *fields, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Formats the line log_event writes (without the newline) into buf; for tests. */
size_t log_format(char *buf, size_t len, enum log_level l, const char *event, const char *fields,
		  va_list ap) __attribute__((format(printf, 5, 0)));

#endif
