/* Parser of the spec text form described in spec_text.h. */
#include "spec_text.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt.h"

void spec_text_init(struct spec_text *t)
{
	memset(t, 0, sizeof(*t));
	t->spec.generation = 1;
	t->spec.fleet_seed = 0x6b65656c;
	memcpy(t->spec.src_mac, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(t->spec.gw_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	t->spec.src4[0] = 172;
	t->spec.src4[1] = 16;
	t->spec.src4_plen = 16;
	t->spec.src6[0] = 0xfd;
	t->spec.src6_plen = 64;
}

int spec_text_addr(const char *text, uint8_t out[16], uint8_t *family)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, out) == 1) {
		*family = KEEL_AF_INET4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out) == 1) {
		*family = KEEL_AF_INET6;
		return 0;
	}
	return -1;
}

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	*out = strtoull(s, &end, 0);
	return errno || *end || *out > max ? -1 : 0;
}

int spec_text_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int parse_prefix(const char *s, uint8_t *addr, size_t addr_len, uint8_t *plen,
			uint8_t want_family)
{
	char buf[64], *slash;
	uint8_t a[16], fam;
	uint64_t len;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash++ = 0;
	if (spec_text_addr(buf, a, &fam) || fam != want_family ||
	    parse_u64(slash, addr_len * 8, &len))
		return -1;
	memcpy(addr, a, addr_len);
	*plen = (uint8_t)len;
	return 0;
}

/* Split arg into whitespace- or comma-separated words; returns their count. */
static int words(char *buf, char **w, int max)
{
	int n = 0;
	char *tok, *save;

	for (tok = strtok_r(buf, " \t,", &save); tok && n < max; tok = strtok_r(NULL, " \t,", &save))
		w[n++] = tok;
	return tok ? -1 : n;
}

int spec_text_vip(struct spec_text *t, const char *arg, const char **why)
{
	char buf[256], *w[8], *addr, *port, *proto;
	struct keel_vip_spec *v;
	uint64_t n;
	int nw, i;

	if (t->n_vips >= SPEC_TEXT_MAX_VIPS)
		return fail(why, "too many VIPs");
	if (strlen(arg) >= sizeof(buf))
		return fail(why, "line too long");
	strcpy(buf, arg);
	nw = words(buf, w, 8);
	if (nw < 1)
		return fail(why, "expected ADDR:PORT/PROTO");
	v = &t->vips[t->n_vips];
	memset(v, 0, sizeof(*v));
	proto = strrchr(w[0], '/');
	port = strrchr(w[0], ':');
	if (!proto || !port || port > proto)
		return fail(why, "expected ADDR:PORT/PROTO");
	*proto++ = 0;
	*port++ = 0;
	addr = w[0];
	if (addr[0] == '[') {
		size_t l = strlen(addr);

		if (l < 3 || addr[l - 1] != ']')
			return fail(why, "IPv6 VIP must be written [ADDR]:PORT/PROTO");
		addr[l - 1] = 0;
		addr++;
	}
	if (spec_text_addr(addr, v->addr, &v->family))
		return fail(why, "bad VIP address");
	if (!strcmp(proto, "tcp"))
		v->proto = KEEL_PROTO_TCP;
	else if (!strcmp(proto, "udp"))
		v->proto = KEEL_PROTO_UDP;
	else
		return fail(why, "protocol must be tcp or udp");
	if (!strcmp(port, "*"))
		v->flags |= KEEL_VIP_ALL_PORTS;
	else if (parse_u64(port, 65535, &n) || n == 0)
		return fail(why, "port must be 1..65535 or *");
	else
		v->port = (uint16_t)n;
	v->id = (uint16_t)t->n_vips;
	v->table_size = t->table_size;
	for (i = 1; i < nw; i++) {
		if (!strcmp(w[i], "gue"))
			v->encap = KEEL_ENCAP_GUE;
		else if (!strcmp(w[i], "ipip"))
			v->encap = KEEL_ENCAP_IPIP;
		else if (!strcmp(w[i], "fragments"))
			v->flags |= KEEL_VIP_FRAGMENTS;
		else if (!strcmp(w[i], "quic"))
			v->flags |= KEEL_VIP_QUIC;
		else if (!strncmp(w[i], "size=", 5) && !parse_u64(w[i] + 5, UINT32_MAX, &n))
			v->table_size = (uint32_t)n;
		else if (!strncmp(w[i], "id=", 3) && !parse_u64(w[i] + 3, 0xffff, &n))
			v->id = (uint16_t)n;
		else
			return fail(why, "unknown VIP option");
	}
	t->vip_first[t->n_vips] = t->n_be;
	t->allow_first[t->n_vips] = t->n_allow;
	t->deny_first[t->n_vips] = t->n_deny;
	t->n_vips++;
	return 0;
}

