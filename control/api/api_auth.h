/* Who may call the management API: the peer's credentials (SO_PEERCRED) against the configured groups. */
#ifndef KEEL_CONTROL_API_AUTH_H
#define KEEL_CONTROL_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum api_role {
	API_ROLE_NONE = 0, /* 403 on everything */
	API_ROLE_READ,     /* member of the API group: read-only calls */
	API_ROLE_ADMIN,    /* root or member of the admin group: every call */
};

/* The configured groups, resolved once at start. */
struct api_auth {
	bool has_group, has_admin;
	gid_t group, admin;
};

/*
 * Resolve the group names ("" or NULL: none, root only). A name that does not
 * exist is left out (root only for that role) and reported in warn.
 */
void api_auth_init(struct api_auth *a, const char *group, const char *admin_group, char *warn,
		   size_t warnlen);

#define API_PEER_GROUPS_MAX 64

/* A connected peer: its credentials when it connected. */
struct api_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	unsigned int n_groups; /* supplementary groups, at most API_PEER_GROUPS_MAX */
	gid_t groups[API_PEER_GROUPS_MAX];
};

/*
 * The peer of a connected AF_UNIX socket. Its supplementary groups come from
 * SO_PEERGROUPS (Linux 4.13): those the kernel itself checked against the
 * socket file's mode when it connected; on older kernels from the account
 * database (getgrouplist). 0 or -errno.
 */
int api_auth_peer(int fd, struct api_peer *p);

/* The role of a peer (pure: the unit tests call it with made-up peers). */
enum api_role api_auth_role(const struct api_auth *a, const struct api_peer *p);

#endif
