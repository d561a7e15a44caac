/* Stable id tables for VIPs and backends, with a quarantine for freed backend ids. */
#include "ids.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "pkt.h"
#include "snapshot.h"

struct id_entry {
	char key[CONFIG_NAME_MAX + CONFIG_TEXT_MAX + 1]; /* "vip" or "vip|address" */
	uint64_t freed_ms;              /* 0 while in use */
	uint8_t used;                   /* slot holds a key (in use or quarantined) */
};

/*
 * Each table has an index by key: open addressing over entry numbers + 1
 * (0: empty), holding every used entry, in use or quarantined. Lookups were
 * a scan of all 16384 entries, so a configuration at the limits cost
 * 16384^2 string compares per publish. Arrays, not pointers: ids_clone stays
 * a memcpy. The index is rebuilt whole after every sync (keys are never
 * removed from it in between: a lookup checks the entry's key anyway).
 */
#define IDS_VIP_INDEX (2 * KEEL_MAX_VIPS)
#define IDS_BE_INDEX (2 * KEEL_MAX_BACKENDS)

/* KEEL_BACKEND_NONE (0xffff) marks empty Maglev slots: it must never be an id. */
_Static_assert(KEEL_MAX_BACKENDS <= KEEL_BACKEND_NONE, "backend ids must stay below KEEL_BACKEND_NONE");

struct ids {
	struct id_entry vip[KEEL_MAX_VIPS];
	struct id_entry be[KEEL_MAX_BACKENDS];
	uint16_t vip_index[IDS_VIP_INDEX];
	uint16_t be_index[IDS_BE_INDEX];
};

/* FNV-1a: short keys, host-local use. */
static uint32_t key_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h;
}

static void index_put(uint16_t *index, uint32_t size, const char *key, uint32_t entry)
{
	uint32_t pos = key_hash(key) & (size - 1);

	/* size is twice the entries: there is always an empty place. */
	while (index[pos])
		pos = (pos + 1) & (size - 1);
	index[pos] = (uint16_t)(entry + 1);
}

static void index_rebuild(uint16_t *index, uint32_t size, const struct id_entry *t, uint32_t n)
{
	uint32_t i;

	memset(index, 0, size * sizeof(*index));
	for (i = 0; i < n; i++)
		if (t[i].used)
			index_put(index, size, t[i].key, i);
}

static void ids_reindex(struct ids *ids)
{
	index_rebuild(ids->vip_index, IDS_VIP_INDEX, ids->vip, KEEL_MAX_VIPS);
	index_rebuild(ids->be_index, IDS_BE_INDEX, ids->be, KEEL_MAX_BACKENDS);
}

struct ids *ids_new(void)
{
	return calloc(1, sizeof(struct ids));
}

void ids_free(struct ids *ids)
{
	free(ids);
}

struct ids *ids_clone(const struct ids *ids)
{
	struct ids *c = malloc(sizeof(*c));

	if (c)
		memcpy(c, ids, sizeof(*c));
	return c;
}

static void backend_key(char *out, size_t len, const char *vip, const uint8_t addr[16],
			uint8_t family)
{
	char a[CONFIG_TEXT_MAX];

	config_format_addr(addr, family, a);
	snprintf(out, len, "%s|%s", vip, a);
}

/* The entry holding key, in use (freed false) or quarantined (freed true); -1 if none. */
static int lookup(const struct id_entry *t, const uint16_t *index, uint32_t size, const char *key,
		  bool freed)
{
	uint32_t pos = key_hash(key) & (size - 1);

	for (; index[pos]; pos = (pos + 1) & (size - 1)) {
		const struct id_entry *e = &t[index[pos] - 1];

		if (e->used && !!e->freed_ms == freed && !strcmp(e->key, key))
			return index[pos] - 1;
	}
	return -1;
}

static int find(const struct id_entry *t, const uint16_t *index, uint32_t size, const char *key)
{
	return lookup(t, index, size, key, false);
}

/*
 * A quarantined slot with the same key comes back first (the same backend
 * back: its flows are its own); otherwise the lowest slot from *from never
 * used or out of quarantine. *from moves past the slot taken: one sync
 * takes slots in increasing order, so it scans each slot once.
 */
static int take(struct id_entry *t, uint16_t *index, uint32_t size, const char *key, uint64_t now_ms,
		uint32_t limit, uint32_t *from)
{
	int best = lookup(t, index, size, key, true);
	uint32_t i;

	for (i = *from; best < 0 && i < limit; i++)
		if (!t[i].used || (t[i].freed_ms && now_ms - t[i].freed_ms >= IDS_QUARANTINE_MS)) {
			best = (int)i;
			*from = i + 1;
		}
	if (best < 0)
		return -ENOSPC;
	snprintf(t[best].key, sizeof(t[best].key), "%s", key);
	t[best].used = 1;
	t[best].freed_ms = 0;
	index_put(index, size, key, (uint32_t)best);
	return best;
}

