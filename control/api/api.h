/* keel-control's management API: HTTP/JSON over a Unix socket, served by libmicrohttpd (docs/api.md). */
#ifndef KEEL_CONTROL_API_H
#define KEEL_CONTROL_API_H

#include <stddef.h>

struct keel_control;
struct api;

/*
 * Listen on socket_path (a stale socket is replaced; one that a live process
 * listens on is not), mode 0660, group `group` when it exists ("" or NULL:
 * root only). Read-only calls for root, `group` and `admin_group`; mutating
 * calls for root and `admin_group`. The API's threads call c's functions
 * (which take the control's mutex). NULL with errno and why on failure.
 */
struct api *api_start(struct keel_control *c, const char *socket_path, const char *group,
		      const char *admin_group, char *why, size_t whylen);

/* Stop serving (in-flight requests finish), remove the socket; NULL is fine. */
void api_stop(struct api *a);

#endif
