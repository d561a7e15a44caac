/* keel-dataplane's EAL options from /proc/PID/cmdline: the file prefix dpdk-dumpcap needs, and whether it can attach. */
#include "dataplane_eal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The same three options as dataplane/capture.c: they leave a secondary nothing to attach to. */
static const char *blocks(const char *a)
{
	if (!strcmp(a, "--in-memory"))
		return "--in-memory (no multi-process channel)";
	if (!strcmp(a, "--no-shconf"))
		return "--no-shconf (no multi-process channel)";
	if (!strcmp(a, "--huge-unlink") || !strcmp(a, "--huge-unlink=always"))
		return "--huge-unlink (a secondary cannot map the hugepages)";
	return NULL;
}

static int set_prefix(struct dataplane_eal *out, const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n >= sizeof(out->file_prefix))
		return -1;
	memcpy(out->file_prefix, p, n + 1);
	return 0;
}

int dataplane_eal_parse(const char *cmdline, size_t len, struct dataplane_eal *out)
{
	static const char opt[] = "--file-prefix";
	const char *p = cmdline, *end = cmdline + len;
	bool first = true, dash = false;

	memset(out, 0, sizeof(*out));
	strcpy(out->file_prefix, "rte");
	out->capture = true;
	/* The kernel ends every argument with a NUL; an unended last one is ignored. */
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p)), *why;

		if (!nul)
			break;
		if (first) {
			first = false; /* argv[0] */
		} else if (!strcmp(p, "--")) {
			dash = true;
			break;
		} else if (!strncmp(p, opt, sizeof(opt) - 1) && p[sizeof(opt) - 1] == '=') {
			if (set_prefix(out, p + sizeof(opt)))
				return -1;
		} else if (!strcmp(p, opt)) {
			const char *v = nul + 1;
			const char *vnul = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;

			if (!vnul || set_prefix(out, v))
				return -1;
			nul = vnul;
		} else if ((why = blocks(p)) && out->capture) {
			out->capture = false;
			snprintf(out->why, sizeof(out->why), "%s", why);
		}
		p = nul + 1;
	}
	return dash ? 0 : -1;
}

int dataplane_eal_read(pid_t pid, struct dataplane_eal *out)
{
	char path[64], buf[8192];
	ssize_t n;
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Read to the end or to the buffer's size: the EAL options come first. */
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (dataplane_eal_parse(buf, len, out)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
