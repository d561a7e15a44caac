/* Tunnel health probes: the SYN a client would send, encapsulated by the dataplane's encap_packet(), sent and answered on one raw socket. */
#include "health_tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The packet core (dataplane/core/): the same parser, encapsulation and hash as the dataplane. */
#include "csum.h"
#include "encap.h"
#include "hash.h"
#include "parse.h"
#include "pkt.h"
#include "snapshot.h"
#include "wire.h"

#define INNER_TTL 64
#define SYN_WINDOW 64240
#define EPH_BASE 32768u /* Linux's default ip_local_port_range */
#define EPH_SPAN 28232u
#define SOURCE_REUSE 64 /* probes of a target between two source look-ups */

size_t health_tunnel_syn(uint8_t out[HEALTH_TUNNEL_SYN_LEN], const struct health_tunnel_flow *f,
			 uint16_t mss)
{
	uint8_t *ip = out, *tcp = out + 20;
	uint32_t sum;

	memset(out, 0, HEALTH_TUNNEL_SYN_LEN);
	ip[0] = 0x45;
	wire_put16(ip + 2, HEALTH_TUNNEL_SYN_LEN);
	ip[6] = 0x40; /* DF, as a client's SYN; ID 0 (RFC 6864 4.1) */
	ip[8] = INNER_TTL;
	ip[9] = KEEL_PROTO_TCP;
	memcpy(ip + 12, f->src, 4);
	memcpy(ip + 16, f->vip, 4);
	csum_store(ip + 10, csum_ip4_header(ip, 20));

	wire_put16(tcp, f->sport);
	wire_put16(tcp + 2, f->dport);
	wire_put32(tcp + 4, f->seq);
	tcp[12] = 6 << 4; /* data offset: 24 bytes */
	tcp[13] = KEEL_TCP_SYN;
	wire_put16(tcp + 14, SYN_WINDOW);
	/* MSS (RFC 9293 3.7.1): segments that fit the tunnel, so the backend's answer would too. */
	tcp[20] = 2;
	tcp[21] = 4;
	wire_put16(tcp + 22, mss);
	sum = csum_pseudo4(f->src, f->vip, KEEL_PROTO_TCP, 24);
	csum_store(tcp + 16, csum_fold(csum_add_bytes(sum, tcp, 24)));
	return HEALTH_TUNNEL_SYN_LEN;
}

/* The header fields of a snapshot the dataplane would run with conf: all encap_packet() reads of it. */
static void tunnel_snapshot(struct keel_snapshot *s, const struct health_tunnel_conf *conf)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->src4, conf->src4, 4);
	s->src4_plen = conf->src4_plen;
	/* Zero means keel_snapshot_build()'s default, there as here. */
	s->ttl = conf->ttl ? conf->ttl : 64;
	s->gue_port = conf->gue_port ? conf->gue_port : ENCAP_GUE_DEFAULT_PORT;
	s->mtu = conf->mtu ? conf->mtu : 1500;
}

int health_tunnel_build(uint8_t *out, size_t size, const struct health_tunnel_conf *conf,
			const struct health_tunnel_flow *f, uint32_t entropy)
{
	/* Ethernet header room for encap_packet(): it writes one, the kernel adds its own. */
	uint8_t frame[WIRE_ETH_HLEN + 8 + HEALTH_TUNNEL_PKT_MAX + WIRE_ETH_HLEN] = { 0 };
	const uint16_t headroom = sizeof(frame) - WIRE_ETH_HLEN - HEALTH_TUNNEL_SYN_LEN;
	uint8_t *eth = frame + headroom;
	struct keel_snapshot s;
	struct keel_backend be;
	struct keel_buf b;
	struct keel_pkt p;
	uint16_t inner_mtu = 0, overhead = encap_overhead(KEEL_AF_INET4, f->encap);
	size_t len;

	tunnel_snapshot(&s, conf);
	memset(&be, 0, sizeof(be));
	memcpy(be.addr, f->backend, 4);
	be.family = KEEL_AF_INET4;
	keel_encap_tmpl_fill(&be.tmpl, &s, &be);

	if (s.mtu < overhead + HEALTH_TUNNEL_SYN_LEN)
		return -EINVAL;
	wire_put16(eth + 12, WIRE_ETH_P_IPV4);
	health_tunnel_syn(eth + WIRE_ETH_HLEN, f, (uint16_t)(s.mtu - overhead - 40));
	if (keel_parse(eth, WIRE_ETH_HLEN + HEALTH_TUNNEL_SYN_LEN, &p) != KEEL_DROP_NONE)
		return -EINVAL;
	b.data = eth;
	b.len = WIRE_ETH_HLEN + HEALTH_TUNNEL_SYN_LEN;
	b.headroom = headroom;
	b.tailroom = 0;
	b.port = 0;
	if (encap_packet(&b, &p, &s, &be, f->encap, entropy, &inner_mtu) != KEEL_DROP_NONE)
		return -EINVAL;
	len = (size_t)b.len - WIRE_ETH_HLEN;
	if (len > size)
		return -EINVAL;
	memcpy(out, b.data + WIRE_ETH_HLEN, len);
	return (int)len;
}

