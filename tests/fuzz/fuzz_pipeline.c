/* libFuzzer harness: one frame through the whole packet core (parse, classify, flow lookup, Maglev, encapsulate, ICMP). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "parse.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADROOM 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_fixture *fx;
	static uint8_t frame[HEADROOM + 9216 + 64];
	struct keel_buf b;
	uint8_t verdict, steer;

	if (!fx)
		fx = fuzz_fixture_get();
	if (size < 1 || size > 9216)
		return 0;
	/*
	 * The first byte steers the environment: which clock tick, whether
	 * non-VIP goes to the kernel, and whether the frame is sent to the port's
	 * own MAC (so that mutations past the link layer are not all refused
	 * there) or to whatever its first six bytes say.
	 */
	fx->worker.now_ms += data[0] & 0x3f;
	fx->worker.non_vip_to_kernel = data[0] & 0x40;
	steer = data[0];
	data++;
	size--;

	memcpy(frame + HEADROOM, data, size);
	if ((steer & 0x80) && size >= 6)
		memcpy(frame + HEADROOM, fx->port.mac, 6);
	{
		/* The parser's fast path must agree with the full parser, byte for byte. */
		struct keel_pkt fast, full;
		enum keel_drop rf, rs;

		memset(&fast, 0xa5, sizeof(fast));
		memset(&full, 0xa5, sizeof(full));
		rf = keel_parse(frame + HEADROOM, (uint32_t)size, &fast);
		rs = keel_parse_full(frame + HEADROOM, (uint32_t)size, &full);
		if (rf != rs || (rf == KEEL_DROP_NONE && memcmp(&fast, &full, sizeof(fast))))
			abort();
	}
	b.data = frame + HEADROOM;
	b.len = (uint16_t)size;
	b.headroom = HEADROOM;
	b.tailroom = (uint16_t)(sizeof(frame) - HEADROOM - size);
	keel_pipeline_burst(&fx->worker, &fx->port, &b, &verdict, 1);
	if (verdict > KEEL_VERDICT_KERNEL)
		abort();
	/* Output must stay inside the buffer. */
	if (b.data < frame || b.data + b.len > frame + sizeof(frame))
		abort();
	return 0;
}
