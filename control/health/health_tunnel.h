/* Health checks through Keel's encapsulation: a TCP half-open probe to VIP:port, encapsulated to the backend by the dataplane's own encap code. */
#ifndef KEEL_CONTROL_HEALTH_TUNNEL_H
#define KEEL_CONTROL_HEALTH_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "health.h"

/*
 * A `via: tunnel` check (docs/health.md) asks what a client's packet meets:
 * keel-control builds the SYN a client would send to VIP:port, from this
 * host's address towards the backend, encapsulates it with encap_packet()
 * (dataplane/core/encap.c, the dataplane's code, linked from the packet core)
 * with the outer source, TTL, GUE port and MTU the dataplane uses, and sends
 * the outer packet to the backend on a raw IPv4 socket. The backend's
 * keel-decap strips the outer header; its kernel, with the VIP on lo, answers
 * the SYN with a SYN-ACK straight to our address (DSR), or a RST when nothing
 * listens. The same raw socket (IPPROTO_TCP: it gets a copy of the TCP
 * segments the host receives), bound to our address and connected to the VIP
 * so that the kernel queues only segments from the VIP to us, receives it; the
 * probe checks the ports and ack = our seq + 1. SYN-ACK: OK; RST: REFUSED; nothing by the
 * timeout: TIMEOUT. The host's kernel has no socket for the SYN-ACK and
 * answers it with a RST, which closes the half-open connection on the backend.
 *
 * One socket per probe, in the checker's in-flight budget like every probe.
 * IPv4 VIPs and backends, TCP checks only (an HTTP exchange would need a TCP
 * stack in keel-control). Needs CAP_NET_RAW.
 */

/*
 * The dataplane's output parameters the probe is encapsulated with (from the
 * configuration, as plan/spec.c gives them to the snapshot builder; a zero
 * TTL, GUE port or MTU means the builder's default, 64, 6080, 1500).
 */
struct health_tunnel_conf {
	uint8_t src4[4];   /* outer source prefix (encap_source); 0.0.0.0/32: the kernel picks */
	uint8_t src4_plen; /* 0..32 */
	uint8_t ttl;       /* outer TTL; 0: 64, as the snapshot builder */
	uint16_t gue_port; /* host byte order */
	uint16_t mtu;      /* largest outer IP packet */
};

/* One probe's flow: inner source (ours) and destination (the VIP), outer destination (the backend). */
struct health_tunnel_flow {
	uint8_t src[4];     /* this host's address towards the backend: the SYN-ACK comes back to it */
	uint8_t vip[4];
	uint8_t backend[4];
	uint16_t sport, dport; /* host byte order */
	uint32_t seq;
	uint8_t encap;      /* KEEL_ENCAP_IPIP or KEEL_ENCAP_GUE */
	uint8_t src_uses;   /* health_tunnel_open: probes sent from src since it was looked up; 0 = look up */
};

/* Bytes of the inner SYN: IPv4 20 + TCP 20 + MSS option 4. */
#define HEALTH_TUNNEL_SYN_LEN 44
/* Largest outer packet built: outer IPv4 20 + UDP 8 + GUE 4 + the SYN. */
#define HEALTH_TUNNEL_PKT_MAX (20 + 8 + 4 + HEALTH_TUNNEL_SYN_LEN)

/*
 * Writes the inner SYN of f (IPv4 header with DF, TTL 64; TCP SYN with an MSS
 * option that fits the tunnel) into out. Returns its length.
 */
size_t health_tunnel_syn(uint8_t out[HEALTH_TUNNEL_SYN_LEN], const struct health_tunnel_flow *f,
			 uint16_t mss);

/*
 * Builds the outer IPv4 packet (no Ethernet header) of f's SYN encapsulated as
 * the dataplane does, with entropy as the flow's entropy (the outer source's
 * host bits, the GUE source port). Returns its length, or -EINVAL (the outer
 * packet would not fit conf->mtu, or encap_packet() refused it).
 */
int health_tunnel_build(uint8_t *out, size_t size, const struct health_tunnel_conf *conf,
			const struct health_tunnel_flow *f, uint32_t entropy);

/*
 * Classifies a received IPv4 packet (from its IP header) as the answer to f:
 * 1 a SYN-ACK acknowledging our SYN, 2 a RST acknowledging it, 0 anything else.
 */
int health_tunnel_answer(const uint8_t *pkt, size_t len, const struct health_tunnel_flow *f);

/*
 * Opens p's raw socket (non-blocking, CLOEXEC, bound to the answer's addresses),
 * picks the inner source (the kernel's source address towards t's backend,
 * kept in *f for the target's next probes: *f persists between them, zero at
 * first), a port and a sequence number into *f, and sends the encapsulated SYN. Returns
 * the socket, or -errno (the socket closed): -EPERM without CAP_NET_RAW,
 * -EMSGSIZE and routing errors from sendto().
 */
int health_tunnel_open(const struct health_target *t, const struct health_tunnel_conf *conf,
		       struct health_tunnel_flow *f, uint64_t now_ns);

/*
 * Reads what fd holds until it is empty: 1 the SYN-ACK came, 2 a RST came,
 * 0 nothing of ours yet (wait), -errno on a read error.
 */
int health_tunnel_recv(int fd, const struct health_tunnel_flow *f);

#endif /* KEEL_CONTROL_HEALTH_TUNNEL_H */
