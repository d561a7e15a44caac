/* The etcd client's key-value calls (etcd.h): range, put, delete, and transactions with compares on mod_revision. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_priv.h"

/* A bytes field (base64) of a request. */
int etcd_set_bytes(json_t *o, const char *field, const void *data, size_t len)
{
	char *s = etcd_b64_encode(data, len);
	int rc = s ? json_object_set_new(o, field, json_string(s)) : -1;

	free(s);
	return rc ? -ENOMEM : 0;
}

int etcd_set_i64(json_t *o, const char *field, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_object_set_new(o, field, json_string(s)) ? -ENOMEM : 0;
}

/* {"key": ..., "range_end": ...} of a key or a prefix; an empty prefix is every key. */
int etcd_set_range(json_t *o, const char *key, unsigned flags)
{
	size_t n = strlen(key);
	char *end;
	int rc;

	if (!(flags & KEEL_ETCD_PREFIX))
		return etcd_set_bytes(o, "key", key, n);
	rc = etcd_set_bytes(o, "key", n ? key : "", n ? n : 1); /* "" as "\0": the first key */
	end = malloc(n + 1);
	if (!end)
		return -ENOMEM;
	if (!rc)
		rc = etcd_set_bytes(o, "range_end", end, etcd_prefix_end(key, end));
	free(end);
	return rc;
}

int etcd_fail(struct keel_etcd *c, int rc, const char *what)
{
	if (rc == -ENOMEM)
		etcd_seterr(c, "etcd: out of memory");
	else
		etcd_seterr(c, "etcd: %s", what);
	return rc;
}

static int check_key(struct keel_etcd *c, const char *key, unsigned flags)
{
	if (!key || (!*key && !(flags & KEEL_ETCD_PREFIX)))
		return etcd_fail(c, -EINVAL, "an empty key");
	return 0;
}

int keel_etcd_range(struct keel_etcd *c, const char *key, unsigned flags, int64_t revision,
		    struct keel_etcd_range *out)
{
	json_t *req = json_object(), *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_key(c, key, flags)))
		return json_decref(req), rc;
	rc = req ? etcd_set_range(req, key, flags) : -ENOMEM;
	if (!rc && revision)
		rc = etcd_set_i64(req, "revision", revision);
	if (!rc && (flags & KEEL_ETCD_SERIALIZABLE))
		rc = json_object_set_new(req, "serializable", json_true()) ? -ENOMEM : 0;
	if (!rc && (flags & KEEL_ETCD_KEYS_ONLY))
		rc = json_object_set_new(req, "keys_only", json_true()) ? -ENOMEM : 0;
	if (rc)
		return json_decref(req), etcd_fail(c, rc, "range");
	rc = etcd_call(c, "/v3/kv/range", req, true, &root);
	if (rc)
		return rc;
	rc = etcd_parse_range(root, out);
	json_decref(root);
	return rc ? etcd_fail(c, rc, "a range answer that does not parse") : 0;
}

/* {"key", "value", "lease"} of a put, alone or inside a transaction. */
static json_t *put_req(const char *key, const void *value, size_t len, int64_t lease)
{
	json_t *o = json_object();

	if (o && !etcd_set_bytes(o, "key", key, strlen(key)) && !etcd_set_bytes(o, "value", value, len) &&
	    (!lease || !etcd_set_i64(o, "lease", lease)))
		return o;
	json_decref(o);
	return NULL;
}

int keel_etcd_put(struct keel_etcd *c, const char *key, const void *value, size_t value_len,
		  int64_t lease, int64_t *revision)
{
	json_t *root, *req;
	int rc;

	*revision = 0;
	if ((rc = check_key(c, key, 0)))
		return rc;
	if (!(req = put_req(key, value, value_len, lease)))
		return etcd_fail(c, -ENOMEM, "");
	rc = etcd_call(c, "/v3/kv/put", req, false, &root);
	if (rc)
		return rc;
	rc = etcd_parse_revision(root, revision);
	json_decref(root);
	return rc ? etcd_fail(c, rc, "a put answer that does not parse") : 0;
}

