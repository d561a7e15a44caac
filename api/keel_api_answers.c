/* The answers keelctl reads (preview, change report, backends and health, workers): one codec each. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

void keel_api_preview_free(struct keel_api_preview *p)
{
	for (size_t i = 0; p->vips && i < p->n_vips; i++)
		free(p->vips[i].backends);
	free(p->vips);
	memset(p, 0, sizeof(*p));
}

int keel_api_preview_decode(const json_t *o, struct keel_api_preview *p)
{
	const char *name, *addr;
	json_t *v, *b;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return o ? -EINVAL : 0;
	p->vips = calloc(json_object_size(o) + 1, sizeof(*p->vips));
	if (!p->vips)
		return -ENOMEM;
	json_object_foreach((json_t *)o, name, v) {
		struct keel_api_preview_vip *pv = &p->vips[p->n_vips];
		json_t *bs = json_object_get(v, F_BACKENDS);

		if (!json_is_object(v)) /* "warnings" in a diff answer */
			continue;
		snprintf(pv->vip, sizeof(pv->vip), "%s", name);
		pv->moved_share = json_number_value(json_object_get(v, F_MOVED_SHARE));
		pv->removed = get_true(v, F_REMOVED);
		pv->added = get_true(v, F_NEW);
		pv->empty = get_true(v, F_EMPTY);
		snprintf(pv->sources_before, sizeof(pv->sources_before), "%s",
			 get_str(json_object_get(v, F_SOURCES), F_BEFORE));
		snprintf(pv->sources_after, sizeof(pv->sources_after), "%s",
			 get_str(json_object_get(v, F_SOURCES), F_AFTER));
		pv->backends = calloc(json_object_size(bs) + 1, sizeof(*pv->backends));
		if (!pv->backends) {
			keel_api_preview_free(p);
			return -ENOMEM;
		}
		p->n_vips++;
		json_object_foreach(bs, addr, b) {
			struct keel_api_preview_backend *pb = &pv->backends[pv->n_backends++];

			snprintf(pb->addr, sizeof(pb->addr), "%s", addr);
			pb->has_before = json_object_get(b, F_BEFORE) != NULL;
			pb->before = get_int(b, F_BEFORE);
			pb->after = get_int(b, F_AFTER);
		}
	}
	return 0;
}

