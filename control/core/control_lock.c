/* One keel-control per dataplane and per state directory (issue 21 item 6): a lock held for the process's life. */
#include "control_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"

int control_lock_take(const char *path, const char *what, char *why, size_t whylen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, err;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = errno;
		snprintf(why, whylen, "cannot open the lock of %s (%s): %s", what, path, strerror(err));
		return -err;
	}
	if (!fcntl(fd, F_SETLK, &fl))
		return fd;
	err = errno;
	if (err == EAGAIN || err == EACCES) {
		struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		/* Who holds it: the operator needs the pid to find the other keel-control. */
		if (!fcntl(fd, F_GETLK, &held) && held.l_type != F_UNLCK)
			snprintf(why, whylen,
				 "another keel-control (pid %d) already drives %s (lock %s): stop it first, "
				 "or give this one its own instance and --state-dir",
				 (int)held.l_pid, what, path);
		else
			snprintf(why, whylen, "another keel-control already drives %s (lock %s)", what,
				 path);
		close(fd);
		return -EBUSY;
	}
	snprintf(why, whylen, "cannot lock %s (%s): %s", what, path, strerror(err));
	close(fd);
	return -err;
}

int control_lock_instance(const char *instance, char *why, size_t whylen)
{
	char region[512], path[600], what[96];
	const char *slash;
	int ret;

	ret = keel_region_path(instance, region, sizeof(region));
	if (ret) {
		snprintf(why, whylen, "instance \"%s\": %s", instance, strerror(-ret));
		return ret;
	}
	/* A dot file: globs of keel-* (tools listing regions) do not see it. */
	slash = strrchr(region, '/');
	snprintf(path, sizeof(path), "%.*s/.%s.control.lock", (int)(slash - region), region, slash + 1);
	snprintf(what, sizeof(what), "instance %s", instance);
	return control_lock_take(path, what, why, whylen);
}

int control_lock_state(const char *dir, char *why, size_t whylen)
{
	char path[600], what[560], p[512];
	size_t i;

	if (strlen(dir) >= sizeof(p)) {
		snprintf(why, whylen, "state directory %.64s...: path too long", dir);
		return -ENAMETOOLONG;
	}
	/* The directory as state_save makes it (0750, parents too): the lock comes before any state. */
	strcpy(p, dir);
	for (i = 1; p[i]; i++) {
		if (p[i] != '/')
			continue;
		p[i] = 0;
		if (mkdir(p, 0750) && errno != EEXIST)
			break;
		p[i] = '/';
	}
	if (mkdir(dir, 0750) && errno != EEXIST) {
		int err = errno;

		snprintf(why, whylen, "state directory %s: %s", dir, strerror(err));
		return -err;
	}
	snprintf(path, sizeof(path), "%s/control.lock", dir);
	snprintf(what, sizeof(what), "state directory %s", dir);
	return control_lock_take(path, what, why, whylen);
}
