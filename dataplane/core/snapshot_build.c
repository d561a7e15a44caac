/* Lays out and fills a snapshot blob (header, VIPs, VIP hash, backends, Maglev tables), then checksums it. */
#include "snapshot_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "hash.h"
#include "next_hop.h"
#include "maglev.h"
#include "vip_table.h"
#include "pkt.h"
#include "quic_map.h"
#include "vip.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)
#define ALIGN64(x) (((x) + 63u) & ~(size_t)63u)

struct layout {
	size_t vip_off, hash_off, backend_off, tables_off, size;
	uint32_t hash_size, n_backends;
};

static uint32_t table_size_of(const struct keel_vip_spec *v)
{
	return v->table_size ? v->table_size : KEEL_MAGLEV_DEFAULT_SIZE;
}

static void plan(const struct keel_snapshot_spec *spec, struct layout *l)
{
	uint32_t i, j, keys = 0;
	size_t tables = 0;

	l->n_backends = 0;
	for (i = 0; i < spec->n_vips; i++) {
		const struct keel_vip_spec *v = &spec->vips[i];

		for (j = 0; j < v->n_backends; j++)
			if (v->backends[j].id >= l->n_backends)
				l->n_backends = v->backends[j].id + 1u;
		tables += ALIGN8((size_t)table_size_of(v) * 2) * (v->prev_owner ? 2 : 1);
		tables += keel_quic_map_bytes(v);
		if (v->sources) /* source lists sit after the tables */
			tables += ALIGN8(keel_src_list_size(v->sources, v->family));
	}
	/* Each VIP contributes at most two keys: its own and its address key. */
	keys = spec->n_vips * 2;
	l->hash_size = 16;
	while (l->hash_size < keys * 2)
		l->hash_size <<= 1;

	l->vip_off = ALIGN8(sizeof(struct keel_snapshot));
	l->hash_off = l->vip_off + ALIGN8((size_t)spec->n_vips * sizeof(struct keel_vip));
	/* Backend records are two cache lines each (the header template is most of them). */
	l->backend_off = ALIGN64(l->hash_off + ALIGN8((size_t)l->hash_size * 2));
	l->tables_off = l->backend_off + ALIGN8((size_t)l->n_backends * sizeof(struct keel_backend));
	l->size = l->tables_off + tables;
}

size_t keel_snapshot_size(const struct keel_snapshot_spec *spec)
{
	struct layout l;

	plan(spec, &l);
	return l.size;
}

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* Insert VIP index idx under a key unless an equal key is there already. */
static int hash_put(uint16_t *h, uint32_t size, const struct keel_vip *vips, uint16_t idx,
		    uint16_t port, uint8_t proto, int addr_only)
{
	const struct keel_vip *v = &vips[idx];
	uint32_t mask = size - 1, pos = (uint32_t)vip_hash_key(v->addr, v->family, port, proto) & mask;
	uint32_t n;

	for (n = 0; n < size; n++, pos = (pos + 1) & mask) {
		const struct keel_vip *o;

		if (!h[pos]) {
			h[pos] = (uint16_t)(idx + 1);
			return 0;
		}
		o = &vips[h[pos] - 1];
		if (o->family != v->family || memcmp(o->addr, v->addr, 16))
			continue;
		if (addr_only)
			return 0; /* one address key per address is enough */
		if (o->proto == v->proto && o->port == v->port &&
		    (o->flags & KEEL_VIP_ALL_PORTS) == (v->flags & KEEL_VIP_ALL_PORTS))
			return -EEXIST;
	}
	return -ENOSPC;
}

static int check_addr(const uint8_t addr[16], uint8_t family)
{
	static const uint8_t zero[12];

	if (family == KEEL_AF_INET4)
		return memcmp(addr + 4, zero, 12) ? -EINVAL : 0;
	return family == KEEL_AF_INET6 ? 0 : -EINVAL;
}

