/* The four VIPs the pipeline tests (test_pipeline*.c) run bursts against, on a burst_env. */
#ifndef KEEL_TEST_PIPELINE_VIPS_H
#define KEEL_TEST_PIPELINE_VIPS_H

#include <stdint.h>

#include "burst_env.h"
#include "pktgen.h"
#include "snapshot_build.h"

/* Backends 0-6 as pipeline_vips_spec made them last. */
extern struct keel_backend_spec pipeline_vips_be[8];
/* A SYN with 10 bytes to VIP 0 from 198.51.100.7:40000. */
extern const struct pktgen pipeline_vips_tcp4;

/*
 * VIP 0: 192.0.2.1:80/tcp, backends 0-2 (backend 1 of weight weight1, backend 2
 * in state state2). VIP 1: 192.0.2.1 udp all ports + fragments, 3-4. VIP 2:
 * [2001:db8::1]:443/tcp GUE, backends 5-6 (IPv6). VIP 3: 192.0.2.2:80/tcp, no backend.
 */
void pipeline_vips_spec(struct keel_snapshot_spec *spec, uint8_t state2, uint32_t weight1);
/* cmocka setup and teardown: a burst_env over the spec with every backend active (flow table of 4096). */
int pipeline_vips_setup(void **state);
int pipeline_vips_teardown(void **state);
/* The backend id forwarded frame i was sent to, from its outer destination; -1 if none of these. */
int pipeline_vips_outer_backend(const struct burst_env *e, int i);

/* A cmocka test with a fresh burst_env over these VIPs (include cmocka.h first). */
#define PIPELINE_VIPS_TEST(f) cmocka_unit_test_setup_teardown(f, pipeline_vips_setup, pipeline_vips_teardown)

#endif
