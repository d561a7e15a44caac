/* The four VIPs the pipeline tests (test_pipeline*.c) run bursts against, on a burst_env. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline_vips.h"
#include "snapfix.h"

struct keel_backend_spec pipeline_vips_be[8];
static struct keel_vip_spec vips[4];

void pipeline_vips_spec(struct keel_snapshot_spec *spec, uint8_t state2, uint32_t weight1)
{
	pipeline_vips_be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	pipeline_vips_be[1] = snapfix_backend("10.0.0.2", 1, weight1, KEEL_BACKEND_ACTIVE);
	pipeline_vips_be[2] = snapfix_backend("10.0.0.3", 2, 1, state2);
	pipeline_vips_be[3] = snapfix_backend("10.0.1.1", 3, 1, KEEL_BACKEND_ACTIVE);
	pipeline_vips_be[4] = snapfix_backend("10.0.1.2", 4, 1, KEEL_BACKEND_ACTIVE);
	pipeline_vips_be[5] = snapfix_backend("2001:db8:be::1", 5, 1, KEEL_BACKEND_ACTIVE);
	pipeline_vips_be[6] = snapfix_backend("2001:db8:be::2", 6, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 0, 251,
			      pipeline_vips_be, 3);
	vips[1] = snapfix_vip("192.0.2.1", 0, KEEL_PROTO_UDP,
			      KEEL_VIP_ALL_PORTS | KEEL_VIP_FRAGMENTS, KEEL_ENCAP_IPIP, 1, 251,
			      &pipeline_vips_be[3], 2);
	vips[2] = snapfix_vip("2001:db8::1", 443, KEEL_PROTO_TCP, 0, KEEL_ENCAP_GUE, 2, 251,
			      &pipeline_vips_be[5], 2);
	vips[3] = snapfix_vip("192.0.2.2", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 3, 251, NULL,
			      0);
	memset(spec, 0, sizeof(*spec));
	spec->n_vips = 4;
	spec->vips = vips;
	snapfix_spec_defaults(spec);
}

int pipeline_vips_setup(void **state)
{
	struct keel_snapshot_spec spec;
	struct burst_env *e = malloc(sizeof(*e));

	assert_non_null(e);
	pipeline_vips_spec(&spec, KEEL_BACKEND_ACTIVE, 1);
	burst_env_init(e, &spec, 4096);
	*state = e;
	return 0;
}

int pipeline_vips_teardown(void **state)
{
	struct burst_env *e = *state;

	burst_env_fini(e);
	free(e);
	return 0;
}

int pipeline_vips_outer_backend(const struct burst_env *e, int i)
{
	return burst_env_outer_backend(e, i, pipeline_vips_be, 7);
}

const struct pktgen pipeline_vips_tcp4 = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1",
					   .proto = 6, .sport = 40000, .dport = 80, .tcp_flags = 0x02,
					   .payload_len = 10 };