int ids_sync(struct ids *ids, const struct keel_config *cfg, uint64_t now_ms)
{
	uint8_t *want_vip = calloc(KEEL_MAX_VIPS, 1), *want_be = calloc(KEEL_MAX_BACKENDS, 1);
	char key[sizeof(ids->be[0].key)];
	uint32_t i, j, vfrom = 0, bfrom = 0;
	int id, ret = 0;

	if (!want_vip || !want_be) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		id = find(ids->vip, ids->vip_index, IDS_VIP_INDEX, v->name);
		if (id < 0)
			id = take(ids->vip, ids->vip_index, IDS_VIP_INDEX, v->name, now_ms, KEEL_MAX_VIPS,
				  &vfrom);
		if (id < 0) {
			ret = id;
			goto out;
		}
		want_vip[id] = 1;
		for (j = 0; j < v->n_backends; j++) {
			backend_key(key, sizeof(key), v->name, v->backends[j].addr, v->backends[j].family);
			id = find(ids->be, ids->be_index, IDS_BE_INDEX, key);
			/* Every id below KEEL_MAX_BACKENDS: the limit is 16384 backends, all of them. */
			if (id < 0)
				id = take(ids->be, ids->be_index, IDS_BE_INDEX, key, now_ms,
					  KEEL_MAX_BACKENDS, &bfrom);
			if (id < 0) {
				ret = id;
				goto out;
			}
			want_be[id] = 1;
		}
	}
	/* VIP ids need no quarantine: a VIP's flows die with it (backends check their VIP). */
	for (i = 0; i < KEEL_MAX_VIPS; i++)
		if (ids->vip[i].used && !want_vip[i])
			memset(&ids->vip[i], 0, sizeof(ids->vip[i]));
	for (i = 0; i < KEEL_MAX_BACKENDS; i++)
		if (ids->be[i].used && !ids->be[i].freed_ms && !want_be[i])
			ids->be[i].freed_ms = now_ms ? now_ms : 1;
out:
	ids_reindex(ids);
	free(want_vip);
	free(want_be);
	return ret;
}

int ids_vip(const struct ids *ids, const char *vip)
{
	return find(ids->vip, ids->vip_index, IDS_VIP_INDEX, vip);
}

int ids_backend(const struct ids *ids, const char *vip, const uint8_t addr[16], uint8_t family)
{
	char key[sizeof(ids->be[0].key)];

	backend_key(key, sizeof(key), vip, addr, family);
	return find(ids->be, ids->be_index, IDS_BE_INDEX, key);
}

static json_t *table_json(const struct id_entry *t, uint32_t n)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; a && i < n; i++)
		if (t[i].used)
			json_array_append_new(a, json_pack("{s:i,s:s,s:I}", "id", (int)i, "key", t[i].key,
							   "freed_ms", (json_int_t)t[i].freed_ms));
	return a;
}

json_t *ids_to_json(const struct ids *ids)
{
	return json_pack("{s:o,s:o}", "vips", table_json(ids->vip, KEEL_MAX_VIPS), "backends",
			 table_json(ids->be, KEEL_MAX_BACKENDS));
}

static int table_from(struct id_entry *t, uint32_t n, const json_t *a)
{
	size_t i;
	json_t *e;

	if (!json_is_array(a))
		return -1;
	json_array_foreach(a, i, e) {
		json_int_t id, freed;
		const char *key;

		if (json_unpack((json_t *)e, "{s:I,s:s,s:I}", "id", &id, "key", &key, "freed_ms",
				&freed) ||
		    id < 0 || id >= n || strlen(key) >= sizeof(t[0].key) || t[id].used)
			return -1;
		snprintf(t[id].key, sizeof(t[id].key), "%s", key);
		t[id].used = 1;
		t[id].freed_ms = (uint64_t)freed;
	}
	return 0;
}

struct ids *ids_from_json(const json_t *j)
{
	struct ids *ids = ids_new();

	if (!ids)
		return NULL;
	if (!json_is_object(j) || table_from(ids->vip, KEEL_MAX_VIPS, json_object_get(j, "vips")) ||
	    table_from(ids->be, KEEL_MAX_BACKENDS, json_object_get(j, "backends"))) {
		ids_free(ids);
		return NULL;
	}
	ids_reindex(ids);
	return ids;
}
