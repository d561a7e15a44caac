/* The exception path's priority: which frames for the host are its control protocols, and a budget for the rest. */
#ifndef KEEL_CORE_EXCEPTION_CLASS_H
#define KEEL_CORE_EXCEPTION_CLASS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * What a frame handed to the kernel is, for the exception path's priority.
 * CONTROL is what keeps the host in the network: ARP, IPv6 neighbour
 * discovery (ICMPv6 133-137, hop limit 255 as RFC 4861 7.1 requires), BGP
 * (TCP port 179 either way), BFD (UDP 3784/3785 with TTL 255 as RFC 5881 5
 * requires, multihop 4784) and OSPF (IP protocol 89). OTHER is the rest
 * (pings, SSH, scans, floods): bounded per worker. Anything unparsable is
 * OTHER: the kernel judges it, within the budget.
 */
enum keel_exc_class {
	KEEL_EXC_OTHER = 0,
	KEEL_EXC_CONTROL = 1,
};

/* Class of an Ethernet frame (one 802.1Q/802.1ad tag at most) of len bytes. Reads only within len. */
enum keel_exc_class keel_exc_classify(const uint8_t *frame, uint32_t len);

/*
 * Token bucket of `rate` frames per second, as deep (one second's worth),
 * kept as debt in thousandths of a frame like the ICMP answer bucket, so no
 * part of a refill is rounded away. Zero-initialised it is full. rate 0:
 * unlimited. Per worker: no sharing, no atomics.
 */
struct keel_exc_budget {
	uint32_t rate;
	uint64_t debt_milli;
	uint64_t last_ms;
};

static inline bool keel_exc_allowed(struct keel_exc_budget *b, uint64_t now_ms)
{
	uint64_t rate = b->rate;

	if (!rate)
		return true;
	if (now_ms > b->last_ms) {
		uint64_t elapsed = now_ms - b->last_ms, paid;

		if (elapsed > 1000) /* a second refills any bucket; the cap keeps the product in range */
			elapsed = 1000;
		paid = elapsed * rate;
		b->debt_milli = b->debt_milli > paid ? b->debt_milli - paid : 0;
		b->last_ms = now_ms;
	}
	if (b->debt_milli + 1000 > rate * 1000)
		return false;
	b->debt_milli += 1000;
	return true;
}

#endif
