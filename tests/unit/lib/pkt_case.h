/* Crafted-packet cases as tables: one row per case (input, byte edits, expected verdict, metadata and output bytes), one runner for every stage. */
#ifndef KEEL_TEST_PKT_CASE_H
#define KEEL_TEST_PKT_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "pktgen.h"

/*
 * Rows are written as a base generator with a few fields changed, e.g.
 * .in = TCP4(.vlan = 5): the later designated initializer wins (C11 6.7.9),
 * which is the point here, so the compilers' warning about it is off in the
 * files that include this header (tests only).
 */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

/* A byte edit made after the frame is built (offsets from the Ethernet header). */
enum pkt_edit_op {
	PKT_EDIT_NONE = 0,
	PKT_EDIT_SET8,     /* frame[off] = val */
	PKT_EDIT_XOR8,     /* frame[off] ^= val */
	PKT_EDIT_OR8,      /* frame[off] |= val */
	PKT_EDIT_SUB8,     /* frame[off] -= val */
	PKT_EDIT_SET16,    /* big-endian val at off */
	PKT_EDIT_FILL,     /* val2 bytes of val from off */
	PKT_EDIT_IP4_CSUM, /* recompute the IPv4 header checksum of the header at off */
};

struct pkt_edit {
	uint8_t op;
	uint16_t off;
	uint16_t val;
	uint16_t val2;
};

#define PKT_CASE_EDITS 4

#define SET8(o, v) { PKT_EDIT_SET8, (o), (v), 0 }
#define XOR8(o, v) { PKT_EDIT_XOR8, (o), (v), 0 }
#define OR8(o, v) { PKT_EDIT_OR8, (o), (v), 0 }
#define SUB8(o, v) { PKT_EDIT_SUB8, (o), (v), 0 }
#define SET16(o, v) { PKT_EDIT_SET16, (o), (v), 0 }
#define FILL(o, v, n) { PKT_EDIT_FILL, (o), (v), (n) }
#define IP4_CSUM(o) { PKT_EDIT_IP4_CSUM, (o), 0, 0 }

/* Which fields of struct pkt_meta a row checks against the keel_pkt the stage leaves. */
#define PM_FLAGS (1u << 0)
#define PM_L3_OFF (1u << 1)
#define PM_L4_OFF (1u << 2)
#define PM_L3_LEN (1u << 3)
#define PM_SPORT (1u << 4)
#define PM_DPORT (1u << 5)
#define PM_PROTO (1u << 6)
#define PM_FAMILY (1u << 7)
#define PM_TCP_FLAGS (1u << 8)
#define PM_ICMP_TYPE (1u << 9)
#define PM_ICMP_CODE (1u << 10)
#define PM_VLAN_TCI (1u << 11)
#define PM_SRC (1u << 12)  /* src: the pktgen input's own source address */

struct pkt_meta {
	uint32_t has;             /* PM_* */
	uint8_t flags;
	uint16_t l3_off, l4_off, l3_len;
	uint16_t sport, dport;    /* host order */
	uint8_t proto, family, tcp_flags, icmp_type, icmp_code;
	uint16_t vlan_tci;
};

struct pkt_case;

/* Further asserts for a row that a table cannot say (b: the frame after the stage; ctx: the stage's own state). */
typedef void (*pkt_case_check)(const struct pkt_case *c, const struct keel_buf *b, const struct keel_pkt *p,
			       void *ctx);

/* How out is compared with the frame the stage leaves. */
enum pkt_out_mode {
	PKT_OUT_EXACT = 0,   /* the whole frame is out */
	PKT_OUT_THEN_INNER,  /* out, then the input's IP packet (p->l3_off, p->l3_len) unchanged: encapsulation */
	PKT_OUT_UNCHANGED,   /* the frame as built, byte for byte (out unused): a refusal */
};

/*
 * One case. The input is in (pktgen.c) when in.family is set, else raw.
 * len: 0 keeps the built length; PKT_LEN(n) cuts the frame to n bytes;
 * PKT_LESS(n) takes n bytes off its end. arg: the row's parameters for its
 * stage (a backend, an encapsulation). out_ip4_csum: PKT_AT(offset) of an
 * IPv4 header in out whose checksum the runner computes before comparing;
 * out_skip: PKT_AT(offset) of two bytes left out of the comparison (a
 * checksum a check function tests on its own).
 */
struct pkt_case {
	const char *what;
	struct pktgen in;
	const uint8_t *raw;
	uint16_t raw_len;
	struct pkt_edit edit[PKT_CASE_EDITS];
	int32_t len;
	const void *arg;
	int want;                 /* the stage's verdict, e.g. an enum keel_drop */
	struct pkt_meta pkt;      /* checked when pkt.has != 0 */
	const uint8_t *out;       /* expected output bytes, when set */
	uint16_t out_len;
	uint8_t out_mode;         /* enum pkt_out_mode */
	uint16_t out_ip4_csum;
	uint16_t out_skip;
	pkt_case_check check;
};

#define PKT_AT(off) ((uint16_t)((off) + 1))
#define PKT_OUT(a) .out = (a), .out_len = sizeof(a)
#define PKT_LEN(n) ((int32_t)(n) + 1)
#define PKT_LESS(n) (-(int32_t)(n))

/*
 * The stage under test: run it on row c's frame (in a buffer with headroom
 * and tailroom as b describes), fill p with what the parse found, and return
 * the verdict. It may rewrite b (encap, ICMP).
 */
typedef int (*pkt_case_stage)(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx);

/* Build c's input frame into buf (cap bytes); returns its length after edits and cuts. */
size_t pkt_case_build(const struct pkt_case *c, uint8_t *buf, size_t cap);

/* Run every case of the table through stage; a failing case is named by its what. */
void pkt_case_run(const struct pkt_case *cases, size_t n, pkt_case_stage stage, void *ctx);

#define PKT_CASES(t) (t), sizeof(t) / sizeof((t)[0])

#endif
