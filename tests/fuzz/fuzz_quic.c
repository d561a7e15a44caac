/* libFuzzer harness for the QUIC header readers: any bytes as a UDP payload, read only within their length, the two readers agreeing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that ASan sees any read past the payload. */
	uint8_t *p = malloc(size ? size : 1);
	struct keel_quic_hdr h;
	enum keel_quic_form f;
	uint16_t sid;

	if (!p)
		return 0;
	memcpy(p, data, size);
	f = keel_quic_parse(p, size, &h);
	sid = keel_quic_server_id(p, size);
	/* The hot path's reader must name a server exactly when the parser reads Keel's configuration. */
	if (sid != (f == KEEL_QUIC_SHORT && h.config_rotation == KEEL_QUIC_CR_KEEL ? h.server_id : 0))
		abort();
	/* A long header's CIDs lie within the payload. */
	if ((f == KEEL_QUIC_LONG || f == KEEL_QUIC_VERSION_NEG) &&
	    (size_t)h.dcid_off + h.dcid_len + 1 + h.scid_len > size)
		abort();
	free(p);
	return 0;
}
