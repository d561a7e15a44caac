/* A client of BIRD's control socket: the numbered-line reply protocol, and "show protocols" read into session states. */
#ifndef KEEL_CONTROL_BGP_BIRD_H
#define KEEL_CONTROL_BGP_BIRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BGP_BIRD_NAME_MAX 64

struct bgp_bird_proto {
	char name[BGP_BIRD_NAME_MAX];
	char proto[16];  /* "BGP", "Kernel", "BFD", ... */
	char state[16];  /* "up", "start", "down", ... */
	char info[64];   /* "Established", "Active", "Connect", ... */
	bool up;         /* a BGP session that is Established */
};

/*
 * Parse a complete "show protocols" reply (BIRD's socket protocol: lines
 * "DDDD-text" or "DDDD text", continuation lines " text"; code 0000 ends a
 * good reply, codes 8000-9999 an error). Returns the number of protocols (at most
 * max stored), -EAGAIN when the reply is not complete yet, -EPROTO when it
 * is malformed or BIRD answered with an error.
 */
int bgp_bird_parse_protocols(const char *buf, size_t len, struct bgp_bird_proto *out, int max);

/*
 * Connect to the socket at path, read the greeting, ask "show protocols" and
 * parse it, all within timeout_ms (non-blocking I/O, one connection per call).
 * Returns the count or -errno; why says what failed in words.
 */
int bgp_bird_show_protocols(const char *path, int timeout_ms, struct bgp_bird_proto *out,
			    int max, char *why, size_t whylen);

/* A network in a "show route" reply: its address (the rest of the 16 bytes zero) and length. */
struct bgp_bird_net {
	uint8_t family; /* 4 or 6 (KEEL_AF_INET4/6) */
	uint8_t len;
	uint8_t addr[16];
};

/*
 * Parse a complete "show route export PROTOCOL" reply: code 1007 lines
 * (and their continuations) that start with a network ("192.0.2.1/32
 * blackhole [keel_kernel4 ...] * (10)"); "Table keel4:" headers, next-hop
 * lines and a second route of the same network (they start with
 * whitespace) are skipped. Returns the number of networks (at most max
 * stored), -EAGAIN when the reply is not complete yet, -EPROTO when it is
 * malformed, -EREMOTEIO when BIRD answered with an error (code 8000-9999:
 * "9001 No valid tables" when the peer's channel is down).
 */
int bgp_bird_parse_routes(const char *buf, size_t len, struct bgp_bird_net *out, int max);

/*
 * Ask "show route export PROTOCOL" (what BIRD sends the peer: its export
 * filter applied) over a new connection, within timeout_ms. Returns the
 * number of networks or -errno; why says what failed (BIRD's own words for
 * -EREMOTEIO).
 */
int bgp_bird_show_export(const char *path, const char *protocol, int timeout_ms,
			 struct bgp_bird_net *out, int max, char *why, size_t whylen);

#endif
