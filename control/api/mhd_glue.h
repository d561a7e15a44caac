/* What both HTTP servers (api.c, metrics_http.c) say to libmicrohttpd the same way: its error log, the gate's slot of a connection. */
#ifndef KEEL_CONTROL_MHD_GLUE_H
#define KEEL_CONTROL_MHD_GLUE_H

#include <stdarg.h>

#include <microhttpd.h>

#include "conn_gate.h"

/*
 * One of MHD's error messages as the log event `event` (reason=, left_out=),
 * at most one line a second per limiter: a flood of bad connections must not
 * flood the journal.
 */
void mhd_glue_log(struct log_limit *limit, const char *event, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* The connection's slot in the gate (NULL: refused by it). */
struct conn_gate_slot *mhd_glue_slot(struct MHD_Connection *conn);

#endif
