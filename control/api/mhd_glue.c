/* libmicrohttpd glue shared by the API and /metrics servers (mhd_glue.h). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mhd_glue.h"

void mhd_glue_log(struct log_limit *limit, const char *event, const char *fmt, va_list ap)
{
	unsigned long left_out;
	char msg[256];
	size_t n;

	if (!log_limit_ok(limit, conn_gate_now_ms(), 1000, &left_out))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_event(LOG_WARN, event, "reason=%s left_out=%lu", msg, left_out);
}

struct conn_gate_slot *mhd_glue_slot(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}
