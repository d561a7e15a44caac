/* Why the packet core refused a packet: one named reason per rejection, counted per worker. */
#ifndef KEEL_CORE_DROP_H
#define KEEL_CORE_DROP_H

/*
 * X-macro so the enum and its string table cannot drift apart. The string is
 * the stable name used in counters, metrics labels and the CLI: never rename one.
 */
#define KEEL_DROP_REASONS(X)                                                   \
	X(NONE, "none")                                                        \
	/* link layer */                                                       \
	X(L2_TRUNCATED, "l2_truncated")                                        \
	X(VLAN_TRUNCATED, "vlan_truncated")                                    \
	X(VLAN_STACKED, "vlan_stacked")                                        \
	X(VLAN_RESERVED, "vlan_reserved")   /* VID 4095, IEEE 802.1Q 9.6 */    \
	/* not for this port (RFC 1812 5.3.4): never balanced nor answered */  \
	X(L2_OTHER_HOST, "l2_other_host")   /* unicast to another MAC */       \
	X(L2_BROADCAST, "l2_broadcast")     /* without an exception path */    \
	X(L2_MULTICAST, "l2_multicast")     /* without an exception path */    \
	X(L2_BAD_SOURCE, "l2_bad_source")   /* group source MAC (802.3 3.2.3) */ \
	/* IPv4, RFC 1812 5.2.2 */                                             \
	X(IP4_TRUNCATED, "ip4_truncated")                                      \
	X(IP4_VERSION, "ip4_version")                                          \
	X(IP4_IHL, "ip4_ihl")                                                  \
	X(IP4_TOTAL_LENGTH, "ip4_total_length")                                \
	X(IP4_CHECKSUM, "ip4_checksum")                                        \
	X(IP4_BAD_SOURCE, "ip4_bad_source")                                    \
	X(IP4_SRC_LINK_LOCAL, "ip4_src_link_local") /* to a VIP, RFC 3927 7 */ \
	X(IP4_FRAG_OFFSET, "ip4_frag_offset")                                  \
	/* IPv6, RFC 8200 */                                                   \
	X(IP6_TRUNCATED, "ip6_truncated")                                      \
	X(IP6_VERSION, "ip6_version")                                          \
	X(IP6_PAYLOAD_LENGTH, "ip6_payload_length")                            \
	X(IP6_BAD_SOURCE, "ip6_bad_source")                                    \
	/* sources no VIP accepts, RFC 4291 2.5.2, 2.5.5.2, 2.5.6 */            \
	X(IP6_SRC_UNSPECIFIED, "ip6_src_unspecified")                          \
	X(IP6_SRC_LINK_LOCAL, "ip6_src_link_local")                            \
	X(IP6_SRC_V4MAPPED, "ip6_src_v4mapped")                                \
	X(IP6_EXTHDR_TRUNCATED, "ip6_exthdr_truncated")                        \
	X(IP6_EXTHDR_ORDER, "ip6_exthdr_order")                                \
	X(IP6_EXTHDR_TOO_MANY, "ip6_exthdr_too_many")                          \
	X(IP6_FRAG_INVALID, "ip6_frag_invalid")                                \
	/* Routing header: type 0 always (RFC 5095), others while segments are left (RFC 8200 4.4) */ \
	X(IP6_ROUTING_TYPE0, "ip6_routing_type0")                              \
	X(IP6_ROUTING_SEGMENTS_LEFT, "ip6_routing_segments_left")              \
	/* transport */                                                        \
	X(L4_TRUNCATED, "l4_truncated")                                        \
	X(TCP_DATA_OFFSET, "tcp_data_offset")                                  \
	X(UDP_LENGTH, "udp_length")                                            \
	/* classification and selection */                                     \
	X(NOT_VIP, "not_vip")                                                  \
	X(FRAGMENT, "fragment")                                                \
	X(NO_BACKEND, "no_backend")                                            \
	X(NO_SNAPSHOT, "no_snapshot")                                          \
	X(SOURCE_DENIED, "source_denied")   /* the VIP's source list */       \
	/* ICMP handling */                                                    \
	X(ICMP_UNSUPPORTED, "icmp_unsupported")                                \
	X(ICMP_ERROR_INNER, "icmp_error_inner")                                \
	/* an error to a VIP that its quote was not sent from */              \
	X(ICMP_ERROR_MISMATCH, "icmp_error_mismatch")                          \
	X(ICMP_RATE_LIMIT, "icmp_rate_limit")                                  \
	X(ICMP_CHECKSUM, "icmp_checksum")   /* echo request, RFC 792/4443 */   \
	X(ECHO_TOO_BIG, "echo_too_big")     /* reply longer than the port MTU */ \
	/* encapsulation and output */                                         \
	X(TOO_BIG, "too_big")                                                  \
	X(NO_HEADROOM, "no_headroom")                                          \
	X(MULTI_SEGMENT, "multi_segment")                                      \
	X(TX_FULL, "tx_full")                                                  \
	/* over the exception path's budget for non-control traffic (--exception-rate) */ \
	X(EXCEPTION_LIMIT, "exception_limit")

#define KEEL_DROP_ENUM(name, str) KEEL_DROP_##name,
enum keel_drop {
	KEEL_DROP_REASONS(KEEL_DROP_ENUM)
	KEEL_DROP_MAX
};
#undef KEEL_DROP_ENUM

/* Stable lower-case name of a reason; "unknown" for out-of-range values. */
const char *keel_drop_name(unsigned int reason);

#endif