int keel_etcd_delete(struct keel_etcd *c, const char *key, unsigned flags, int64_t *deleted,
		     int64_t *revision)
{
	json_t *req = json_object(), *root;
	int rc;

	*deleted = *revision = 0;
	if ((rc = check_key(c, key, flags)))
		return json_decref(req), rc;
	if (!req || etcd_set_range(req, key, flags))
		return json_decref(req), etcd_fail(c, -ENOMEM, "");
	rc = etcd_call(c, "/v3/kv/deleterange", req, false, &root);
	if (rc)
		return rc;
	rc = etcd_parse_revision(root, revision);
	if (!rc)
		rc = etcd_parse_i64(root, "deleted", deleted);
	json_decref(root);
	return rc ? etcd_fail(c, rc, "a delete answer that does not parse") : 0;
}

static const char *const cmp_names[] = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER"};

static json_t *txn_req(const struct keel_etcd_cmp *cmp, size_t n_cmp, const struct keel_etcd_op *ops,
		       size_t n_ops)
{
	json_t *req = json_object(), *cmps = json_array(), *succ = json_array();
	size_t i;
	int rc = req && cmps && succ ? 0 : -ENOMEM;

	for (i = 0; i < n_cmp && !rc; i++) {
		json_t *o = json_object();

		rc = !o || !cmp[i].key || (unsigned)cmp[i].result > KEEL_ETCD_GREATER ? -EINVAL
		     : etcd_set_range(o, cmp[i].key, cmp[i].flags);
		if (!rc)
			rc = json_object_set_new(o, "target", json_string("MOD")) ||
			     json_object_set_new(o, "result", json_string(cmp_names[cmp[i].result])) ? -ENOMEM : 0;
		if (!rc)
			rc = etcd_set_i64(o, "mod_revision", cmp[i].mod_revision);
		if (!rc)
			rc = json_array_append(cmps, o) ? -ENOMEM : 0;
		json_decref(o);
	}
	for (i = 0; i < n_ops && !rc; i++) {
		json_t *in = NULL, *o;

		if (!ops[i].key || !*ops[i].key || (ops[i].type != KEEL_ETCD_OP_PUT && ops[i].type != KEEL_ETCD_OP_DELETE)) {
			rc = -EINVAL;
			break;
		}
		if (ops[i].type == KEEL_ETCD_OP_PUT)
			in = put_req(ops[i].key, ops[i].value, ops[i].value_len, ops[i].lease);
		else if ((in = json_object()) && etcd_set_range(in, ops[i].key, ops[i].flags)) {
			json_decref(in);
			in = NULL;
		}
		/* "o" steals in, also when json_pack fails */
		o = in ? json_pack("{s:o}", ops[i].type == KEEL_ETCD_OP_PUT ? "request_put" : "request_delete_range", in)
		       : NULL;
		if (!o || json_array_append_new(succ, o))
			rc = -ENOMEM;
	}
	if (!rc && (json_object_set(req, "compare", cmps) || json_object_set(req, "success", succ)))
		rc = -ENOMEM;
	json_decref(cmps);
	json_decref(succ);
	if (rc) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int keel_etcd_txn(struct keel_etcd *c, const struct keel_etcd_cmp *cmp, size_t n_cmp,
		  const struct keel_etcd_op *ops, size_t n_ops, bool *succeeded, int64_t *revision)
{
	json_t *req, *root;
	int rc;

	*succeeded = false;
	*revision = 0;
	req = txn_req(cmp, n_cmp, ops, n_ops);
	if (!req)
		return etcd_fail(c, -EINVAL, "a transaction with an empty key or an unknown compare or operation");
	rc = etcd_call(c, "/v3/kv/txn", req, false, &root);
	if (rc)
		return rc;
	rc = etcd_parse_revision(root, revision);
	*succeeded = json_is_true(json_object_get(root, "succeeded"));
	json_decref(root);
	return rc ? etcd_fail(c, rc, "a transaction answer that does not parse") : 0;
}
