/* libFuzzer harness: what the health checker reads from backends (HTTP status lines, DNS answers, UDP answers, tunnel probes' TCP answers), and its DNS query encoder, on arbitrary bytes. */
#include <arpa/nameser.h>
#include <errno.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health_probe.h"
#include "health_tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copies of exactly size bytes: ASan catches any read past the answer. */
	uint8_t *buf = malloc(size ? size : 1);
	const char *detail = NULL;
	char name[300];
	uint8_t q[HEALTH_PROBE_REQ_MAX];
	uint16_t status = 0, id, qtype;
	int rc;

	if (!buf)
		abort();
	memcpy(buf, data, size);

	/* An HTTP status line (what HTTP and HTTPS checks parse). */
	rc = health_probe_parse_status((const char *)buf, size, &status);
	if (rc != 0 && rc != -EAGAIN && rc != -EBADMSG)
		abort();
	if (rc == 0 && (status < 100 || status > 599))
		abort();

	/* A DNS answer, with the id taken from it so the deeper checks are reached. */
	id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	qtype = size ? (data[size - 1] & 1 ? 1 : 28) : 1;
	rc = health_probe_dns_check(buf, size, id, qtype, &detail);
	if (rc != 0 && rc != -EBADMSG && rc != -ENOENT)
		abort();
	if (rc != 0 && !detail)
		abort();

	/*
	 * A tunnel probe's answer (an IPv4 packet read from the raw socket), for a
	 * flow taken from the packet itself so that the ports and ack checks are reached.
	 */
	if (size >= 40) {
		struct health_tunnel_flow f = { 0 };

		memcpy(f.vip, data + 12, 4);
		memcpy(f.src, data + 16, 4);
		f.dport = (uint16_t)(data[20] << 8 | data[21]);
		f.sport = (uint16_t)(data[22] << 8 | data[23]);
		f.seq = ((uint32_t)data[28] << 24 | (uint32_t)data[29] << 16 |
			 (uint32_t)data[30] << 8 | data[31]) - 1;
		rc = health_tunnel_answer(buf, size, &f);
		if (rc < 0 || rc > 2)
			abort();
	} else if (health_tunnel_answer(buf, size, &(struct health_tunnel_flow){ 0 }) != 0) {
		abort(); /* shorter than IPv4 + TCP headers: never an answer */
	}

	/* A UDP answer against an expectation cut from the same bytes. */
	(void)health_probe_udp_ok(buf, size, buf + size / 2, size - size / 2);

	/* The query encoder on any name: what it writes must parse back as one question. */
	memcpy(name, data, size < sizeof(name) - 1 ? size : sizeof(name) - 1);
	name[size < sizeof(name) - 1 ? size : sizeof(name) - 1] = '\0';
	rc = health_probe_dns_query(name, qtype, id, q, sizeof(q));
	if (rc > 0) {
		ns_msg m;

		if (rc > (int)sizeof(q) || ns_initparse(q, rc, &m) < 0 || ns_msg_count(m, ns_s_qd) != 1)
			abort();
	}
	free(buf);
	return 0;
}