int spec_text_backend(struct spec_text *t, const char *arg, const char **why)
{
	char buf[256], *w[8];
	struct keel_backend_spec *b;
	uint64_t n;
	int nw, i;

	if (!t->n_vips)
		return fail(why, "backend before any vip");
	if (t->n_be >= SPEC_TEXT_MAX_BACKENDS)
		return fail(why, "too many backends");
	if (strlen(arg) >= sizeof(buf))
		return fail(why, "line too long");
	strcpy(buf, arg);
	nw = words(buf, w, 8);
	if (nw < 1)
		return fail(why, "expected a backend address");
	b = &t->be[t->n_be];
	memset(b, 0, sizeof(*b));
	if (spec_text_addr(w[0], b->addr, &b->family))
		return fail(why, "bad backend address");
	b->weight = 1;
	b->state = KEEL_BACKEND_ACTIVE;
	b->id = (uint16_t)t->n_be;
	for (i = 1; i < nw; i++) {
		if (!strncmp(w[i], "weight=", 7) && !parse_u64(w[i] + 7, UINT32_MAX, &n))
			b->weight = (uint32_t)n;
		else if (!strcmp(w[i], "state=active"))
			b->state = KEEL_BACKEND_ACTIVE;
		else if (!strcmp(w[i], "state=draining"))
			b->state = KEEL_BACKEND_DRAINING;
		else if (!strcmp(w[i], "state=down"))
			b->state = KEEL_BACKEND_DOWN;
		else if (!strncmp(w[i], "mac=", 4) && !spec_text_mac(w[i] + 4, b->mac))
			continue;
		else if (!strncmp(w[i], "id=", 3) && !parse_u64(w[i] + 3, 0xfffe, &n))
			b->id = (uint16_t)n;
		else if (!strncmp(w[i], "sid=", 4) && !parse_u64(w[i] + 4, 0xffff, &n) && n)
			b->server_id = (uint16_t)n; /* QUIC server id (quic VIPs) */
		else
			return fail(why, "unknown backend option");
	}
	t->be_vip[t->n_be] = t->n_vips - 1;
	t->n_be++;
	t->vips[t->n_vips - 1].n_backends++;
	return 0;
}

/* allow / deny ADDR/LEN and sources-mode, for the last VIP (source_list.h). */
static int source_line(struct spec_text *t, const char *key, const char *val, const char **why)
{
	uint32_t v = t->n_vips - 1, *n = key[0] == 'a' ? &t->n_allow : &t->n_deny;
	struct keel_src_prefix *p = key[0] == 'a' ? &t->allow[*n] : &t->deny[*n];
	uint8_t family;
	char a[64];
	const char *slash = strchr(val, '/');
	uint64_t len;

	if (!t->n_vips)
		return fail(why, "source list before any vip");
	t->has_src[v] = 1;
	if (key[0] == 's') {
		if (strcmp(val, "enforce") && strcmp(val, "count"))
			return fail(why, "sources-mode is enforce or count");
		t->src[v].mode = val[0] == 'c' ? KEEL_SRC_COUNT : KEEL_SRC_ENFORCE;
		return 0;
	}
	if (*n >= SPEC_TEXT_MAX_PREFIXES)
		return fail(why, "too many source prefixes");
	if (!slash || (size_t)(slash - val) >= sizeof(a) || parse_u64(slash + 1, 128, &len))
		return fail(why, "expected ADDR/LEN");
	memcpy(a, val, (size_t)(slash - val));
	a[slash - val] = 0;
	if (spec_text_addr(a, p->addr, &family) || family != t->vips[v].family)
		return fail(why, "source prefix: bad address or not the VIP's family");
	p->plen = (uint8_t)len;
	(*n)++;
	return 0;
}

