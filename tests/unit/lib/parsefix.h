/* What the parse tests (test_parse*.c) share: the parse stage run with its invariants checked, and their frames. */
#ifndef KEEL_TEST_PARSEFIX_H
#define KEEL_TEST_PARSEFIX_H

#include <stddef.h>
#include <stdint.h>

#include "drop.h"
#include "pkt.h"
#include "pktgen.h"

#define PARSEFIX_BUF_CAP 2048

/*
 * keel_parse on an exactly-sized heap copy of frame (ASan flags any read
 * past it), into a keel_pkt pre-filled with garbage; fails the test unless
 * p->vip comes back untouched and an accepted packet keeps every invariant.
 */
enum keel_drop parsefix_parse(const uint8_t *frame, size_t len, struct keel_pkt *p);
/* The frame of g into buf (PARSEFIX_BUF_CAP bytes); its length, or the test fails. */
size_t parsefix_build(uint8_t *buf, const struct pktgen *g);
/* A TCP SYN over IPv4 and a TCP ACK with 10 bytes over IPv6, client to server. */
struct pktgen parsefix_tcp4(void);
struct pktgen parsefix_tcp6(void);
/* Big-endian 16 bits, written and read. */
void parsefix_put16(uint8_t *b, uint16_t v);
uint16_t parsefix_get16(const uint16_t *netorder);
/* got holds the address text of family (16 bytes, IPv4 in the first 4). */
void parsefix_assert_addr(const uint8_t got[16], int family, const char *text);

#endif
