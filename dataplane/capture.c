/* Packet capture with DPDK's own tools: rte_pdump's server, and why it may be unavailable. */
#include "capture.h"

#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include "log.h"

const char *capture_blocked_by(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--in-memory"))
			return "--in-memory (no multi-process channel)";
		if (!strcmp(a, "--no-shconf"))
			return "--no-shconf (no multi-process channel)";
		/* "existing" and "never" keep the files; the bare option means "always". */
		if (!strcmp(a, "--huge-unlink") || !strcmp(a, "--huge-unlink=always"))
			return "--huge-unlink (a secondary cannot map the hugepages)";
	}
	return NULL;
}

/* The --file-prefix a secondary must give: the last part of the EAL's runtime directory. */
static const char *capture_prefix(void)
{
	const char *dir = rte_eal_get_runtime_dir();
	const char *slash = dir ? strrchr(dir, '/') : NULL;

	return slash ? slash + 1 : "rte";
}

bool capture_init(const char *blocked)
{
	if (blocked) {
		/* Not a fault: the operator chose these options (tests and benchmarks do). */
		log_event(LOG_INFO, "capture", "available=no reason=%s hint=%s", blocked,
			  "start without --in-memory, --no-shconf and --huge-unlink to use dpdk-dumpcap");
		return false;
	}
	if (rte_pdump_init()) {
		log_event(LOG_WARN, "capture", "available=no reason=%s error=%s", "rte_pdump_init failed",
			  rte_strerror(rte_errno));
		return false;
	}
	log_event(LOG_INFO, "capture", "available=yes file_prefix=%s tool=dpdk-dumpcap", capture_prefix());
	return true;
}

void capture_fini(bool on)
{
	if (on)
		rte_pdump_uninit();
}
