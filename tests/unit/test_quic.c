/* QUIC: the header parser over every form (and cut short), the server-id map in the snapshot, and connection-ID routing in the pipeline. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "burst_env.h"
#include "flow_table.h"
#include "pipeline.h"
#include "pktgen.h"
#include "quic.h"
#include "quic_map.h"
#include "snapfix.h"

/* --- the parser ------------------------------------------------------------ */

/* A long header: first octet, version, DCID of dl octets (0xd0..), SCID of sl octets (0x50..), then 4 octets. */
static size_t long_hdr(uint8_t *p, uint8_t first, uint32_t version, uint8_t dl, uint8_t sl)
{
	size_t n = 0;
	uint8_t i;

	p[n++] = first;
	p[n++] = (uint8_t)(version >> 24), p[n++] = (uint8_t)(version >> 16);
	p[n++] = (uint8_t)(version >> 8), p[n++] = (uint8_t)version;
	p[n++] = dl;
	for (i = 0; i < dl; i++)
		p[n++] = (uint8_t)(0xd0 + i);
	p[n++] = sl;
	for (i = 0; i < sl; i++)
		p[n++] = (uint8_t)(0x50 + i);
	memset(p + n, 0xee, 4);
	return n + 4;
}

/* A short header with a QUIC-LB plaintext CID: config rotation cr, server id sid, 5 nonce octets, then 20 octets. */
static size_t short_hdr(uint8_t *p, uint8_t cr, uint16_t sid)
{
	p[0] = 0x40; /* fixed bit, key phase 0, packet number length 1 */
	p[1] = (uint8_t)(cr << 5 | 7); /* length self-encoding: an 8-octet CID */
	p[2] = (uint8_t)(sid >> 8);
	p[3] = (uint8_t)sid;
	memset(p + 4, 0xab, 25);
	return 29;
}

static void test_short(void **state)
{
	struct keel_quic_hdr h;
	uint8_t p[64];
	size_t n = short_hdr(p, 0, 0x1234);

	(void)state;
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_SHORT);
	assert_int_equal(h.server_id, 0x1234);
	assert_int_equal(h.config_rotation, 0);
	assert_int_equal(h.dcid_off, 1);
	assert_int_equal(keel_quic_server_id(p, n), 0x1234);
	assert_true(keel_quic_is_short(p, n));
	/* The fixed bit is not Keel's to check (RFC 9287 lets endpoints grease it). */
	p[0] = 0x00;
	assert_int_equal(keel_quic_server_id(p, n), 0x1234);
	/* Another configuration's CIDs, and the unroutable codepoint, are not Keel's to read. */
	n = short_hdr(p, 1, 0x1234);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_SHORT);
	assert_int_equal(h.config_rotation, 1);
	assert_int_equal(keel_quic_server_id(p, n), 0);
	n = short_hdr(p, 7, 0x1234);
	assert_int_equal(keel_quic_server_id(p, n), 0);
}

/* A short header cut before the server id, and an empty datagram. */
static void test_short_truncated(void **state)
{
	struct keel_quic_hdr h;
	uint8_t p[64];
	size_t n;

	(void)state;
	short_hdr(p, 0, 0x0102);
	assert_int_equal(keel_quic_parse(p, 0, &h), KEEL_QUIC_EMPTY);
	assert_int_equal(keel_quic_server_id(p, 0), 0);
	assert_false(keel_quic_is_short(p, 0));
	for (n = 1; n < 4; n++) {
		assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_TRUNCATED);
		assert_int_equal(keel_quic_server_id(p, n), 0);
		assert_true(keel_quic_is_short(p, n));
	}
	assert_int_equal(keel_quic_parse(p, 4, &h), KEEL_QUIC_SHORT);
	assert_int_equal(keel_quic_server_id(p, 4), 0x0102);
}

