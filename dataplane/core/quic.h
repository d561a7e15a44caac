/* QUIC headers as a load balancer sees them: the invariant long/short forms and the server id Keel reads from a short header's connection ID. */
#ifndef KEEL_CORE_QUIC_H
#define KEEL_CORE_QUIC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The server id layout (docs/quic.md): the QUIC-LB draft's plaintext
 * algorithm (draft-ietf-quic-load-balancers, "Plaintext CID Algorithm") with
 * a fixed configuration:
 *
 *   DCID octet 0   bits 7..5: config rotation, must be 0 (0b111 = unroutable)
 *                  bits 4..0: free for the server (length self-encoding)
 *   DCID octets 1-2: server id, big-endian, 1..65535
 *   DCID octets 3..: the server's nonce (at least 4 more octets advised)
 *
 * A short header does not carry the DCID's length (RFC 9000 17.3), so the
 * load balancer reads only the octets it knows are there.
 */
#define KEEL_QUIC_SID_OFF 1   /* server id's offset in the destination connection ID */
#define KEEL_QUIC_SID_LEN 2
#define KEEL_QUIC_CR_SHIFT 5  /* config rotation: the top three bits of DCID octet 0 */
#define KEEL_QUIC_CR_KEEL 0   /* the one configuration Keel routes by */
#define KEEL_QUIC_SID_MIN 1   /* 0 is "none" in the configuration and the snapshot */
#define KEEL_QUIC_SID_MAX 65535

/* RFC 8999 5.1 / RFC 9000 17.2: a long header's DCID is at most 20 octets in v1, 255 in any version. */
#define KEEL_QUIC_V1_CID_MAX 20
#define KEEL_QUIC_VERSION_V1 0x00000001u
#define KEEL_QUIC_VERSION_V2 0x6b3343cfu /* RFC 9369 */

enum keel_quic_form {
	KEEL_QUIC_EMPTY = 0,   /* no UDP payload: nothing to read */
	KEEL_QUIC_LONG,        /* a long header (RFC 8999 5.1) */
	KEEL_QUIC_VERSION_NEG, /* a long header with version 0 (RFC 8999 6) */
	KEEL_QUIC_SHORT,       /* a short header with the server id octets present */
	KEEL_QUIC_TRUNCATED,   /* a header cut before what its form promises */
	KEEL_QUIC_MALFORMED,   /* a known version's long header with a CID longer than 20 */
};

/* The packet type of a long header, for versions whose types Keel knows (v1, v2). */
enum keel_quic_long_type {
	KEEL_QUIC_TYPE_UNKNOWN = 0, /* a version Keel does not know: only the invariants hold */
	KEEL_QUIC_TYPE_INITIAL,
	KEEL_QUIC_TYPE_0RTT,
	KEEL_QUIC_TYPE_HANDSHAKE,
	KEEL_QUIC_TYPE_RETRY,
};

struct keel_quic_hdr {
	uint8_t form;      /* enum keel_quic_form */
	uint8_t type;      /* enum keel_quic_long_type (long headers) */
	uint8_t dcid_len;  /* long headers: the DCID length on the wire */
	uint8_t scid_len;  /* long headers */
	uint32_t version;  /* long headers */
	uint16_t dcid_off; /* offset of the DCID in the UDP payload */
	uint16_t server_id;/* short headers: DCID octets 1-2 */
	uint8_t config_rotation; /* short headers: DCID octet 0 >> 5 */
};

/*
 * Read a QUIC header from a UDP payload of len octets. Never reads past
 * len; returns h->form. Only the version-independent parts are trusted
 * (RFC 8999): a long header with an unknown version is still a long header.
 */
enum keel_quic_form keel_quic_parse(const uint8_t *payload, size_t len, struct keel_quic_hdr *h);

/*
 * The packet core's question, on the hot path: the server id of a
 * short-header packet for the configuration Keel routes by, or 0 when the
 * packet is a long header, truncated, or names another configuration.
 */
static inline uint16_t keel_quic_server_id(const uint8_t *payload, size_t len)
{
	/* Octet 0 bit 7 is the header form (RFC 8999 5.2): 0 is a short header. */
	if (len < 1 + KEEL_QUIC_SID_OFF + KEEL_QUIC_SID_LEN || (payload[0] & 0x80))
		return 0;
	if ((payload[1] >> KEEL_QUIC_CR_SHIFT) != KEEL_QUIC_CR_KEEL)
		return 0;
	return (uint16_t)(payload[1 + KEEL_QUIC_SID_OFF] << 8 | payload[2 + KEEL_QUIC_SID_OFF]);
}

/* A short header (first octet's bit 7 clear) with a payload: what CID routing applies to. */
static inline int keel_quic_is_short(const uint8_t *payload, size_t len)
{
	return len >= 1 && !(payload[0] & 0x80);
}

#endif