json_t *keel_api_preview_encode(const struct keel_api_preview *p)
{
	json_t *o = json_object(), *v, *bs, *b;

	for (size_t i = 0; o && i < p->n_vips; i++) {
		const struct keel_api_preview_vip *pv = &p->vips[i];

		v = json_object();
		bs = json_object();
		if (!v || !bs || json_object_set_new(o, pv->vip, v)) {
			json_decref(bs);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(v, F_MOVED_SHARE, json_real(pv->moved_share));
		/*
		 * As keel-control writes it (plan/spec.c fills this struct): a VIP
		 * that goes is {"moved_share": 1, "removed": true}; any other has
		 * "new", "empty" (true or false) and "backends".
		 */
		if (pv->removed) {
			json_object_set_new(v, F_REMOVED, json_true());
		} else {
			json_object_set_new(v, F_NEW, json_boolean(pv->added));
			json_object_set_new(v, F_EMPTY, json_boolean(pv->empty));
		}
		if (*pv->sources_before || *pv->sources_after)
			json_object_set_new(v, F_SOURCES, json_pack("{s:s,s:s}", F_BEFORE, pv->sources_before,
								     F_AFTER, pv->sources_after));
		if (pv->removed && !pv->n_backends) {
			json_decref(bs);
			continue;
		}
		json_object_set_new(v, F_BACKENDS, bs);
		for (size_t k = 0; k < pv->n_backends; k++) {
			const struct keel_api_preview_backend *pb = &pv->backends[k];

			b = json_object();
			if (!b)
				break;
			if (pb->has_before)
				json_object_set_new(b, F_BEFORE, json_integer(pb->before));
			json_object_set_new(b, F_AFTER, json_integer(pb->after));
			json_object_set_new(bs, pb->addr, b);
		}
	}
	return o;
}

void keel_api_report_free(struct keel_api_report *r)
{
	keel_api_preview_free(&r->preview);
	for (size_t i = 0; r->warnings && i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->publish_error);
	free(r->error);
	if (r->refused) {
		keel_api_report_free(r->refused);
		free(r->refused);
	}
	free(r->vips);
	free(r->pending);
	free(r->hosts);
	free(r->host_revisions);
	memset(r, 0, sizeof(*r));
}

int keel_api_report_decode(const json_t *o, struct keel_api_report *r)
{
	json_t *a, *v, *rep;
	const char *name;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return -EINVAL;
	r->applied = get_true(o, F_APPLIED);
	r->dry_run = get_true(o, F_DRY_RUN);
	r->has_changed = json_object_get(o, F_CHANGED) != NULL;
	r->changed = get_true(o, F_CHANGED);
	r->generation = get_int(o, F_GENERATION);
	r->has_config_generation = json_object_get(o, F_CONFIG_GENERATION) != NULL;
	r->config_generation = get_int(o, F_CONFIG_GENERATION);
	r->has_revision = json_object_get(o, F_REVISION) != NULL;
	r->revision = get_int(o, F_REVISION);
	r->has_converged = json_object_get(o, F_CONVERGED) != NULL;
	r->converged = get_true(o, F_CONVERGED);
	r->has_published = json_object_get(o, F_PUBLISHED) != NULL;
	r->published = get_true(o, F_PUBLISHED);
	r->publish_error = get_dup(o, F_PUBLISH_ERROR);
	r->error = get_dup(o, F_ERROR);
	r->has_preview = json_object_get(o, F_PREVIEW) != NULL;
	if ((rc = keel_api_preview_decode(json_object_get(o, F_PREVIEW), &r->preview)))
		goto fail;
	rc = -ENOMEM;
	a = json_object_get(o, F_WARNINGS);
	r->warnings = calloc(json_array_size(a) + 1, sizeof(*r->warnings));
	if (!r->warnings)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && !(r->warnings[r->n_warnings++] = strdup(json_string_value(v))))
			goto fail;
	a = json_object_get(o, F_VIPS);
	r->has_vips = json_is_array(a);
	r->vips = calloc(json_array_size(a) + 1, sizeof(*r->vips));
	if (!r->vips)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			snprintf(r->vips[r->n_vips++], sizeof(r->vips[0]), "%s", json_string_value(v));
	a = json_object_get(o, F_HOSTS);
	r->has_hosts = json_is_object(a);
	r->hosts = calloc(json_object_size(a) + 1, sizeof(*r->hosts));
	r->host_revisions = calloc(json_object_size(a) + 1, sizeof(*r->host_revisions));
	if (!r->hosts || !r->host_revisions)
		goto fail;
	json_object_foreach(a, name, v) {
		snprintf(r->hosts[r->n_hosts], sizeof(r->hosts[0]), "%s", name);
		r->host_revisions[r->n_hosts++] = json_integer_value(v);
	}
	a = json_object_get(o, F_PENDING_HOSTS);
	r->pending = calloc(json_array_size(a) + 1, sizeof(*r->pending));
	if (!r->pending)
		goto fail;
	json_array_foreach(a, i, v)
		if (json_is_string(v))
			snprintf(r->pending[r->n_pending++], sizeof(r->pending[0]), "%s", json_string_value(v));
	rep = json_object_get(o, F_REPORT);
	if (json_is_object(rep)) {
		r->refused = calloc(1, sizeof(*r->refused));
		if (!r->refused || (rc = keel_api_report_decode(rep, r->refused)))
			goto fail;
	}
	return 0;
fail:
	keel_api_report_free(r);
	return rc;
}

json_t *keel_api_report_encode(const struct keel_api_report *r)
{
	json_t *o = json_object(), *a;

	if (!o)
		return NULL;
	if (r->error) {
		json_object_set_new(o, F_ERROR, json_string(r->error));
		if (r->refused)
			json_object_set_new(o, F_REPORT, keel_api_report_encode(r->refused));
		return o;
	}
	json_object_set_new(o, F_APPLIED, json_boolean(r->applied));
	json_object_set_new(o, F_DRY_RUN, json_boolean(r->dry_run));
	json_object_set_new(o, F_GENERATION, json_integer(r->generation));
	if (r->has_changed)
		json_object_set_new(o, F_CHANGED, json_boolean(r->changed));
	if (r->has_config_generation)
		json_object_set_new(o, F_CONFIG_GENERATION, json_integer(r->config_generation));
	if (r->has_preview)
		json_object_set_new(o, F_PREVIEW, keel_api_preview_encode(&r->preview));
	a = json_array();
	for (size_t i = 0; a && i < r->n_warnings; i++)
		json_array_append_new(a, json_string(r->warnings[i]));
	json_object_set_new(o, F_WARNINGS, a);
	if (r->has_published)
		json_object_set_new(o, F_PUBLISHED, json_boolean(r->published));
	if (r->publish_error)
		json_object_set_new(o, F_PUBLISH_ERROR, json_string(r->publish_error));
	if (r->has_vips) {
		a = json_array();
		for (size_t i = 0; a && i < r->n_vips; i++)
			json_array_append_new(a, json_string(r->vips[i]));
		json_object_set_new(o, F_VIPS, a);
	}
	if (r->has_revision)
		json_object_set_new(o, F_REVISION, json_integer(r->revision));
	if (r->has_converged) {
		json_object_set_new(o, F_CONVERGED, json_boolean(r->converged));
		a = json_array();
		for (size_t i = 0; a && i < r->n_pending; i++)
			json_array_append_new(a, json_string(r->pending[i]));
		json_object_set_new(o, F_PENDING_HOSTS, a);
	}
	if (r->has_hosts) {
		a = json_object();
		for (size_t i = 0; a && i < r->n_hosts; i++)
			json_object_set_new(a, r->hosts[i], json_integer(r->host_revisions[i]));
		json_object_set_new(o, F_HOSTS, a);
	}
	return o;
}

