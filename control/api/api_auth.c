/* Management API access: peer credentials of the Unix socket mapped to no access, read-only or admin. */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_auth.h"

static bool lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (!name || !*name)
		return false;
	/* A group with a huge member list gives ERANGE: a name we cannot resolve is no group. */
	return getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res && (*gid = res->gr_gid, true);
}

void api_auth_init(struct api_auth *a, const char *group, const char *admin_group, char *warn,
		   size_t warnlen)
{
	memset(a, 0, sizeof(*a));
	if (warn && warnlen)
		warn[0] = '\0';
	a->has_group = lookup_group(group, &a->group);
	a->has_admin = lookup_group(admin_group, &a->admin);
	if (warn && warnlen && group && *group && !a->has_group)
		snprintf(warn, warnlen, "group \"%s\" does not exist: read-only calls for root only",
			 group);
	else if (warn && warnlen && admin_group && *admin_group && !a->has_admin)
		snprintf(warn, warnlen, "admin group \"%s\" does not exist: mutating calls for root only",
			 admin_group);
}

/* Supplementary groups from the account database, when the kernel cannot say. */
static int groups_from_passwd(struct api_peer *p)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = API_PEER_GROUPS_MAX;

	if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &res) || !res)
		return 0; /* no account: its gid alone */
	/* On overflow getgrouplist fills what fits and returns -1: those still count. */
	getgrouplist(res->pw_name, p->gid, p->groups, &n);
	p->n_groups = n < 0 ? 0 : (n > API_PEER_GROUPS_MAX ? API_PEER_GROUPS_MAX : (unsigned int)n);
	return 0;
}

int api_auth_peer(int fd, struct api_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	if (len != sizeof(cred))
		return -EINVAL;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
#ifdef SO_PEERGROUPS
	len = sizeof(p->groups);
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len)) {
		p->n_groups = len / sizeof(gid_t);
		return 0;
	}
	/* ERANGE: more groups than we keep; the account database then says the same (bounded). */
#endif
	return groups_from_passwd(p);
}

static bool member(const struct api_peer *p, gid_t g)
{
	if (p->gid == g)
		return true;
	for (unsigned int i = 0; i < p->n_groups && i < API_PEER_GROUPS_MAX; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

enum api_role api_auth_role(const struct api_auth *a, const struct api_peer *p)
{
	if (p->uid == 0)
		return API_ROLE_ADMIN;
	if (a->has_admin && member(p, a->admin))
		return API_ROLE_ADMIN;
	if (a->has_group && member(p, a->group))
		return API_ROLE_READ;
	return API_ROLE_NONE;
}
