/* Where an instance's region file lives: the one rule keel-dataplane and keel-control both follow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include "region.h"

/*
 * Hugetlbfs when it is mounted at the usual place: the Maglev tables in the
 * snapshot slots then sit on 2 MiB pages, which matters for random lookups
 * over tens of MiB. KEEL_REGION_DIR overrides both sides alike (tests,
 * unprivileged runs); it must name the same directory for both processes.
 */
static const char *region_dir(void)
{
	const char *env = getenv("KEEL_REGION_DIR");
	struct statfs st;

	if (env && env[0])
		return env;
	if (statfs("/dev/hugepages", &st) == 0 && st.f_type == HUGETLBFS_MAGIC)
		return "/dev/hugepages";
	return "/dev/shm";
}

/* Names become file names: keep them to a safe alphabet so no name escapes the directory. */
static int region_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= sizeof(((struct keel_region *)0)->name) || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int keel_region_path(const char *name, char *buf, size_t len)
{
	int n;

	if (!name || !region_name_ok(name))
		return -EINVAL;
	n = snprintf(buf, len, "%s/keel-%s", region_dir(), name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}
