/* Small helpers for tests that need a forwarding state: specs from text, built through the real snapshot builder. */
#ifndef KEEL_TEST_SNAPFIX_H
#define KEEL_TEST_SNAPFIX_H

#include <stdint.h>

#include "snapshot_build.h"

/* A backend spec from an address text (family from the text), id, weight, state. */
struct keel_backend_spec snapfix_backend(const char *addr, uint16_t id, uint32_t weight,
					 uint8_t state);

/* A VIP spec: "192.0.2.1", port (host order; 0 = all ports), proto, flags, encap, id. */
struct keel_vip_spec snapfix_vip(const char *addr, uint16_t port, uint8_t proto, uint8_t flags,
				 uint8_t encap, uint16_t id, uint32_t table_size,
				 const struct keel_backend_spec *be, uint32_t n);

/* Fill output parameters of a spec with the fixed test values (MACs, prefixes, MTU 1500). */
void snapfix_spec_defaults(struct keel_snapshot_spec *spec);

/* Build (malloc'd, caller frees) or fail the test. */
struct keel_snapshot *snapfix_build(const struct keel_snapshot_spec *spec);

/* Hand the builder a spec it should refuse, in a scratch area: its result (0: it built) and its reason in *why. */
int snapfix_build_err(const struct keel_snapshot_spec *spec, const char **why);

#endif
