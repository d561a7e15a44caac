/* A worker over a built snapshot and a fresh flow table, with a burst of test frames: what the pipeline-level tests run bursts on. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "burst_env.h"
#include "drop.h"
#include "flow_table.h"
#include "snapfix.h"

const struct keel_port burst_env_port = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }, .mtu = 1500 };

void burst_env_init(struct burst_env *e, const struct keel_snapshot_spec *spec, uint32_t capacity)
{
	struct flow_table_params fp = { .capacity = capacity, .secret = 7,
					.timeout_ms = { 60000, 5000, 30000 } };
	size_t sz = flow_table_mem_size(fp.capacity);

	memset(e, 0, sizeof(*e));
	e->snap = snapfix_build(spec);
	/* aligned_alloc wants a multiple of the alignment. */
	e->ftmem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	assert_non_null(e->ftmem);
	e->w.ft = flow_table_init(e->ftmem, sz, &fp);
	assert_non_null(e->w.ft);
	e->w.snap = e->snap;
	e->w.ctr = &e->ctr;
	e->w.now_ms = 1000;
	e->w.non_vip_to_kernel = true;
}

void burst_env_fini(struct burst_env *e)
{
	free(e->snap);
	free(e->ftmem);
	e->snap = NULL;
	e->ftmem = NULL;
}

size_t burst_env_load(struct burst_env *e, int i, const struct pktgen *g)
{
	size_t len = pktgen_build(e->frames[i] + BURST_ENV_HEADROOM, BURST_ENV_FRAME_MAX, g);

	assert_true(len > 0);
	e->bufs[i].data = e->frames[i] + BURST_ENV_HEADROOM;
	e->bufs[i].len = (uint16_t)len;
	e->bufs[i].headroom = BURST_ENV_HEADROOM;
	e->bufs[i].tailroom = (uint16_t)(BURST_ENV_FRAME_MAX - len);
	return len;
}

uint32_t burst_env_run(struct burst_env *e, uint32_t n)
{
	return keel_pipeline_burst(&e->w, &burst_env_port, e->bufs, e->verdicts, n);
}

int burst_env_outer_backend(const struct burst_env *e, int i, const struct keel_backend_spec *be, uint32_t n)
{
	const uint8_t *f = e->bufs[i].data;
	uint32_t k;

	for (k = 0; k < n; k++) {
		if (be[k].family == 4 && f[12] == 0x08 && f[13] == 0x00 &&
		    !memcmp(f + 14 + 16, be[k].addr, 4))
			return (int)k;
		if (be[k].family == 6 && f[12] == 0x86 && f[13] == 0xdd &&
		    !memcmp(f + 14 + 24, be[k].addr, 16))
			return (int)k;
	}
	return -1;
}

uint16_t burst_env_lookup(const struct keel_snapshot *s, const struct pktgen *g)
{
	struct keel_flow_key k = { 0 };
	struct keel_lookup lk;

	pktgen_addr(g->family, g->src, k.src);
	pktgen_addr(g->family, g->dst, k.dst);
	k.sport = htons(g->sport);
	k.dport = htons(g->dport);
	k.proto = g->proto;
	k.family = (uint8_t)g->family;
	keel_pipeline_lookup(s, &k, &lk);
	return lk.backend;
}

uint64_t burst_env_drops(const struct keel_counters *c)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < KEEL_DROP_MAX; i++)
		t += c->drops[i];
	return t;
}

uint64_t burst_env_drops_named(const struct burst_env *e, const char *name)
{
	unsigned int k;

	for (k = 0; k < KEEL_DROP_MAX; k++)
		if (!strcmp(keel_drop_name(k), name))
			return e->ctr.drops[k];
	fail_msg("no drop reason named %s", name);
	return 0;
}

void burst_env_assert_accounted(const struct burst_env *e)
{
	const struct keel_counters *c = &e->ctr;

	assert_int_equal(c->rx_pkts, c->fwd_pkts + c->reply_pkts + c->kernel_pkts + burst_env_drops(c));
}
