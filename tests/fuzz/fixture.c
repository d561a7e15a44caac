/* Builds the fuzzers' forwarding state through the same snapshot builder keel-control uses. */
#include "fixture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "snapshot_build.h"

static void addr(uint8_t family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, text, out) != 1)
		abort();
}

struct fuzz_fixture *fuzz_fixture_get(void)
{
	static struct keel_backend_spec be[16];
	static struct keel_vip_spec vips[8];
	static uint16_t prev6[251], prev4[251];
	struct keel_snapshot_spec spec = { 0 };
	struct flow_table_params fp = {
		.capacity = 1024,
		.secret = 42,
		.timeout_ms = { 300000, 10000, 30000 },
		.new_flow_rate = 1000,
		.new_flow_burst = 64,
	};
	struct fuzz_fixture *fx = calloc(1, sizeof(*fx));
	const char *why = "";
	size_t sz, ftsz;
	void *snap, *ftmem;
	int i;

	if (!fx)
		abort();
	for (i = 0; i < 16; i++) {
		char text[64];
		uint8_t fam = (i >= 8 && i < 14) ? 6 : 4;

		if (fam == 4)
			snprintf(text, sizeof(text), "10.1.0.%d", i + 1);
		else
			snprintf(text, sizeof(text), "2001:db8:1::%d", i + 1);
		be[i].family = fam;
		addr(fam, text, be[i].addr);
		be[i].id = (uint16_t)i;
		be[i].weight = 1 + (uint32_t)(i % 3);
		be[i].state = i == 3 ? KEEL_BACKEND_DRAINING : i == 4 ? KEEL_BACKEND_DOWN
								       : KEEL_BACKEND_ACTIVE;
	}
	/* 0: v4 tcp:80 IPIP, backends 0-2 */
	vips[0] = (struct keel_vip_spec){ .family = 4, .proto = 6, .port = 80, .id = 0,
		.table_size = 251, .n_backends = 3, .backends = &be[0] };
	addr(4, "192.0.2.10", vips[0].addr);
	/* 1: v4 udp all ports, fragments, quic (server ids 1-3: draining, down, active), GUE, backends 3-5 */
	vips[1] = (struct keel_vip_spec){ .family = 4, .proto = 17, .port = 0,
		.flags = KEEL_VIP_ALL_PORTS | KEEL_VIP_FRAGMENTS | KEEL_VIP_QUIC,
		.encap = KEEL_ENCAP_GUE, .id = 1, .table_size = 257, .n_backends = 3, .backends = &be[3] };
	be[3].server_id = 1, be[4].server_id = 2, be[5].server_id = 3;
	addr(4, "192.0.2.10", vips[1].addr);
	/* 2: v6 tcp:443 to v4 backends (6in4), backends 6-7 */
	vips[2] = (struct keel_vip_spec){ .family = 6, .proto = 6, .port = 443, .id = 2,
		.table_size = 251, .n_backends = 2, .backends = &be[6] };
	addr(6, "2001:db8::10", vips[2].addr);
	/* 3: v6 udp:53 GUE to v6 backends, fragments, backends 8-10 */
	vips[3] = (struct keel_vip_spec){ .family = 6, .proto = 17, .port = 53,
		.flags = KEEL_VIP_FRAGMENTS, .encap = KEEL_ENCAP_GUE, .id = 3, .table_size = 263,
		.n_backends = 3, .backends = &be[8] };
	addr(6, "2001:db8::10", vips[3].addr);
	/* 4: v4 tcp:8080 to a v6 backend (4in6) */
	vips[4] = (struct keel_vip_spec){ .family = 4, .proto = 6, .port = 8080, .id = 4,
		.table_size = 251, .n_backends = 1, .backends = &be[11] };
	addr(4, "192.0.2.11", vips[4].addr);
	/* 5: v4 tcp:22 with no backends */
	vips[5] = (struct keel_vip_spec){ .family = 4, .proto = 6, .port = 22, .id = 5,
		.table_size = 251 };
	addr(4, "192.0.2.12", vips[5].addr);

	/*
	 * 6, 7: second chance (second_chance.c): tcp:8443 GUE to v6 backends 12-13
	 * over IPv6 and tcp:9000 GUE to v4 backends 14-15, every other slot with
	 * the other backend as its previous owner: a segment that misses names it.
	 */
	for (i = 0; i < 251; i++) {
		prev6[i] = (uint16_t)(12 + (i & 1));
		prev4[i] = (uint16_t)(14 + (i & 1));
	}
	vips[6] = (struct keel_vip_spec){ .family = 6, .proto = 6, .port = 8443, .encap = KEEL_ENCAP_GUE,
		.id = 6, .table_size = 251, .n_backends = 2, .backends = &be[12], .prev_owner = prev6 };
	addr(6, "2001:db8::10", vips[6].addr);
	vips[7] = (struct keel_vip_spec){ .family = 4, .proto = 6, .port = 9000, .encap = KEEL_ENCAP_GUE,
		.id = 7, .table_size = 251, .n_backends = 2, .backends = &be[14], .prev_owner = prev4 };
	addr(4, "192.0.2.10", vips[7].addr);

	{
		/* Source lists: a deny list in enforce mode on 192.0.2.11:8080, an allow list in count mode on [2001:db8::10]:8443. */
		static struct keel_src_prefix deny4[2] = { { .plen = 24 }, { .plen = 25 } }, allow6[1] = { { .plen = 48 } };
		static struct keel_src_spec src4 = { .mode = KEEL_SRC_ENFORCE, .deny = deny4, .n_deny = 2 };
		static struct keel_src_spec src6 = { .mode = KEEL_SRC_COUNT, .allow = allow6, .n_allow = 1 };

		addr(4, "198.51.100.0", deny4[0].addr);
		addr(4, "203.0.113.0", deny4[1].addr);
		addr(6, "2001:db8:c::", allow6[0].addr);
		vips[4].sources = &src4;
		vips[6].sources = &src6;
	}
	spec.generation = 1;
	spec.fleet_seed = 0x1234;
	memcpy(spec.src_mac, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(spec.gw_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	spec.src4[0] = 172;
	spec.src4[1] = 16;
	spec.src4_plen = 16;
	addr(6, "fd00:1::", spec.src6);
	spec.src6_plen = 64;
	spec.mtu = 1500;
	spec.n_vips = 8;
	spec.vips = vips;

	sz = keel_snapshot_size(&spec);
	snap = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	if (!snap || keel_snapshot_build(snap, sz, &spec, &why) ||
	    keel_snapshot_validate(snap, sz, &why)) {
		fprintf(stderr, "fixture: %s\n", why);
		abort();
	}
	ftsz = flow_table_mem_size(fp.capacity);
	ftmem = aligned_alloc(64, (ftsz + 63) & ~(size_t)63);
	if (!ftmem)
		abort();
	fx->worker.ft = flow_table_init(ftmem, ftsz, &fp);
	if (!fx->worker.ft)
		abort();
	fx->worker.snap = snap;
	fx->worker.ctr = &fx->counters;
	fx->worker.now_ms = 1000;
	memcpy(fx->port.mac, "\x02\x00\x00\x00\x00\x02", 6);
	fx->port.mtu = 1500;
	return fx;
}