/* Every long-header type of v1 (RFC 9000 17.2) and v2 (RFC 9369 3.2), which number them differently. */
static void test_long_types(void **state)
{
	static const struct {
		uint32_t version;
		uint8_t bits;
		uint8_t type;
	} cases[] = {
		{ KEEL_QUIC_VERSION_V1, 0, KEEL_QUIC_TYPE_INITIAL },
		{ KEEL_QUIC_VERSION_V1, 1, KEEL_QUIC_TYPE_0RTT },
		{ KEEL_QUIC_VERSION_V1, 2, KEEL_QUIC_TYPE_HANDSHAKE },
		{ KEEL_QUIC_VERSION_V1, 3, KEEL_QUIC_TYPE_RETRY },
		{ KEEL_QUIC_VERSION_V2, 0, KEEL_QUIC_TYPE_RETRY },
		{ KEEL_QUIC_VERSION_V2, 1, KEEL_QUIC_TYPE_INITIAL },
		{ KEEL_QUIC_VERSION_V2, 2, KEEL_QUIC_TYPE_0RTT },
		{ KEEL_QUIC_VERSION_V2, 3, KEEL_QUIC_TYPE_HANDSHAKE },
	};
	struct keel_quic_hdr h;
	uint8_t p[128];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = long_hdr(p, (uint8_t)(0xc0 | cases[i].bits << 4), cases[i].version, 8, 5);
		assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_LONG);
		assert_int_equal(h.type, cases[i].type);
		assert_int_equal(h.version, cases[i].version);
		assert_int_equal(h.dcid_len, 8);
		assert_int_equal(h.scid_len, 5);
		assert_int_equal(h.dcid_off, 6);
		assert_int_equal(p[h.dcid_off], 0xd0);
		/* A long header is never routed by its (client-chosen) DCID. */
		assert_int_equal(keel_quic_server_id(p, n), 0);
		assert_false(keel_quic_is_short(p, n));
	}
	/* Zero-length connection IDs are allowed (RFC 9000 5.1). */
	n = long_hdr(p, 0xe0, KEEL_QUIC_VERSION_V1, 0, 0);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_LONG);
	assert_int_equal(h.type, KEEL_QUIC_TYPE_HANDSHAKE);
}

/* RFC 8999 6: version 0 is version negotiation, whose CIDs may be up to 255 octets. */
static void test_version_negotiation(void **state)
{
	struct keel_quic_hdr h;
	uint8_t p[600];
	size_t n;

	(void)state;
	n = long_hdr(p, 0x80 | 0x3f, 0, 200, 255);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_VERSION_NEG);
	assert_int_equal(h.dcid_len, 200);
	assert_int_equal(h.scid_len, 255);
	assert_int_equal(h.type, KEEL_QUIC_TYPE_UNKNOWN);
	assert_int_equal(keel_quic_server_id(p, n), 0);
}

/* Versions Keel does not know keep only the invariants: long, untyped, any CID length. */
static void test_unknown_version(void **state)
{
	struct keel_quic_hdr h;
	uint8_t p[600];
	size_t n;

	(void)state;
	n = long_hdr(p, 0xc0, 0x1a2a3a4a /* RFC 9000 15: a reserved (greasing) version */, 40, 0);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_LONG);
	assert_int_equal(h.type, KEEL_QUIC_TYPE_UNKNOWN);
	assert_int_equal(h.dcid_len, 40);
	/* The same lengths in v1 are refused (RFC 9000 17.2: at most 20). */
	n = long_hdr(p, 0xc0, KEEL_QUIC_VERSION_V1, 21, 0);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_MALFORMED);
	n = long_hdr(p, 0xc0, KEEL_QUIC_VERSION_V2, 8, 21);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_MALFORMED);
	n = long_hdr(p, 0xc0, KEEL_QUIC_VERSION_V1, 20, 20);
	assert_int_equal(keel_quic_parse(p, n, &h), KEEL_QUIC_LONG);
}

/* Every prefix of a long header short of its SCID is truncated, from a copy exactly that long (ASan sees overreads). */
static void test_long_truncated(void **state)
{
	static const uint32_t versions[] = { 0, KEEL_QUIC_VERSION_V1, 0xff00001d };
	struct keel_quic_hdr h;
	uint8_t p[128];
	size_t v, n, full, cut;

	(void)state;
	for (v = 0; v < 3; v++) {
		full = long_hdr(p, 0xc3, versions[v], 17, 9) - 4; /* without the trailing octets */
		for (cut = 1; cut <= full; cut++) {
			uint8_t *c = malloc(cut);

			assert_non_null(c);
			memcpy(c, p, cut);
			n = keel_quic_parse(c, cut, &h);
			if (cut < full)
				assert_int_equal(n, KEEL_QUIC_TRUNCATED);
			else
				assert_int_equal(n, versions[v] ? KEEL_QUIC_LONG : KEEL_QUIC_VERSION_NEG);
			free(c);
		}
	}
}

