/* Writes the fuzzers' seed corpus: crafted frames of every kind the unit tests use, one file each. */
#include <stdio.h>
#include <string.h>

#include "../unit/pktgen.h"

/*
 * Seed n: the steering byte, then g's frame. patch, when not NULL, edits the
 * frame first (len bytes at frame) for what pktgen cannot build.
 */
static int emit_patched(const char *dir, int n, const struct pktgen *g, uint8_t steer,
			void (*patch)(uint8_t *frame, size_t len))
{
	uint8_t buf[2048];
	char path[512];
	size_t len;
	FILE *f;

	buf[0] = steer;
	len = pktgen_build(buf + 1, sizeof(buf) - 1, g);
	if (!len)
		return -1;
	if (patch)
		patch(buf + 1, len);
	snprintf(path, sizeof(path), "%s/seed-%03d", dir, n);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(buf, 1, len + 1, f);
	return fclose(f);
}

static int emit(const char *dir, int n, const struct pktgen *g, uint8_t steer)
{
	return emit_patched(dir, n, g, steer, NULL);
}

/* pktgen's 8-byte Hop-by-Hop header (untagged IPv6) made a Routing header: type, Segments Left. */
static void routing(uint8_t *f, uint8_t type, uint8_t segments_left)
{
	f[14 + 6] = 43;
	f[14 + 40 + 2] = type;
	f[14 + 40 + 3] = segments_left;
}

static void rh0(uint8_t *f, size_t len)
{
	(void)len;
	routing(f, 0, 0);
}

static void rh4_left(uint8_t *f, size_t len)
{
	(void)len;
	routing(f, 4, 1);
}

static void rh4_spent(uint8_t *f, size_t len)
{
	(void)len;
	routing(f, 4, 0);
}

