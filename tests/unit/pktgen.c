/* Test packet crafting with a deliberately naive checksum, independent of the core's csum.h. */
#include "pktgen.h"

#include <arpa/inet.h>
#include <string.h>

const uint8_t pktgen_client_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t pktgen_lb_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One byte pair at a time, end-around carry after each addition. */
static uint32_t naive_sum(uint32_t sum, const uint8_t *d, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
		if (sum > 0xffff)
			sum = (sum & 0xffff) + 1;
	}
	if (len & 1) {
		sum += (uint32_t)d[len - 1] << 8;
		if (sum > 0xffff)
			sum = (sum & 0xffff) + 1;
	}
	return sum;
}

uint16_t pktgen_csum(const uint8_t *data, size_t len)
{
	return (uint16_t)~naive_sum(0, data, len);
}

bool pktgen_ip4_csum_ok(const uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

	return ihl >= 20 && pktgen_csum(ip, ihl) == 0;
}

static uint32_t pseudo_sum(int family, const uint8_t *ip, size_t len, uint8_t proto)
{
	uint8_t tail[4] = { 0, 0, 0, proto };
	uint8_t lenb[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			    (uint8_t)len };
	uint32_t s;

	if (family == 4) {
		s = naive_sum(0, ip + 12, 8);
		s = naive_sum(s, tail + 2, 2);
		return naive_sum(s, lenb + 2, 2);
	}
	s = naive_sum(0, ip + 8, 32);
	s = naive_sum(s, lenb, 4);
	return naive_sum(s, tail, 4);
}

bool pktgen_l4_csum_ok(int family, const uint8_t *ip, const uint8_t *l4, size_t len, uint8_t proto)
{
	uint32_t s;

	if (proto == 1)
		return (uint16_t)~naive_sum(0, l4, len) == 0;
	if (proto == 17 && family == 4 && len >= 8 && l4[6] == 0 && l4[7] == 0)
		return true;
	s = pseudo_sum(family, ip, len, proto);
	return (uint16_t)~naive_sum(s, l4, len) == 0;
}

void pktgen_addr(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	inet_pton(family == 6 ? AF_INET6 : AF_INET, text, out);
}

static size_t l4_build(uint8_t *l4, size_t cap, const struct pktgen *g)
{
	size_t hl, i;

	if (g->l4_override) {
		if (g->l4_override_len > cap)
			return 0;
		memcpy(l4, g->l4_override, g->l4_override_len);
		return g->l4_override_len;
	}
	switch (g->proto) {
	case 6:
		hl = 20;
		break;
	case 17:
	case 1:
	case 58:
		hl = 8;
		break;
	default:
		hl = 0;
	}
	if (hl + g->payload_len > cap)
		return 0;
	memset(l4, 0, hl);
	if (g->proto == 6) {
		put16(l4, g->sport);
		put16(l4 + 2, g->dport);
		put16(l4 + 4, 0x1234);
		put16(l4 + 6, 0x5678);
		l4[12] = 5 << 4;
		l4[13] = g->tcp_flags ? g->tcp_flags : 0x10;
		put16(l4 + 14, 65535);
	} else if (g->proto == 17) {
		put16(l4, g->sport);
		put16(l4 + 2, g->dport);
		put16(l4 + 4, (uint16_t)(8 + g->payload_len));
	} else if (g->proto == 1 || g->proto == 58) {
		l4[0] = g->icmp_type;
		l4[1] = g->icmp_code;
		put16(l4 + 4, 0x4242); /* echo identifier */
		put16(l4 + 6, 1);
	}
	for (i = 0; i < g->payload_len; i++)
		l4[hl + i] = (uint8_t)i;
	return hl + g->payload_len;
}

static void l4_checksum(int family, const uint8_t *ip, uint8_t *l4, size_t len, uint8_t proto)
{
	uint8_t *field;
	uint32_t s = 0;

	if (proto == 6 && len >= 20)
		field = l4 + 16;
	else if (proto == 17 && len >= 8)
		field = l4 + 6;
	else if ((proto == 1 || proto == 58) && len >= 4)
		field = l4 + 2;
	else
		return;
	field[0] = field[1] = 0;
	if (proto != 1)
		s = pseudo_sum(family, ip, len, proto);
	put16(field, (uint16_t)~naive_sum(s, l4, len));
	if (proto == 17 && field[0] == 0 && field[1] == 0)
		put16(field, 0xffff);
}