/* Next hops (next_hop.h): before the backends, whose templates take gw_mac. */
static int build_next_hops(struct keel_snapshot *s, const struct keel_snapshot_spec *spec,
			   const char **why)
{
	uint32_t i, n = spec->n_next_hops, conf = spec->n_next_hops_configured;

	if (n == 0) {
		s->n_next_hops = 1;
		memcpy(s->next_hop[0].mac, spec->gw_mac, 6);
		return 0;
	}
	if (!conf)
		conf = n;
	if (n > KEEL_MAX_NEXT_HOPS || conf > KEEL_MAX_NEXT_HOPS || n > conf)
		return fail(why, "too many next hops", -EINVAL);
	for (i = 0; i < n; i++) {
		if (spec->next_hop[i].id >= conf || (i && spec->next_hop[i].id <= spec->next_hop[i - 1].id))
			return fail(why, "next hop ids not ascending below the configured count", -EINVAL);
		if (spec->next_hop[i].port > KEEL_NEXT_HOP_MAX_PORT)
			return fail(why, "next hop port out of range", -EINVAL);
		s->next_hop_ports |= spec->next_hop[i].port != 0;
	}
	s->n_next_hops = n;
	memcpy(s->next_hop, spec->next_hop, n * sizeof(spec->next_hop[0]));
	memcpy(s->gw_mac, spec->next_hop[0].mac, 6);
	keel_next_hop_slots(s, conf);
	return 0;
}

/*
 * keel_snapshot_checksum (snapshot.c), in pieces: a += w, b += a over the
 * 64-bit words. A run of k words with sums S = sum w_j and
 * T = sum (k - j + 1) w_j moves (a, b) to (a + S, b + k a + T), so a table
 * whose S and T are known enters without being read.
 */
struct csum {
	uint64_t a, b;
};

static void csum_fold(struct csum *c, const uint8_t *p, size_t bytes)
{
	size_t i;

	for (i = 0; i + 8 <= bytes; i += 8) {
		c->a += keel_load64_le(p + i);
		c->b += c->a;
	}
}

void keel_snapshot_sum_table(const uint16_t *table, uint32_t m, uint64_t sum[2])
{
	struct csum c = { 0, 0 };
	size_t bytes = (size_t)m * 2, whole = bytes & ~(size_t)7;
	uint8_t tail[8] = { 0 };

	csum_fold(&c, (const uint8_t *)table, whole);
	if (bytes > whole) {
		memcpy(tail, (const uint8_t *)table + whole, bytes - whole);
		csum_fold(&c, tail, 8);
	}
	sum[0] = c.a;
	sum[1] = c.b;
}

/* The checksum of a built snapshot, tables with known sums not read (the checksum field is still 0). */
static uint32_t csum_snapshot(const uint8_t *base, size_t size, const struct keel_snapshot_spec *spec,
			      const struct keel_vip *vips)
{
	struct csum c = { 0x4b45454c, 0 };
	size_t at = 0;
	uint32_t i;

	for (i = 0; i < spec->n_vips; i++) {
		const struct keel_vip_spec *vs = &spec->vips[i];
		size_t off = vips[i].table_off, len = ALIGN8((size_t)vips[i].table_size * 2);

		if (!vs->table || !vs->table_serial)
			continue;
		csum_fold(&c, base + at, off - at);
		c.b += (len / 8) * c.a + vs->table_sum[1];
		c.a += vs->table_sum[0];
		at = off + len;
	}
	csum_fold(&c, base + at, size - at);
	return (uint32_t)(keel_mix64(c.a ^ keel_mix64(c.b)) >> 16);
}

int keel_snapshot_build(void *buf, size_t cap, const struct keel_snapshot_spec *spec,
			const char **why)
{
	return keel_snapshot_build_over(buf, cap, spec, NULL, why);
}

int keel_snapshot_build_over(void *buf, size_t cap, const struct keel_snapshot_spec *spec,
			     struct keel_slot_memo *memo, const char **why)
{
	uint32_t known = 0;
	uint8_t *base = buf;
	struct keel_snapshot *s = buf;
	struct keel_backend *be;
	struct keel_vip *vips;
	uint8_t *vip_ids = NULL;
	size_t table_off, extra_off;
	struct layout l;
	uint16_t *vh;
	uint32_t i, j;
	int rc;

	if (spec->n_vips > KEEL_MAX_VIPS)
		return fail(why, "too many VIPs", -EINVAL);
	for (i = 0; i < spec->n_vips; i++)
		for (j = 0; j < spec->vips[i].n_backends; j++)
			if (spec->vips[i].backends[j].id >= KEEL_MAX_BACKENDS)
				return fail(why, "backend id out of range", -EINVAL);
	plan(spec, &l);
	if (l.size > cap)
		return fail(why, "buffer too small for snapshot", -ENOSPC);
	if (l.size > UINT32_MAX)
		return fail(why, "snapshot larger than 4 GiB", -EINVAL);

