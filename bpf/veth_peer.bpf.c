/* XDP_PASS for the far end of a veth whose near end hands packets on with XDP_TX (keel-decap's second chance). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * A frame sent with XDP_TX by a native XDP program on a veth lands in the
 * peer veth's XDP ring, and the kernel wakes the peer's NAPI to take it only
 * when the peer has an XDP program of its own (drivers/net/veth.c,
 * veth_xdp_flush). Without one the frame waits in the ring (GRO on the peer
 * lets it be queued, nothing reads it). This program does nothing but be
 * there: every frame goes on to the kernel as if no program were attached.
 * docs/second-chance.md; a physical NIC needs nothing of the kind.
 */
SEC("xdp")
int keel_veth_peer(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