/* The hot path's inline reader agrees with the full parser on random bytes. */
static void test_server_id_agrees(void **state)
{
	struct keel_quic_hdr h;
	uint8_t p[8];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int i, k;

	(void)state;
	for (i = 0; i < 100000; i++) {
		size_t len = (size_t)(i % 9);
		uint16_t want = 0;

		for (k = 0; k < 8; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			p[k] = (uint8_t)x;
		}
		if (keel_quic_parse(p, len, &h) == KEEL_QUIC_SHORT && h.config_rotation == KEEL_QUIC_CR_KEEL)
			want = h.server_id;
		assert_int_equal(keel_quic_server_id(p, len), want);
	}
}

/* --- the map in the snapshot and routing in the pipeline ------------------ */

/*
 * VIP 0: 192.0.2.10:443/udp quic, backends 0-3 with server ids 0x0101,
 * 0x0202, 0x0303 (down), 0x0404 (draining). VIP 1: 192.0.2.11:443/udp
 * without quic, backends 4-5 with no server id.
 */
static struct keel_backend_spec be[6];
static struct keel_vip_spec vips[2];

static void make_spec(struct keel_snapshot_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.0.3", 2, 1, KEEL_BACKEND_DOWN);
	be[3] = snapfix_backend("10.0.0.4", 3, 1, KEEL_BACKEND_DRAINING);
	be[4] = snapfix_backend("10.0.1.1", 4, 1, KEEL_BACKEND_ACTIVE);
	be[5] = snapfix_backend("10.0.1.2", 5, 1, KEEL_BACKEND_ACTIVE);
	/* Out of order on purpose: the builder sorts the map. */
	be[0].server_id = 0x0202;
	be[1].server_id = 0x0101;
	be[2].server_id = 0x0303;
	be[3].server_id = 0x0404;
	vips[0] = snapfix_vip("192.0.2.10", 443, KEEL_PROTO_UDP, KEEL_VIP_QUIC, KEEL_ENCAP_IPIP, 0,
			      251, be, 4);
	vips[1] = snapfix_vip("192.0.2.11", 443, KEEL_PROTO_UDP, 0, KEEL_ENCAP_IPIP, 1, 251, &be[4],
			      2);
	spec->n_vips = 2;
	spec->vips = vips;
	snapfix_spec_defaults(spec);
}

static int setup(void **state)
{
	struct keel_snapshot_spec spec;
	struct burst_env *e = malloc(sizeof(*e));

	assert_non_null(e);
	make_spec(&spec);
	burst_env_init(e, &spec, 4096);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct burst_env *e = *state;

	burst_env_fini(e);
	free(e);
	return 0;
}

/* Frame i: UDP from src:sport to dst:443 carrying the QUIC bytes q (checksum 0: RFC 768 allows it over IPv4). */
static void load_udp(struct burst_env *e, int i, const char *src, uint16_t sport, const char *dst,
		     const uint8_t *q, size_t qlen)
{
	uint8_t l4[256];
	struct pktgen g = { .family = 4, .src = src, .dst = dst, .proto = 17, .sport = sport,
			    .dport = 443, .l4_override = l4, .l4_override_len = (uint16_t)(8 + qlen) };

	l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport;
	l4[2] = 443 >> 8, l4[3] = 443 & 0xff;
	l4[4] = (uint8_t)((8 + qlen) >> 8), l4[5] = (uint8_t)(8 + qlen);
	l4[6] = l4[7] = 0;
	memcpy(l4 + 8, q, qlen);
	burst_env_load(e, i, &g);
}

/* Maglev's answer for this 5-tuple, as keel-control's lookup would give it. */
static uint16_t by_hash(const struct burst_env *e, const char *src, uint16_t sport, const char *dst)
{
	struct pktgen g = { .family = 4, .src = src, .dst = dst, .proto = 17, .sport = sport, .dport = 443 };

	return burst_env_lookup(e->snap, &g);
}

static void test_map_built(void **state)
{
	struct burst_env *e = *state;
	const struct keel_vip *v = &keel_snapshot_vips(e->snap)[0];
	const struct keel_quic_sid *m = keel_snapshot_quic(e->snap, v);

	assert_int_equal(v->quic_n, 4);
	assert_int_equal(m[0].server_id, 0x0101);
	assert_int_equal(m[0].backend, 1);
	assert_int_equal(m[3].server_id, 0x0404);
	assert_int_equal(keel_quic_map_lookup(e->snap, v, 0x0202), 0);
	assert_int_equal(keel_quic_map_lookup(e->snap, v, 0x0303), 2);
	assert_int_equal(keel_quic_map_lookup(e->snap, v, 0x0102), KEEL_BACKEND_NONE);
	assert_int_equal(keel_quic_map_lookup(e->snap, v, 0xffff), KEEL_BACKEND_NONE);
	assert_int_equal(keel_snapshot_vips(e->snap)[1].quic_n, 0);
	assert_int_equal(keel_snapshot_validate(e->snap, e->snap->size, NULL), 0);
}

