/* The etcd client's leases (etcd.h): keys put under one vanish when it is not kept alive. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "etcd_priv.h"

int keel_etcd_lease_grant(struct keel_etcd *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl)
{
	json_t *req = json_object(), *root;
	int rc;

	*id = *granted_ttl = 0;
	if (ttl_s <= 0)
		return json_decref(req), etcd_fail(c, -EINVAL, "a lease needs a TTL of 1 s or more");
	if (!req || etcd_set_i64(req, "TTL", ttl_s))
		return json_decref(req), etcd_fail(c, -ENOMEM, "");
	rc = etcd_call(c, "/v3/lease/grant", req, false, &root);
	if (rc)
		return rc;
	rc = etcd_parse_i64(root, "ID", id);
	if (!rc)
		rc = etcd_parse_i64(root, "TTL", granted_ttl);
	json_decref(root);
	if (!rc && (*id == 0 || *granted_ttl <= 0))
		rc = -EPROTO;
	return rc ? etcd_fail(c, rc, "a lease grant answer without a lease") : 0;
}

int keel_etcd_lease_keepalive(struct keel_etcd *c, int64_t id, int64_t *ttl)
{
	json_t *req = json_object(), *root;
	int rc;

	*ttl = 0;
	if (!req || etcd_set_i64(req, "ID", id))
		return json_decref(req), etcd_fail(c, -ENOMEM, "");
	rc = etcd_call(c, "/v3/lease/keepalive", req, true, &root);
	if (rc)
		return rc;
	rc = etcd_parse_i64(root, "TTL", ttl);
	json_decref(root);
	if (rc)
		return etcd_fail(c, rc, "a keepalive answer that does not parse");
	if (*ttl <= 0) {
		etcd_seterr(c, "etcd: lease %" PRId64 " expired or was revoked", id);
		return -ENOENT;
	}
	return 0;
}

int keel_etcd_lease_revoke(struct keel_etcd *c, int64_t id)
{
	json_t *req = json_object(), *root;
	int rc;

	if (!req || etcd_set_i64(req, "ID", id))
		return json_decref(req), etcd_fail(c, -ENOMEM, "");
	rc = etcd_call(c, "/v3/lease/revoke", req, true, &root);
	json_decref(root);
	return rc;
}