int keel_api_backends_decode(const json_t *vip, struct keel_api_backend_view **out, size_t *n)
{
	json_t *a = json_object_get(vip, F_BACKENDS), *b, *h;
	size_t i;

	*n = 0;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, b) {
		struct keel_api_backend_view *v = &(*out)[(*n)++];

		h = json_object_get(b, F_HEALTH);
		v->addr = get_str(b, F_ADDRESS);
		v->weight = (uint32_t)get_int(b, F_WEIGHT);
		v->state = get_str(b, F_STATE);
		v->health = get_str(h, F_STATE);
		v->health_last = get_str(h, F_LAST);
		v->has_latency = json_object_get(h, F_LATENCY_US) != NULL;
		v->latency_us = get_int(h, F_LATENCY_US);
		v->checks = get_int(h, F_CHECKS);
		v->since_ms = get_int(h, F_SINCE_MS);
		v->last_check_ms = get_int(h, F_LAST_CHECK_MS);
		h = json_object_get(b, F_SLOW_START);
		v->has_slow_start = json_is_object(h);
		v->slow_start_percent = get_int(h, F_PERCENT);
		v->slow_start_until_ms = get_int(h, F_UNTIL_MS);
	}
	return 0;
}

json_t *keel_api_health_encode(const struct keel_api_backend_view *b)
{
	json_t *h = json_object();

	if (!h)
		return NULL;
	json_object_set_new(h, F_STATE, json_string(b->health));
	/* "last" and "latency_us" come from a check that ran: absent while unchecked or unknown. */
	if (b->has_latency) {
		json_object_set_new(h, F_LAST, json_string(b->health_last));
		json_object_set_new(h, F_LATENCY_US, json_integer(b->latency_us));
		json_object_set_new(h, F_CHECKS, json_integer(b->checks));
		json_object_set_new(h, F_SINCE_MS, json_integer(b->since_ms));
		json_object_set_new(h, F_LAST_CHECK_MS, json_integer(b->last_check_ms));
	}
	return h;
}

json_t *keel_api_backend_view_encode(const struct keel_api_backend_view *b)
{
	json_t *h = keel_api_health_encode(b), *o = json_object();

	if (!h || !o) {
		json_decref(h);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, F_ADDRESS, json_string(b->addr));
	json_object_set_new(o, F_WEIGHT, json_integer(b->weight));
	json_object_set_new(o, F_STATE, json_string(b->state));
	json_object_set_new(o, F_HEALTH, h);
	if (b->has_slow_start)
		json_object_set_new(o, F_SLOW_START,
				    json_pack("{s:I,s:I}", F_PERCENT, (json_int_t)b->slow_start_percent,
					      F_UNTIL_MS, (json_int_t)b->slow_start_until_ms));
	return o;
}

json_t *keel_api_status_workers(const json_t *status)
{
	return json_object_get(json_object_get(status, F_DATAPLANE), F_WORKERS);
}

int keel_api_workers_decode(const json_t *status, struct keel_api_worker_status **out, size_t *n,
			    bool *has)
{
	json_t *a = keel_api_status_workers(status), *v;
	size_t i;

	*n = 0;
	*has = a != NULL;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		struct keel_api_worker_status *w = &(*out)[(*n)++];

		w->worker = get_int(v, F_WORKER);
		w->lcore = get_int(v, F_LCORE);
		w->socket = get_int(v, F_SOCKET);
		w->generation = get_int(v, F_GENERATION);
		w->activations = get_int(v, F_ACTIVATIONS);
		w->refused = get_int(v, F_REFUSED);
		w->busy_cycles = get_int(v, F_BUSY_CYCLES);
		w->numa_mismatch = get_true(v, F_NUMA_MISMATCH);
	}
	return 0;
}

json_t *keel_api_worker_status_encode(const struct keel_api_worker_status *w)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", F_WORKER, (json_int_t)w->worker,
			 F_LCORE, (json_int_t)w->lcore, F_SOCKET, (json_int_t)w->socket, F_GENERATION,
			 (json_int_t)w->generation, F_ACTIVATIONS, (json_int_t)w->activations,
			 F_REFUSED, (json_int_t)w->refused, F_BUSY_CYCLES, (json_int_t)w->busy_cycles,
			 F_NUMA_MISMATCH, w->numa_mismatch);
}
