/* The fleet's answers: /v1/fleet and each host's store document. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keel_api.h"
#include "keel_api_priv.h"

void keel_api_fleet_free(struct keel_api_fleet_status *f)
{
	free(f->hosts);
	free(f->gone);
	memset(f, 0, sizeof(*f));
}

/* {name: status key} of "hosts" and "gone" into an array (strings point into o). */
static int fleet_hosts_decode(const json_t *o, struct keel_api_fleet_host **out, size_t *n)
{
	const char *name;
	json_t *h;

	*n = 0;
	*out = calloc(json_object_size(o) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_object_foreach((json_t *)o, name, h) {
		struct keel_api_fleet_host *fh = &(*out)[(*n)++];

		fh->name = name;
		fh->applied_revision = get_int(h, F_APPLIED_REVISION);
		fh->dataplane_alive = get_true(h, F_DATAPLANE_ALIVE);
		fh->announcing = get_true(h, F_ANNOUNCING);
		fh->version = get_str(h, F_VERSION);
		fh->last_refusal = get_str(h, F_LAST_REFUSAL);
		fh->digests = json_object_get(h, F_DIGESTS);
	}
	return 0;
}

int keel_api_fleet_decode(const json_t *o, struct keel_api_fleet_status *f)
{
	memset(f, 0, sizeof(*f));
	if (!json_is_object(o))
		return -EINVAL;
	f->host = get_str(o, F_HOST);
	f->prefix = get_str(o, F_PREFIX);
	f->revision = get_int(o, F_REVISION);
	f->applied_revision = get_int(o, F_APPLIED_REVISION);
	f->store_up = get_true(o, F_STORE_UP);
	f->store_lost = get_true(o, F_STORE_LOST);
	f->store_error = get_str(o, F_STORE_ERROR);
	if (fleet_hosts_decode(json_object_get(o, F_HOSTS), &f->hosts, &f->n_hosts) ||
	    fleet_hosts_decode(json_object_get(o, F_GONE), &f->gone, &f->n_gone)) {
		keel_api_fleet_free(f);
		return -ENOMEM;
	}
	return 0;
}

json_t *keel_api_fleet_host_encode(const struct keel_api_fleet_host *h)
{
	return json_pack("{s:I,s:b,s:b,s:s,s:s,s:O*}", F_APPLIED_REVISION,
			 (json_int_t)h->applied_revision, F_DATAPLANE_ALIVE, h->dataplane_alive,
			 F_ANNOUNCING, h->announcing, F_VERSION, h->version, F_LAST_REFUSAL,
			 h->last_refusal, F_DIGESTS, h->digests);
}

/* raw: the hosts' own documents as the store holds them (each written by keel_api_fleet_host_encode). */
static json_t *fleet_hosts_encode(const json_t *raw, const struct keel_api_fleet_host *hs, size_t n)
{
	json_t *hosts;

	if (raw)
		return json_deep_copy(raw);
	hosts = json_object();
	for (size_t i = 0; hosts && i < n; i++)
		json_object_set_new(hosts, hs[i].name, keel_api_fleet_host_encode(&hs[i]));
	return hosts;
}

json_t *keel_api_fleet_encode(const struct keel_api_fleet_status *f)
{
	json_t *hosts = f->no_hosts ? NULL : fleet_hosts_encode(f->raw_hosts, f->hosts, f->n_hosts);
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:b,s:s,s:o*}", F_HOST, f->host, F_PREFIX,
			      f->prefix, F_REVISION, (json_int_t)f->revision, F_APPLIED_REVISION,
			      (json_int_t)f->applied_revision, F_STORE_UP, f->store_up, F_STORE_LOST,
			      f->store_lost, F_STORE_ERROR, f->store_error, F_HOSTS, hosts);

	if (o && !f->no_hosts && (f->raw_gone || f->n_gone))
		json_object_set_new(o, F_GONE, fleet_hosts_encode(f->raw_gone, f->gone, f->n_gone));
	return o;
}