	/*
	 * Zero what comes before the tables; each table region is zeroed as it is
	 * written below, and the Maglev tables (most of the bytes) are written
	 * whole: no pass over them just to clear them.
	 */
	/* The memo is false from the first byte written until the build is complete. */
	if (memo) {
		known = memo->n;
		memo->n = 0;
	}
	memset(base, 0, l.tables_off);
	s->magic = KEEL_SNAPSHOT_MAGIC;
	s->abi = KEEL_SNAPSHOT_ABI;
	s->generation = spec->generation;
	s->size = l.size;
	s->fleet_seed = spec->fleet_seed;
	memcpy(s->src_mac, spec->src_mac, 6);
	memcpy(s->gw_mac, spec->gw_mac, 6);
	memcpy(s->src4, spec->src4, 4);
	memcpy(s->src6, spec->src6, 16);
	if (spec->src4_plen > 32 || spec->src6_plen > 128)
		return fail(why, "source prefix length out of range", -EINVAL);
	s->src4_plen = spec->src4_plen;
	s->src6_plen = spec->src6_plen;
	s->ttl = spec->ttl ? spec->ttl : 64;
	s->gue_port = spec->gue_port ? spec->gue_port : ENCAP_GUE_DEFAULT_PORT;
	s->mtu = spec->mtu ? spec->mtu : 1500;
	if (s->mtu < 576)
		return fail(why, "MTU below 576", -EINVAL);
	s->icmp_rate = spec->icmp_rate ? spec->icmp_rate : 100;
	if ((rc = build_next_hops(s, spec, why)))
		return rc;
	s->n_vips = spec->n_vips;
	s->vip_off = (uint32_t)l.vip_off;
	s->vip_hash_size = l.hash_size;
	s->vip_hash_off = (uint32_t)l.hash_off;
	s->n_backends = l.n_backends;
	s->backend_off = (uint32_t)l.backend_off;

	vips = (struct keel_vip *)(base + l.vip_off);
	vh = (uint16_t *)(base + l.hash_off);
	be = (struct keel_backend *)(base + l.backend_off);
	vip_ids = calloc(KEEL_MAX_VIPS, 1);
	if (!vip_ids)
		return fail(why, "out of memory", -ENOMEM);