size_t pktgen_build_ip(uint8_t *buf, size_t cap, const struct pktgen *g)
{
	uint8_t ttl = g->ttl ? g->ttl : 64;
	bool frag = g->frag_offset || g->more_frags;
	size_t hl, l4len, total, i;
	uint8_t *l4;

	if (g->family == 4) {
		hl = 20 + g->ip4_opt_len;
		if (hl > cap || hl > 60)
			return 0;
		l4 = buf + hl;
		l4len = l4_build(l4, cap - hl, g);
		if (!l4len && (g->proto == 6 || g->proto == 17))
			return 0;
		total = hl + l4len;
		memset(buf, 0, hl);
		buf[0] = (uint8_t)(0x40 | (hl / 4));
		buf[1] = g->tos;
		put16(buf + 2, (uint16_t)total);
		put16(buf + 4, 0xbeef);
		put16(buf + 6, (uint16_t)((g->df ? 0x4000 : 0) | (g->more_frags ? 0x2000 : 0) |
					  (g->frag_offset & 0x1fff)));
		buf[8] = ttl;
		buf[9] = g->proto;
		{
			uint8_t a[16];

			pktgen_addr(4, g->src, a);
			memcpy(buf + 12, a, 4);
			pktgen_addr(4, g->dst, a);
			memcpy(buf + 16, a, 4);
		}
		/* Options: NOPs, then an EOL; bytes that would look like ports if misread. */
		for (i = 20; i < hl; i++)
			buf[i] = 0x01;
		if (hl > 20)
			buf[hl - 1] = 0x00;
		if (!frag || g->frag_offset == 0)
			l4_checksum(4, buf, l4, l4len, g->proto);
		put16(buf + 10, pktgen_csum(buf, hl));
		return total;
	}

	/* IPv6 */
	hl = 40;
	if (g->ip6_hbh_len)
		hl += (size_t)g->ip6_hbh_len * 8;
	if (g->ip6_frag_hdr)
		hl += 8;
	if (hl > cap)
		return 0;
	l4 = buf + hl;
	l4len = l4_build(l4, cap - hl, g);
	total = hl + l4len;
	memset(buf, 0, hl);
	buf[0] = (uint8_t)(0x60 | (g->tos >> 4));
	buf[1] = (uint8_t)(g->tos << 4);
	put16(buf + 4, (uint16_t)(total - 40));
	buf[7] = ttl;
	pktgen_addr(6, g->src, buf + 8);
	pktgen_addr(6, g->dst, buf + 24);
	{
		uint8_t *nh = buf + 6;
		size_t off = 40;

		if (g->ip6_hbh_len) {
			*nh = 0;
			nh = buf + off;
			buf[off + 1] = (uint8_t)(g->ip6_hbh_len - 1);
			buf[off + 2] = 1; /* PadN option covering the rest */
			buf[off + 3] = (uint8_t)(g->ip6_hbh_len * 8 - 4);
			off += (size_t)g->ip6_hbh_len * 8;
		}
		if (g->ip6_frag_hdr) {
			*nh = 44;
			nh = buf + off;
			put16(buf + off + 2, (uint16_t)((g->frag_offset << 3) | (g->more_frags ? 1 : 0)));
			buf[off + 4] = 0xca;
			buf[off + 7] = 0xfe;
			off += 8;
		}
		*nh = g->proto;
	}
	if (!frag || g->frag_offset == 0)
		l4_checksum(6, buf, l4, l4len, g->proto);
	return total;
}

size_t pktgen_build(uint8_t *buf, size_t cap, const struct pktgen *g)
{
	size_t l2 = 14 + (g->vlan > 0 ? 4 : 0), ip;

	if (cap < l2)
		return 0;
	memcpy(buf, pktgen_lb_mac, 6);
	memcpy(buf + 6, pktgen_client_mac, 6);
	if (g->vlan > 0) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, (uint16_t)g->vlan);
		put16(buf + 16, g->family == 6 ? 0x86dd : 0x0800);
	} else {
		put16(buf + 12, g->family == 6 ? 0x86dd : 0x0800);
	}
	ip = pktgen_build_ip(buf + l2, cap - l2, g);
	if (!ip || l2 + ip + g->pad > cap)
		return 0;
	memset(buf + l2 + ip, 0, g->pad);
	return l2 + ip + g->pad;
}