int health_tunnel_answer(const uint8_t *pkt, size_t len, const struct health_tunnel_flow *f)
{
	size_t ihl;
	const uint8_t *tcp;
	uint8_t flags;

	if (len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != KEEL_PROTO_TCP)
		return 0;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 20 || (wire_get16(pkt + 6) & 0x3fff) /* a fragment */)
		return 0;
	tcp = pkt + ihl;
	if (memcmp(pkt + 12, f->vip, 4) || memcmp(pkt + 16, f->src, 4) ||
	    wire_get16(tcp) != f->dport || wire_get16(tcp + 2) != f->sport ||
	    !(tcp[13] & KEEL_TCP_ACK) || wire_get32(tcp + 8) != f->seq + 1)
		return 0;
	flags = tcp[13];
	if (flags & KEEL_TCP_RST)
		return 2;
	return (flags & KEEL_TCP_SYN) ? 1 : 0;
}

/*
 * The raw socket takes only the answers' addresses: bound to our address and
 * connected to the VIP, the kernel's raw demultiplexing (raw_v4_match) hands
 * it only TCP segments from the VIP to us, so a busy host's other TCP traffic
 * is never copied to it. Ports and ack are checked on what is read. (A socket
 * filter would do the ports too, but attaching one compiles it for every
 * probe: measured at about 40 % of a probe's CPU.)
 */
static int raw_pin(int fd, const struct health_tunnel_flow *f)
{
	struct sockaddr_in me = { .sin_family = AF_INET }, vip = { .sin_family = AF_INET };

	memcpy(&me.sin_addr, f->src, 4);
	memcpy(&vip.sin_addr, f->vip, 4);
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(fd, (struct sockaddr *)&vip, sizeof(vip)) < 0)
		return -1;
	return 0;
}

/* This host's address on the route to the backend: where the backend's answer can come back to. */
static int source_towards(const uint8_t backend[4], uint8_t out[4])
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) }, me;
	socklen_t ml = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memcpy(&to.sin_addr, backend, 4);
	/* connect() on UDP sends nothing: it asks the routing table for the source. */
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &ml) < 0)
		rc = -errno;
	else
		memcpy(out, &me.sin_addr, 4);
	close(fd);
	return rc;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

int health_tunnel_open(const struct health_target *t, const struct health_tunnel_conf *conf,
		       struct health_tunnel_flow *f, uint64_t now_ns)
{
	uint8_t pkt[HEALTH_TUNNEL_PKT_MAX];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct keel_flow_key key;
	uint64_t r = mix64(now_ns ^ ((uint64_t)t->port << 48) ^ wire_get32(t->addr));
	int fd, n, one = 1, rc;

	/*
	 * The inner source: asked of the routing table again every
	 * SOURCE_REUSE probes of a target (a UDP socket and two calls, a fair
	 * part of a probe's cost), and after any probe that did not pass.
	 */
	if (memcmp(f->backend, t->addr, 4) || f->src_uses == 0 || f->src_uses >= SOURCE_REUSE) {
		memcpy(f->backend, t->addr, 4);
		if ((rc = source_towards(f->backend, f->src))) {
			f->src_uses = 0;
			return rc;
		}
		f->src_uses = 0;
	}
	f->src_uses++;
	memcpy(f->vip, t->vip, 4);
	f->dport = t->port;
	f->encap = t->encap;
	f->sport = (uint16_t)(EPH_BASE + r % EPH_SPAN);
	f->seq = (uint32_t)(r >> 32);
	/* The entropy the dataplane's flow hash would give this 5-tuple (with a zero seed). */
	memset(&key, 0, sizeof(key));
	memcpy(key.src, f->src, 4);
	memcpy(key.dst, f->vip, 4);
	key.sport = htons(f->sport);
	key.dport = htons(f->dport);
	key.proto = KEEL_PROTO_TCP;
	key.family = KEEL_AF_INET4;
	n = health_tunnel_build(pkt, sizeof(pkt), conf, f, keel_flow_hash(&key, 0));
	if (n < 0)
		return n;

	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/*
	 * IP_HDRINCL: the outer header is encap_packet()'s (protocol 4 or 17), not
	 * the socket's; sendto()'s address (the backend) routes it, not the VIP
	 * the socket is connected to.
	 */
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0 || raw_pin(fd, f) < 0)
		goto fail;
	memcpy(&to.sin_addr, f->backend, 4);
	if (sendto(fd, pkt, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) != n)
		goto fail;
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc ? rc : -EIO;
}

int health_tunnel_recv(int fd, const struct health_tunnel_flow *f)
{
	uint8_t buf[256];

	/* Bounded: only segments from the VIP to us are queued, a few at most. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		int a;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		a = health_tunnel_answer(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), f);
		if (a)
			return a;
	}
	return 0;
}
