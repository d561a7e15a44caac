/* Reading QUIC headers (RFC 8999 invariants, RFC 9000 17, RFC 9369 3.2) from a UDP payload, bounded by its length. */
#include "quic.h"

#include <string.h>

#include "wire.h"

/* Long header types by their two type bits: RFC 9000 17.2 (v1) and RFC 9369 3.2 (v2). */
static const uint8_t v1_types[4] = { KEEL_QUIC_TYPE_INITIAL, KEEL_QUIC_TYPE_0RTT,
				     KEEL_QUIC_TYPE_HANDSHAKE, KEEL_QUIC_TYPE_RETRY };
static const uint8_t v2_types[4] = { KEEL_QUIC_TYPE_RETRY, KEEL_QUIC_TYPE_INITIAL,
				     KEEL_QUIC_TYPE_0RTT, KEEL_QUIC_TYPE_HANDSHAKE };

static enum keel_quic_form parse_long(const uint8_t *p, size_t len, struct keel_quic_hdr *h)
{
	size_t off;

	/* RFC 8999 5.1: form octet, 32-bit version, DCID length, DCID, SCID length, SCID. */
	if (len < 6)
		return h->form = KEEL_QUIC_TRUNCATED;
	h->version = wire_get32(p + 1);
	h->dcid_len = p[5];
	h->dcid_off = 6;
	off = 6 + (size_t)h->dcid_len;
	if (len < off + 1)
		return h->form = KEEL_QUIC_TRUNCATED;
	h->scid_len = p[off];
	if (len < off + 1 + h->scid_len)
		return h->form = KEEL_QUIC_TRUNCATED;
	if (h->version == 0)
		return h->form = KEEL_QUIC_VERSION_NEG; /* RFC 8999 6: no type bits, any CID lengths */
	if (h->version == KEEL_QUIC_VERSION_V1 || h->version == KEEL_QUIC_VERSION_V2) {
		/* RFC 9000 17.2: a v1 endpoint drops a long header with a CID over 20 octets. */
		if (h->dcid_len > KEEL_QUIC_V1_CID_MAX || h->scid_len > KEEL_QUIC_V1_CID_MAX)
			return h->form = KEEL_QUIC_MALFORMED;
		h->type = (h->version == KEEL_QUIC_VERSION_V1 ? v1_types : v2_types)[(p[0] >> 4) & 3];
	}
	return h->form = KEEL_QUIC_LONG;
}

enum keel_quic_form keel_quic_parse(const uint8_t *payload, size_t len, struct keel_quic_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (len == 0)
		return h->form = KEEL_QUIC_EMPTY;
	if (payload[0] & 0x80)
		return parse_long(payload, len, h);
	/* RFC 8999 5.2: a short header is the form octet then the DCID, of a length only the endpoints know. */
	h->dcid_off = 1;
	if (len < 1 + KEEL_QUIC_SID_OFF + KEEL_QUIC_SID_LEN)
		return h->form = KEEL_QUIC_TRUNCATED;
	h->config_rotation = (uint8_t)(payload[1] >> KEEL_QUIC_CR_SHIFT);
	h->server_id = wire_get16(payload + 1 + KEEL_QUIC_SID_OFF);
	return h->form = KEEL_QUIC_SHORT;
}