/* A short header goes to the backend its server id names, from any address and port. */
static void test_short_routed(void **state)
{
	struct burst_env *e = *state;
	uint8_t q[64];
	size_t n = short_hdr(q, 0, 0x0202);
	char src[32];
	int i;

	for (i = 0; i < 32; i++) {
		snprintf(src, sizeof(src), "198.51.100.%d", i + 1);
		load_udp(e, i, src, (uint16_t)(20000 + 37 * i), "192.0.2.10", q, n);
	}
	assert_int_equal(burst_env_run(e, 32), 32);
	for (i = 0; i < 32; i++) {
		assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
		assert_int_equal(burst_env_outer_backend(e, i, be, 6), 0);
	}
	assert_int_equal(e->ctr.quic_cid_routed, 32);
	assert_int_equal(e->ctr.quic_cid_unknown, 0);
	assert_int_equal(e->ctr.backend[0].pkts, 32);
	assert_int_equal(e->ctr.vip[0].pkts, 32);
	assert_int_equal(e->ctr.fwd_pkts, 32);
	/* No flow entries: the CID needs none. */
	assert_int_equal(e->ctr.backend[0].new_flows, 0);
}

/*
 * NAT rebinding: the handshake (long header) is balanced by Maglev and
 * tracked; the short headers after it go by server id, from the old port
 * and from the new one, even when the 5-tuple's stale flow entry names
 * another backend.
 */
static void test_rebinding(void **state)
{
	struct burst_env *e = *state;
	static const uint16_t sids[] = { 0x0101, 0x0202 };
	uint8_t q[64];
	uint16_t hashed, other, port = 0;
	size_t n;

	/* A client port whose Maglev backend is 0 or 1, so that "the other" has a server id. */
	for (port = 30000; port < 31000; port++)
		if (by_hash(e, "198.51.100.50", port, "192.0.2.10") <= 1)
			break;
	hashed = by_hash(e, "198.51.100.50", port, "192.0.2.10");
	assert_true(hashed <= 1);
	other = (uint16_t)(1 - hashed);

	n = long_hdr(q, 0xc0, KEEL_QUIC_VERSION_V1, 8, 8);
	load_udp(e, 0, "198.51.100.50", port, "192.0.2.10", q, n);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(burst_env_outer_backend(e, 0, be, 6), hashed);
	assert_int_equal(e->ctr.backend[hashed].new_flows, 1); /* tracked */

	/* Server ids chosen by the other backend: the CID wins over the 5-tuple's flow entry. */
	n = short_hdr(q, 0, sids[other == 0 ? 1 : 0]);
	load_udp(e, 0, "198.51.100.50", port, "192.0.2.10", q, n);
	load_udp(e, 1, "198.51.100.50", (uint16_t)(port + 1000), "192.0.2.10", q, n);
	load_udp(e, 2, "203.0.113.9", 5555, "192.0.2.10", q, n);
	assert_int_equal(burst_env_run(e, 3), 3);
	assert_int_equal(burst_env_outer_backend(e, 0, be, 6), other);
	assert_int_equal(burst_env_outer_backend(e, 1, be, 6), other);
	assert_int_equal(burst_env_outer_backend(e, 2, be, 6), other);
	assert_int_equal(e->ctr.quic_cid_routed, 3);
}

/* Unknown ids, down backends and other configurations fall back to the flow hash and are counted. */
static void test_unknown_falls_back(void **state)
{
	struct burst_env *e = *state;
	uint8_t q[4][64];
	size_t n[4];
	int i;

	n[0] = short_hdr(q[0], 0, 0x7777);  /* no such server */
	n[1] = short_hdr(q[1], 0, 0x0303);  /* its backend is down */
	n[2] = short_hdr(q[2], 7, 0x0101);  /* unroutable codepoint */
	q[3][0] = 0x41, n[3] = 2;           /* cut before the server id */
	for (i = 0; i < 4; i++)
		load_udp(e, i, "198.51.100.60", (uint16_t)(40000 + i), "192.0.2.10", q[i], n[i]);
	assert_int_equal(burst_env_run(e, 4), 4);
	for (i = 0; i < 4; i++) {
		uint16_t want = by_hash(e, "198.51.100.60", (uint16_t)(40000 + i), "192.0.2.10");

		assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
		assert_int_equal(burst_env_outer_backend(e, i, be, 6), want);
	}
	assert_int_equal(e->ctr.quic_cid_unknown, 4);
	assert_int_equal(e->ctr.quic_cid_routed, 0);
}