int main(int argc, char **argv)
{
	const struct pktgen seeds[] = {
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80, .tcp_flags = 0x02 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80, .payload_len = 100 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80, .tcp_flags = 0x11 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 1, .dport = 80, .ip4_opt_len = 8, .vlan = 10 },
		{ .family = 4, .src = "198.51.100.2", .dst = "192.0.2.10", .proto = 17, .sport = 5353, .dport = 9999, .payload_len = 64 },
		{ .family = 4, .src = "198.51.100.2", .dst = "192.0.2.10", .proto = 17, .sport = 5353, .dport = 9999, .payload_len = 64, .more_frags = 1 },
		{ .family = 4, .src = "198.51.100.2", .dst = "192.0.2.10", .proto = 17, .payload_len = 64, .frag_offset = 9 },
		{ .family = 4, .src = "198.51.100.2", .dst = "192.0.2.10", .proto = 1, .icmp_type = 8, .payload_len = 56 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80, .payload_len = 1460, .df = 1 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.11", .proto = 6, .sport = 40000, .dport = 8080, .pad = 10 },
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.12", .proto = 6, .sport = 40000, .dport = 22 },
		{ .family = 4, .src = "198.51.100.1", .dst = "203.0.113.1", .proto = 6, .sport = 40000, .dport = 22 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 6, .sport = 40000, .dport = 443, .tcp_flags = 0x02 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 17, .sport = 40000, .dport = 53, .payload_len = 30, .ip6_hbh_len = 1 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 17, .sport = 40000, .dport = 53, .payload_len = 30, .ip6_frag_hdr = 1, .more_frags = 1 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 17, .payload_len = 30, .ip6_frag_hdr = 1, .frag_offset = 20 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 58, .icmp_type = 128, .payload_len = 56 },
		{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 6, .sport = 40000, .dport = 443, .payload_len = 1440 },
		/* Issue 14: reserved VLAN, scoped sources, an echo past the MTU. */
		{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80, .vlan = 0xfff },
		{ .family = 6, .src = "fe80::1", .dst = "2001:db8::10", .proto = 6, .sport = 40000, .dport = 443 },
		{ .family = 6, .src = "::", .dst = "2001:db8::10", .proto = 58, .icmp_type = 128, .payload_len = 8 },
		{ .family = 6, .src = "::ffff:198.51.100.1", .dst = "2001:db8::10", .proto = 6, .sport = 40000, .dport = 443 },
		{ .family = 4, .src = "169.254.0.1", .dst = "192.0.2.10", .proto = 6, .sport = 40000, .dport = 80 },
		{ .family = 4, .src = "198.51.100.2", .dst = "192.0.2.10", .proto = 1, .icmp_type = 8, .payload_len = 1600 },
	};
	const char *dir = argc > 1 ? argv[1] : ".";
	unsigned int i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (emit(dir, (int)i, &seeds[i], (uint8_t)(i * 7)))
			return 1;
	/* An ICMPv6 packet too big quoting a first fragment of the VIP's reply (issue 14 item 5). */
	{
		const struct pktgen q = { .family = 6, .src = "2001:db8::10", .dst = "2001:db8:f::1",
					  .proto = 6, .sport = 443, .dport = 40000, .payload_len = 16,
					  .ip6_frag_hdr = 1, .more_frags = 1 };
		uint8_t l4[8 + 128] = { 2, 0, 0, 0, 0, 0, 0x05, 0x00 };
		size_t n = pktgen_build_ip(l4 + 8, sizeof(l4) - 8, &q);
		struct pktgen e = { .family = 6, .src = "2001:db8:ffff::1", .dst = "2001:db8::10",
				    .proto = 58, .icmp_type = 2, .l4_override = l4,
				    .l4_override_len = (uint16_t)(8 + n) };

		if (!n || emit(dir, (int)i, &e, 0x80))
			return 1;
	}
	/* Mid-connection segments to the second-chance VIPs (fixture.c 6, 7): IPv6 and IPv4 previous owners. */
	{
		const struct pktgen sc[] = {
			{ .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 6, .sport = 40001, .dport = 8443, .tcp_flags = 0x10, .payload_len = 33 },
			{ .family = 4, .src = "198.51.100.1", .dst = "192.0.2.10", .proto = 6, .sport = 40001, .dport = 9000, .tcp_flags = 0x18, .payload_len = 20 },
		};

		for (unsigned int j = 0; j < 2; j++)
			if (emit(dir, (int)(i + 1 + j), &sc[j], 0x80))
				return 1;
	}
	/* Issue 20 item 15: Routing headers of type 0, with a segment left, and spent. */
	{
		const struct pktgen g = { .family = 6, .src = "2001:db8:f::1", .dst = "2001:db8::10", .proto = 6,
					  .sport = 40000, .dport = 443, .tcp_flags = 0x10, .ip6_hbh_len = 1 };

		if (emit_patched(dir, (int)i + 3, &g, 0x80, rh0) || emit_patched(dir, (int)i + 4, &g, 0x80, rh4_left) ||
		    emit_patched(dir, (int)i + 5, &g, 0x80, rh4_spent))
			return 1;
	}
	/* Issue 20 item 14: a frag-needed quoting a VIP connection, to a non-VIP address and to another VIP. */
	{
		const struct pktgen q = { .family = 4, .src = "192.0.2.10", .dst = "198.51.100.1", .proto = 6,
					  .sport = 80, .dport = 40000, .tcp_flags = 0x10 };
		uint8_t l4[8 + 28] = { 3, 4, 0, 0, 0, 0, 0x05, 0x00 };
		uint8_t ip[128];
		struct pktgen e = { .family = 4, .src = "203.0.113.254", .dst = "203.0.113.1", .proto = 1,
				    .icmp_type = 3, .icmp_code = 4, .l4_override = l4, .l4_override_len = sizeof(l4) };

		if (pktgen_build_ip(ip, sizeof(ip), &q) < 28)
			return 1;
		memcpy(l4 + 8, ip, 28);
		if (emit(dir, (int)i + 6, &e, 0x80))
			return 1;
		e.dst = "192.0.2.11";
		if (emit(dir, (int)i + 7, &e, 0x80))
			return 1;
	}
	return 0;
}