	/*
	 * Every VIP's Maglev table first, then the extras (previous owners, QUIC
	 * maps, source lists): a VIP that gains or loses previous owners moves no
	 * other VIP's table, so a slot's unchanged tables stay where they are
	 * (keel_snapshot_build_over).
	 */
	table_off = l.tables_off;
	extra_off = l.tables_off;
	for (i = 0; i < spec->n_vips; i++)
		extra_off += ALIGN8((size_t)table_size_of(&spec->vips[i]) * 2);
	for (i = 0; i < spec->n_vips; i++) {
		const struct keel_vip_spec *vs = &spec->vips[i];
		struct keel_vip *v = &vips[i];
		uint16_t *table;
		bool in_place;

		rc = -EINVAL;
		if (check_addr(vs->addr, vs->family)) {
			fail(why, "bad VIP address family", rc);
			goto out_free;
		}
		if (vs->proto != KEEL_PROTO_TCP && vs->proto != KEEL_PROTO_UDP) {
			fail(why, "VIP protocol must be tcp or udp", rc);
			goto out_free;
		}
		if (!!(vs->flags & KEEL_VIP_ALL_PORTS) != (vs->port == 0)) {
			fail(why, "port 0 if and only if all ports", rc);
			goto out_free;
		}
		if (vs->encap > KEEL_ENCAP_GUE) {
			fail(why, "unknown encapsulation", rc);
			goto out_free;
		}
		if (vs->id >= KEEL_MAX_VIPS || vip_ids[vs->id]) {
			fail(why, "VIP id out of range or duplicate", rc);
			goto out_free;
		}
		vip_ids[vs->id] = 1;
		memcpy(v->addr, vs->addr, 16);
		v->family = vs->family;
		v->proto = vs->proto;
		v->port = htons(vs->port); /* the spec is host order; packets and the snapshot network order */
		v->flags = vs->flags & (uint8_t)~KEEL_VIP_SOURCES; /* set below, with its list */
		v->encap = vs->encap;
		v->id = vs->id;
		v->table_size = table_size_of(vs);
		v->table_off = (uint32_t)table_off;
		if (v->table_size > KEEL_MAGLEV_MAX_SIZE || !maglev_is_prime(v->table_size)) {
			fail(why, "Maglev table size must be a prime <= 1048573", rc);
			goto out_free;
		}

		rc = hash_put(vh, l.hash_size, vips, (uint16_t)i, v->port, v->proto, 0);
		if (!rc)
			rc = hash_put(vh, l.hash_size, vips, (uint16_t)i, 0, 0, 1);
		if (rc) {
			fail(why, "duplicate VIP", rc = -EINVAL);
			goto out_free;
		}

		for (j = 0; j < vs->n_backends; j++) {
			const struct keel_backend_spec *bs = &vs->backends[j];
			struct keel_backend *b = &be[bs->id];
			static const uint8_t nomac[6];

			rc = -EINVAL;
			if (b->state != KEEL_BACKEND_UNUSED) {
				fail(why, "duplicate backend id", rc);
				goto out_free;
			}
			if (check_addr(bs->addr, bs->family) || bs->state == KEEL_BACKEND_UNUSED ||
			    bs->state > KEEL_BACKEND_DOWN) {
				fail(why, "bad backend address or state", rc);
				goto out_free;
			}
			memcpy(b->addr, bs->addr, 16);
			b->family = bs->family;
			b->state = bs->state;
			b->vip = (uint16_t)i;
			b->weight = bs->weight;
			memcpy(b->mac, memcmp(bs->mac, nomac, 6) ? bs->mac : s->gw_mac, 6);
		}
		table = (uint16_t *)(base + table_off);
		/* Built once per publish by the caller (vs->table), or here: the same builder either way. */
		/* The pad after an odd table size: the checksum reads whole words. */
		memset((uint8_t *)table + (size_t)v->table_size * 2, 0,
		       ALIGN8((size_t)v->table_size * 2) - (size_t)v->table_size * 2);
		/* This very table there already (the memo, read before anything is recorded in it)? */
		in_place = vs->table && vs->table_serial && i < known && memo->vip[i].serial == vs->table_serial &&
			   memo->vip[i].off == table_off && memo->vip[i].m == v->table_size;
		if (!in_place && vs->table)
			memcpy(table, vs->table, (size_t)v->table_size * 2);
		else if (!in_place && (rc = keel_vip_table_build(table, vs, spec->fleet_seed))) {
			fail(why, rc == -ENOMEM ? "out of memory" :
				  "Maglev build refused (duplicate backend address?)", rc);
			goto out_free;
		}
		table_off += ALIGN8((size_t)v->table_size * 2);
		if (vs->prev_owner) {
			memset(base + extra_off, 0, ALIGN8((size_t)v->table_size * 2));
			memcpy(base + extra_off, vs->prev_owner, (size_t)v->table_size * 2);
			v->prev_off = (uint32_t)extra_off;
			extra_off += ALIGN8((size_t)v->table_size * 2);
		}
		/* QUIC VIPs: the server-id map after the tables (quic_map.h). */
		if (vs->flags & KEEL_VIP_QUIC) {
			if (vs->proto != KEEL_PROTO_UDP) {
				fail(why, "quic on a VIP that is not UDP", rc = -EINVAL);
				goto out_free;
			}
			memset(base + extra_off, 0, keel_quic_map_bytes(vs));
			rc = keel_quic_map_fill((struct keel_quic_sid *)(base + extra_off), vs, why);
			if (rc < 0)
				goto out_free;
			v->quic_n = (uint32_t)rc;
			v->quic_off = rc ? (uint32_t)extra_off : 0;
			extra_off += keel_quic_map_bytes(vs);
		}
		if (vs->sources) {
			long used;

			memset(base + extra_off, 0, ALIGN8(keel_src_list_size(vs->sources, vs->family)));
			used = keel_src_list_write(base, extra_off, vs->sources, vs->family);
			if (used < 0) {
				fail(why, used == -ENOMEM ? "out of memory" :
					  "bad source prefix (family, length or host bits)", rc = (int)used);
				goto out_free;
			}
			v->src_off = (uint32_t)extra_off;
			v->flags |= KEEL_VIP_SOURCES;
			extra_off += ALIGN8((size_t)used);
		}
	}
	/* What the plan left room for and nothing wrote (a source list shorter than its bound). */
	if (extra_off < l.size)
		memset(base + extra_off, 0, l.size - extra_off);
	/* Every backend's outer headers, now that the output parameters are set. */
	for (i = 0; i < l.n_backends; i++)
		if (be[i].state != KEEL_BACKEND_UNUSED)
			keel_encap_tmpl_fill(&be[i].tmpl, s, &be[i]);
	s->checksum = csum_snapshot(base, l.size, spec, vips);
	if (memo) {
		for (i = 0; i < spec->n_vips; i++) {
			memo->vip[i].serial = spec->vips[i].table ? spec->vips[i].table_serial : 0;
			memo->vip[i].off = vips[i].table_off;
			memo->vip[i].m = vips[i].table_size;
		}
		memo->n = spec->n_vips;
	}
	rc = 0;
out_free:
	free(vip_ids);
	return rc;
}