int spec_text_line(struct spec_text *t, const char *line, const char **why)
{
	char key[32];
	const char *val;
	uint64_t n;
	size_t k;

	while (isspace((unsigned char)*line))
		line++;
	if (!*line || *line == '#')
		return 0;
	for (k = 0; line[k] && !isspace((unsigned char)line[k]); k++)
		;
	if (k >= sizeof(key))
		return fail(why, "unknown keyword");
	memcpy(key, line, k);
	key[k] = 0;
	val = line + k;
	while (isspace((unsigned char)*val))
		val++;
	{
		/* Trailing blanks and comments end the value. */
		static char v[256];
		size_t l = strcspn(val, "#");

		if (l >= sizeof(v))
			return fail(why, "line too long");
		memcpy(v, val, l);
		while (l && isspace((unsigned char)v[l - 1]))
			l--;
		v[l] = 0;
		val = v;
	}

	if (!strcmp(key, "vip"))
		return spec_text_vip(t, val, why);
	if (!strcmp(key, "backend"))
		return spec_text_backend(t, val, why);
	if (!strcmp(key, "allow") || !strcmp(key, "deny") || !strcmp(key, "sources-mode"))
		return source_line(t, key, val, why);
	if (!strcmp(key, "src-mac"))
		return spec_text_mac(val, t->spec.src_mac) ? fail(why, "bad MAC") : 0;
	if (!strcmp(key, "gw-mac"))
		return spec_text_mac(val, t->spec.gw_mac) ? fail(why, "bad MAC") : 0;
	/*
	 * Several next hops (next_hop.h): "next-hop MAC [PORT SRC-MAC]", one
	 * line each, ids in order; PORT (1..8) and SRC-MAC: it leaves by the
	 * dataplane's port PORT - 1 with that source MAC.
	 */
	if (!strcmp(key, "next-hop")) {
		uint32_t h = t->spec.n_next_hops;
		char mac[18], src[18];
		unsigned int port = 0;
		int got = sscanf(val, "%17s %u %17s", mac, &port, src);

		if (h >= KEEL_MAX_NEXT_HOPS)
			return fail(why, "too many next hops");
		if (got != 1 && got != 3)
			return fail(why, "expected MAC [PORT SRC-MAC]");
		if (spec_text_mac(mac, t->spec.next_hop[h].mac))
			return fail(why, "bad MAC");
		if (got == 3) {
			if (port < 1 || port > KEEL_NEXT_HOP_MAX_PORT || spec_text_mac(src, t->spec.next_hop[h].src_mac))
				return fail(why, "bad next-hop port or source MAC");
			t->spec.next_hop[h].port = (uint8_t)port;
		}
		t->spec.next_hop[h].id = (uint8_t)h;
		t->spec.n_next_hops = h + 1;
		return 0;
	}
	if (!strcmp(key, "src4"))
		return parse_prefix(val, t->spec.src4, 4, &t->spec.src4_plen, KEEL_AF_INET4) ?
			       fail(why, "expected IPv4 ADDR/LEN") : 0;
	if (!strcmp(key, "src6"))
		return parse_prefix(val, t->spec.src6, 16, &t->spec.src6_plen, KEEL_AF_INET6) ?
			       fail(why, "expected IPv6 ADDR/LEN") : 0;
	if (!strcmp(key, "seed"))
		return parse_u64(val, UINT64_MAX, &t->spec.fleet_seed) ? fail(why, "bad number") : 0;
	if (!strcmp(key, "generation"))
		return parse_u64(val, UINT64_MAX, &t->spec.generation) ? fail(why, "bad number") : 0;
	if (!strcmp(key, "mtu") || !strcmp(key, "gue-port") || !strcmp(key, "ttl")) {
		if (parse_u64(val, !strcmp(key, "ttl") ? 255 : 65535, &n) || !n)
			return fail(why, "bad number");
		if (key[0] == 'm')
			t->spec.mtu = (uint16_t)n;
		else if (key[0] == 'g')
			t->spec.gue_port = (uint16_t)n;
		else
			t->spec.ttl = (uint8_t)n;
		return 0;
	}
	if (!strcmp(key, "icmp-rate")) {
		if (parse_u64(val, UINT32_MAX, &n) || !n)
			return fail(why, "bad number");
		t->spec.icmp_rate = (uint32_t)n;
		return 0;
	}
	if (!strcmp(key, "table-size")) {
		if (parse_u64(val, UINT32_MAX, &n))
			return fail(why, "bad number");
		t->table_size = (uint32_t)n;
		return 0;
	}
	return fail(why, "unknown keyword");
}

int spec_text_load(struct spec_text *t, const char *path, char *err, size_t errlen)
{
	char line[512];
	const char *why = "";
	unsigned int lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (spec_text_line(t, line, &why)) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	spec_text_finish(t);
	return 0;
}

void spec_text_finish(struct spec_text *t)
{
	uint32_t i;

	for (i = 0; i < t->n_vips; i++) {
		uint32_t an = (i + 1 < t->n_vips ? t->allow_first[i + 1] : t->n_allow) - t->allow_first[i];
		uint32_t dn = (i + 1 < t->n_vips ? t->deny_first[i + 1] : t->n_deny) - t->deny_first[i];

		t->vips[i].backends = &t->be[t->vip_first[i]];
		if (!t->has_src[i])
			continue;
		t->src[i].allow = &t->allow[t->allow_first[i]];
		t->src[i].n_allow = an;
		t->src[i].deny = &t->deny[t->deny_first[i]];
		t->src[i].n_deny = dn;
		t->vips[i].sources = &t->src[i];
	}
	t->spec.n_vips = t->n_vips;
	t->spec.vips = t->vips;
}