/* A draining backend keeps its connections: its server id still routes. */
static void test_draining_routed(void **state)
{
	struct burst_env *e = *state;
	uint8_t q[64];
	size_t n = short_hdr(q, 0, 0x0404);

	load_udp(e, 0, "198.51.100.70", 1234, "192.0.2.10", q, n);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(burst_env_outer_backend(e, 0, be, 6), 3);
	assert_int_equal(e->ctr.quic_cid_routed, 1);
}

/* Long headers and VIPs without quic: Maglev and the flow table, no QUIC counter moves. */
static void test_long_and_plain_udp(void **state)
{
	struct burst_env *e = *state;
	uint8_t q[2][64];
	size_t n0 = long_hdr(q[0], 0xd0 /* 0-RTT */, KEEL_QUIC_VERSION_V1, 8, 0);
	size_t n1 = short_hdr(q[1], 0, 0x0101);

	load_udp(e, 0, "198.51.100.80", 999, "192.0.2.10", q[0], n0);
	load_udp(e, 1, "198.51.100.80", 999, "192.0.2.11", q[1], n1);
	assert_int_equal(burst_env_run(e, 2), 2);
	assert_int_equal(burst_env_outer_backend(e, 0, be, 6), by_hash(e, "198.51.100.80", 999, "192.0.2.10"));
	assert_int_equal(burst_env_outer_backend(e, 1, be, 6), by_hash(e, "198.51.100.80", 999, "192.0.2.11"));
	assert_int_equal(e->ctr.quic_cid_routed + e->ctr.quic_cid_unknown, 0);
}

/* The builder refuses duplicate server ids and quic on TCP; validation refuses a map naming another VIP's backend. */
static void test_refused(void **state)
{
	struct keel_snapshot_spec spec = { 0 };
	struct keel_backend_spec b[3];
	struct keel_vip_spec v[2];
	struct keel_quic_sid *m;
	struct keel_snapshot *s;
	const char *why = NULL;
	size_t sz;

	(void)state;
	b[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	b[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	b[2] = snapfix_backend("10.0.0.3", 2, 1, KEEL_BACKEND_ACTIVE);
	b[0].server_id = b[1].server_id = 9;
	v[0] = snapfix_vip("192.0.2.10", 443, KEEL_PROTO_UDP, KEEL_VIP_QUIC, 0, 0, 251, b, 2);
	v[1] = snapfix_vip("192.0.2.11", 443, KEEL_PROTO_UDP, 0, 0, 1, 251, &b[2], 1);
	spec.n_vips = 2;
	spec.vips = v;
	snapfix_spec_defaults(&spec);
	sz = keel_snapshot_size(&spec);
	s = malloc(sz);
	assert_non_null(s);
	assert_int_equal(keel_snapshot_build(s, sz, &spec, &why), -EINVAL);
	assert_string_equal(why, "duplicate QUIC server id in a VIP");

	v[0].proto = KEEL_PROTO_TCP;
	b[1].server_id = 10;
	assert_int_equal(keel_snapshot_build(s, sz, &spec, &why), -EINVAL);
	assert_string_equal(why, "quic on a VIP that is not UDP");

	v[0].proto = KEEL_PROTO_UDP;
	assert_int_equal(keel_snapshot_build(s, sz, &spec, &why), 0);
	assert_int_equal(keel_snapshot_validate(s, sz, &why), 0);
	/* Point an entry at VIP 1's backend (checksum redone: validation must catch the content). */
	m = (struct keel_quic_sid *)((uint8_t *)s + keel_snapshot_vips(s)[0].quic_off);
	m[1].backend = 2;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, sz, &why), -EINVAL);
	assert_string_equal(why, "QUIC server id names a backend not of its VIP");
	/* ... and out of order. */
	m[1].backend = 1;
	m[1].server_id = 8;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, sz, &why), -EINVAL);
	assert_string_equal(why, "QUIC server ids not strictly ascending from 1");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_short_truncated),
		cmocka_unit_test(test_long_types),
		cmocka_unit_test(test_version_negotiation),
		cmocka_unit_test(test_unknown_version),
		cmocka_unit_test(test_long_truncated),
		cmocka_unit_test(test_server_id_agrees),
		cmocka_unit_test(test_refused),
		cmocka_unit_test_setup_teardown(test_map_built, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_routed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebinding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_draining_routed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_and_plain_udp, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
