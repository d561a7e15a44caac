/* VIP lookup in a snapshot by (address, port, protocol), with "all ports" VIPs and address-only lookup for ICMP. */
#ifndef KEEL_CORE_VIP_H
#define KEEL_CORE_VIP_H

#include <stdint.h>

#include "pkt.h"
#include "snapshot.h"

#define KEEL_VIP_NONE 0xffffu

/* Fixed seed of the VIP hash: the VIP table is rebuilt whole with each snapshot. */
#define KEEL_VIP_HASH_SEED 0x6b65656c2d766970ULL

/*
 * The three kinds of key kept in the snapshot's VIP hash, all hashed as
 * vip_hash_key(addr, port, proto): (addr, port, proto) for ordinary VIPs,
 * (addr, 0, proto) for all-ports VIPs, (addr, 0, 0) once per VIP address.
 */
uint64_t vip_hash_key(const uint8_t addr[16], uint8_t family, uint16_t port, uint8_t proto);

/* VIP index for a destination: exact (port) match first, then all-ports. KEEL_VIP_NONE if none. */
uint16_t vip_lookup(const struct keel_snapshot *s, uint8_t family, const uint8_t addr[16],
		    uint16_t port, uint8_t proto);

/* Index of some VIP with this address (for ICMP echo), KEEL_VIP_NONE if none. */
uint16_t vip_lookup_addr(const struct keel_snapshot *s, uint8_t family, const uint8_t addr[16]);

#endif
