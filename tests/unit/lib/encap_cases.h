/* The encapsulation case table: one row per encapsulation the packet core makes or refuses (lib/pkt_case.h rows, struct encap_row arguments). */
#ifndef KEEL_TEST_ENCAP_CASES_H
#define KEEL_TEST_ENCAP_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "encap.h"
#include "pkt_case.h"

/*
 * A row's parameters: the backend's family, the encapsulation; the entropy
 * (0: ENTROPY), the snapshot's MTU (0: 1500), the MTU a refusal must report
 * (0: none, the out-parameter stays untouched), and the headroom the buffer
 * claims (0: all of it; HEADROOM_NONE: none at all).
 */
struct encap_row {
	uint8_t be_family;
	uint8_t encap;
	uint32_t entropy;
	uint16_t mtu;
	uint16_t want_mtu;
	uint16_t headroom;
};

#define HEADROOM_NONE 0xffff

/* The snapshot every row encapsulates with: our MAC, 10.1.0.0/16 and fd00:1::/64, TTL 32, MTU 1500. */
void encap_snap_init(struct keel_snapshot *s);
/* The row's backend: 10.2.0.5 or fd00:2::5 (the decap fixtures' local addresses), active. */
void encap_backend_init(struct keel_backend *be, int family);
/* p as keel_parse would fill it for these plain frames (no parser dependency). */
void encap_fill_pkt(const uint8_t *f, struct keel_pkt *p);
/* encap_packet with be's header template filled for s first, as keel_snapshot_build leaves it. */
enum keel_drop encap_tmpl(struct keel_buf *b, const struct keel_pkt *p, const struct keel_snapshot *s,
			  const struct keel_backend *be, uint8_t encap, uint32_t entropy, uint16_t *inner_mtu);
/* The stage of the table: encapsulate c's frame for its row (a pkt_case_stage). */
int encap_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx);

extern const struct pkt_case encap_cases[];
extern const size_t encap_cases_n;

#endif
