/* Which regions this build can read: the header's ABI version, layout and every section's element size. */
#include <stddef.h>

#include "drop.h"
#include "region.h"
#include "snapshot.h"

const char *keel_region_check(const struct keel_region *r, uint64_t size)
{
	if (r->abi != KEEL_REGION_ABI)
		return "region ABI version differs (keel-control and keel-dataplane of other releases)";
	if (r->header_size != sizeof(struct keel_region))
		return "region header size differs";
	if (r->region_size != size)
		return "region size differs from its file";
	if (r->status_size != sizeof(struct keel_worker_status))
		return "worker status size differs";
	if (r->counters_size != sizeof(struct keel_worker_counters))
		return "worker counter block size differs";
	if (r->cmd_size != sizeof(struct keel_cmd) || r->ring_slots != KEEL_RING_SLOTS)
		return "command ring element size or length differs";
	if (r->n_drop_reasons != KEEL_DROP_MAX)
		return "number of drop reasons differs (the counters would be misread)";
	if (r->max_vips != KEEL_MAX_VIPS || r->max_backends != KEEL_MAX_BACKENDS)
		return "VIP or backend limit differs (the counters would be misread)";
	if (r->max_workers != KEEL_REGION_MAX_WORKERS)
		return "worker limit differs";
	if (r->snapshot_abi != KEEL_SNAPSHOT_ABI || r->backend_size != sizeof(struct keel_backend))
		return "snapshot ABI or backend record size differs (every snapshot would be refused)";
	if (r->trace_size != sizeof(struct keel_trace_worker) || r->trace_records != KEEL_TRACE_RECORDS)
		return "trace record ring size differs";
	if (r->n_workers == 0 || r->n_workers > KEEL_REGION_MAX_WORKERS)
		return "worker count out of range";
	if (r->n_slots < 2 || r->n_slots > KEEL_REGION_MAX_SLOTS)
		return "snapshot slot count out of range";
	/* Every section inside the file and after the one before it (sizes are small: no overflow). */
	if (r->rings_off < r->header_size ||
	    r->status_off < r->rings_off + r->ring_stride * r->n_workers ||
	    r->counters_off < r->status_off + (uint64_t)r->status_size * r->n_workers ||
	    r->trace_off < r->counters_off + (uint64_t)r->counters_size * r->n_workers ||
	    r->slots_off < r->trace_off + (uint64_t)r->trace_size * r->n_workers ||
	    r->slot_size > size || r->slots_off + r->slot_size * r->n_slots > size)
		return "a section lies outside the region or overlaps the next";
	return NULL;
}
