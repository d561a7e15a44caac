/* The case-table runner: build each row's frame, apply its edits, run the stage, compare verdict, metadata and bytes. */
#include "pkt_case.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

/* The frame's buffer: as the unit tests' own (2048 bytes, 128 of them headroom for encapsulation). */
#define PKT_CASE_MEM 2048
#define PKT_CASE_HEADROOM 128
#define PKT_CASE_CAP (PKT_CASE_MEM - PKT_CASE_HEADROOM)

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static uint16_t get16(const uint16_t *netorder)
{
	const uint8_t *b = (const uint8_t *)netorder;

	return (uint16_t)(b[0] << 8 | b[1]);
}

static void edit(const struct pkt_case *c, const struct pkt_edit *e, uint8_t *buf, size_t len)
{
	if (e->off >= len || (e->op == PKT_EDIT_SET16 && e->off + 2u > len) ||
	    (e->op == PKT_EDIT_FILL && e->off + (size_t)e->val2 > len)) {
		print_error("case '%s': edit at %u past the frame (%zu bytes)\n", c->what, e->off, len);
		fail();
	}
	switch (e->op) {
	case PKT_EDIT_SET8:
		buf[e->off] = (uint8_t)e->val;
		break;
	case PKT_EDIT_XOR8:
		buf[e->off] ^= (uint8_t)e->val;
		break;
	case PKT_EDIT_OR8:
		buf[e->off] |= (uint8_t)e->val;
		break;
	case PKT_EDIT_SUB8:
		buf[e->off] = (uint8_t)(buf[e->off] - e->val);
		break;
	case PKT_EDIT_SET16:
		put16(buf + e->off, e->val);
		break;
	case PKT_EDIT_FILL:
		memset(buf + e->off, e->val, e->val2);
		break;
	case PKT_EDIT_IP4_CSUM: {
		uint8_t *ip = buf + e->off;

		ip[10] = ip[11] = 0;
		put16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
		break;
	}
	default:
		break;
	}
}

size_t pkt_case_build(const struct pkt_case *c, uint8_t *buf, size_t cap)
{
	size_t len, i;

	if (c->in.family) {
		len = pktgen_build(buf, cap, &c->in);
	} else {
		len = c->raw_len <= cap ? c->raw_len : 0;
		if (len)
			memcpy(buf, c->raw, len);
	}
	if (!len) {
		print_error("case '%s': the input does not build\n", c->what);
		fail();
	}
	for (i = 0; i < PKT_CASE_EDITS && c->edit[i].op != PKT_EDIT_NONE; i++)
		edit(c, &c->edit[i], buf, len);
	if (c->len > 0)
		len = (size_t)(c->len - 1);
	else if (c->len < 0)
		len -= (size_t)-c->len;
	return len;
}

#define META(bit, got, want)                                                                      \
	do {                                                                                      \
		if ((m->has & (bit)) && (uint32_t)(got) != (uint32_t)(want)) {                    \
			print_error("case '%s': %s is %u, want %u\n", c->what, #got, (unsigned)(got), \
				    (unsigned)(want));                                            \
			fail();                                                                   \
		}                                                                                 \
	} while (0)

static void check_meta(const struct pkt_case *c, const struct keel_pkt *p)
{
	const struct pkt_meta *m = &c->pkt;

	META(PM_FLAGS, p->flags, m->flags);
	META(PM_L3_OFF, p->l3_off, m->l3_off);
	META(PM_L4_OFF, p->l4_off, m->l4_off);
	META(PM_L3_LEN, p->l3_len, m->l3_len);
	META(PM_SPORT, get16(&p->key.sport), m->sport);
	META(PM_DPORT, get16(&p->key.dport), m->dport);
	META(PM_PROTO, p->key.proto, m->proto);
	META(PM_FAMILY, p->key.family, m->family);
	META(PM_TCP_FLAGS, p->tcp_flags, m->tcp_flags);
	META(PM_ICMP_TYPE, p->icmp_type, m->icmp_type);
	META(PM_ICMP_CODE, p->icmp_code, m->icmp_code);
	META(PM_VLAN_TCI, p->vlan_tci, m->vlan_tci);
	if (m->has & PM_SRC) {
		uint8_t want[16];

		pktgen_addr(c->in.family, c->in.src, want);
		if (memcmp(p->key.src, want, 16)) {
			print_error("case '%s': key.src is not %s\n", c->what, c->in.src);
			fail();
		}
	}
}

static void check_out(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p,
		      const uint8_t *input)
{
	uint8_t want[PKT_CASE_CAP], got[PKT_CASE_CAP];
	size_t n = c->out_len;

	if (c->out_mode == PKT_OUT_THEN_INNER) {
		if (n + p->l3_len > sizeof(want)) {
			print_error("case '%s': expected output too long\n", c->what);
			fail();
		}
		memcpy(want + n, input + p->l3_off, p->l3_len);
		n += p->l3_len;
	}
	memcpy(want, c->out, c->out_len);
	if (c->out_ip4_csum) {
		uint8_t *ip = want + c->out_ip4_csum - 1;

		ip[10] = ip[11] = 0;
		put16(ip + 10, pktgen_csum(ip, (size_t)(ip[0] & 0x0f) * 4));
	}
	if (b->len != n) {
		print_error("case '%s': output of %u bytes, want %zu\n", c->what, b->len, n);
		fail();
	}
	memcpy(got, b->data, n);
	if (c->out_skip) {
		got[c->out_skip - 1] = want[c->out_skip - 1];
		got[c->out_skip] = want[c->out_skip];
	}
	if (memcmp(got, want, n)) {
		size_t i;

		for (i = 0; i < n && got[i] == want[i]; i++)
			;
		print_error("case '%s': output byte %zu is 0x%02x, want 0x%02x\n", c->what, i, got[i], want[i]);
		fail();
	}
}

void pkt_case_run(const struct pkt_case *cases, size_t n, pkt_case_stage stage, void *ctx)
{
	static uint8_t mem[PKT_CASE_MEM];
	static uint8_t input[PKT_CASE_CAP];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct pkt_case *c = &cases[i];
		uint8_t *frame = mem + PKT_CASE_HEADROOM;
		size_t len;
		struct keel_buf b;
		struct keel_pkt p;
		int got;

		memset(mem, 0, sizeof(mem));
		len = pkt_case_build(c, frame, PKT_CASE_CAP);
		memcpy(input, frame, len);
		b = (struct keel_buf){
			.data = frame, .len = (uint16_t)len, .headroom = PKT_CASE_HEADROOM,
			.tailroom = (uint16_t)(PKT_CASE_CAP - len),
		};
		memset(&p, 0, sizeof(p));
		got = stage(c, &b, &p, ctx);
		if (got != c->want) {
			print_error("case '%s': verdict %d, want %d\n", c->what, got, c->want);
			fail();
		}
		check_meta(c, &p);
		if (c->out_mode == PKT_OUT_UNCHANGED && (b.len != len || memcmp(b.data, input, len))) {
			print_error("case '%s': the frame changed\n", c->what);
			fail();
		}
		if (c->out)
			check_out(c, &b, &p, input);
		if (c->check)
			c->check(c, &b, &p, ctx);
	}
}
