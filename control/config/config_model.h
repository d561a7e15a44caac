/* The validated configuration of keel-control as plain C structs, and its canonical JSON form. */
#ifndef KEEL_CONTROL_MODEL_H
#define KEEL_CONTROL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config_bgp.h"
#include "config_fleet.h"
#include "source_list.h"

/*
 * A struct keel_config only ever holds a configuration that passed every
 * check in config.c: loaders build a new one and hand it over whole, so a
 * caller swaps its pointer on success and keeps the old one on failure.
 *
 * The functions keep the config_ prefix of the loader API (config.h) because
 * callers see one "config" object; this file only holds its type and forms.
 */

#define CONFIG_NAME_MAX 64       /* VIP names and the instance, NUL included */
#define CONFIG_GROUP_MAX 33      /* POSIX group names, NUL included */
#define CONFIG_SOCKET_MAX 108    /* sizeof(sockaddr_un.sun_path) */
#define CONFIG_HTTP_PATH_MAX 256 /* health check request path, NUL included */
#define CONFIG_HEALTH_HOST_MAX 254    /* Host/SNI or DNS query name, NUL included (HEALTH_HOST_MAX) */
#define CONFIG_HEALTH_PAYLOAD_MAX 256 /* UDP check: bytes sent / expected (HEALTH_PAYLOAD_MAX) */

enum config_health_type {
	CONFIG_HEALTH_NONE = 0,
	CONFIG_HEALTH_TCP = 1,  /* connect() succeeds within timeout */
	CONFIG_HEALTH_HTTP = 2, /* GET path answers expect_status within timeout */
	CONFIG_HEALTH_HTTPS = 3, /* the same over TLS, with SNI */
	CONFIG_HEALTH_UDP = 4,   /* a datagram of send gets an answer holding expect */
	CONFIG_HEALTH_DNS = 5,   /* a query for query / query_type gets an answer */
};

/* Operator intent; health turns an active backend down at run time, not here. */
enum config_backend_state {
	CONFIG_BACKEND_ACTIVE = 0,
	CONFIG_BACKEND_DRAINING = 1, /* no new flows, tracked flows go on */
	CONFIG_BACKEND_DISABLED = 2, /* out of the table, its flows are re-chosen */
};

struct config_health {
	uint8_t type;          /* enum config_health_type; the rest is zero for NONE */
	uint16_t port;         /* 0: the VIP's port */
	uint16_t expect_status;/* HTTP only */
	uint32_t interval_ms;
	uint32_t timeout_ms;   /* < interval_ms */
	uint8_t rise;          /* consecutive successes to come up, 1..10 */
	uint8_t fall;          /* consecutive failures to go down, 1..10 */
	char path[CONFIG_HTTP_PATH_MAX]; /* HTTP only, starts with '/' */
	/* Kinds of issue 22; zero where the type does not use them. */
	uint8_t family;              /* address: 0 = each backend's own address */
	uint8_t addr[16];            /* a check address for every backend of the VIP */
	uint16_t expect_status_max;  /* HTTP(S): 0, or the top of a range "lo-hi" */
	uint16_t qtype;              /* DNS: query type */
	uint16_t send_len, expect_len; /* UDP */
	char host[CONFIG_HEALTH_HOST_MAX]; /* HTTP(S): Host and SNI ("" = address); DNS: query name */
	uint8_t send[CONFIG_HEALTH_PAYLOAD_MAX];
	uint8_t expect[CONFIG_HEALTH_PAYLOAD_MAX];
	uint8_t via; /* enum config_health_via: tcp checks through Keel's encapsulation (docs/health.md) */
};

enum config_health_via {
	CONFIG_VIA_DIRECT = 0, /* to the backend's address from this host */
	CONFIG_VIA_TUNNEL = 1, /* encapsulated to the backend with the VIP as destination */
};

struct config_backend {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint8_t family;   /* KEEL_AF_INET4 or KEEL_AF_INET6 */
	uint8_t state;    /* enum config_backend_state */
	uint32_t weight;  /* 0..65535; 0 takes no new flows */
	uint16_t server_id; /* QUIC VIPs: 1..65535, what its connection IDs carry; else 0 */
};

struct config_vip {
	char name[CONFIG_NAME_MAX];
	uint8_t addr[16];
	uint8_t family;
	uint8_t proto;        /* KEEL_PROTO_TCP or KEEL_PROTO_UDP */
	uint16_t port;        /* host byte order; 0 when all_ports */
	bool all_ports;
	bool fragments;
	uint8_t encap;        /* enum keel_encap */
	uint32_t table_size;  /* prime, resolved from the default when absent */
	struct config_health health; /* resolved from health_defaults */
	bool quic;            /* short headers routed by server id (docs/quic.md) */
	uint32_t n_backends;
	struct config_backend *backends;
	/* Source lists: NULL, or the VIP's allow/deny list (config_sources.c). */
	struct keel_src_spec *sources;
	/* Slow start (control/plan/slow_start.h): 0 off, else the ramp's window of a returning backend. */
	uint32_t slow_start_ms;
};

/* One next hop: a gateway whose MAC is resolved at run time, or a fixed MAC; optionally its port. */
#define CONFIG_MAX_NEXT_HOPS 8 /* KEEL_MAX_NEXT_HOPS (snapshot.h) */
#define CONFIG_IFNAME_MAX 16   /* IFNAMSIZ */
struct config_next_hop {
	bool has_gateway;
	uint8_t gateway[16];
	uint8_t gateway_family;
	bool has_mac;
	uint8_t mac[6];
	char interface[CONFIG_IFNAME_MAX]; /* "": any; else the kernel interface (port) it is reached by */
};

struct keel_config {
	char instance[CONFIG_NAME_MAX]; /* keel-dataplane --name */
	uint64_t fleet_seed;
	uint32_t maglev_table_size;     /* default for VIPs */

	/*
	 * Next hops (config_next_hop.c): `next_hop` is one, `next_hops` a list;
	 * encapsulated packets are spread over the usable ones per flow.
	 */
	uint32_t n_next_hops; /* 1..CONFIG_MAX_NEXT_HOPS */
	struct config_next_hop next_hops[CONFIG_MAX_NEXT_HOPS];

	/* Outer source prefixes; the host bits carry per-flow entropy. */
	bool has_src4;
	uint8_t src4[4];
	uint8_t src4_plen;
	bool has_src6;
	uint8_t src6[16];
	uint8_t src6_plen;

	uint16_t mtu;
	uint16_t gue_port;

	char api_socket[CONFIG_SOCKET_MAX];
	char api_group[CONFIG_GROUP_MAX];       /* "" : root only */
	char api_admin_group[CONFIG_GROUP_MAX]; /* "" : root only */

	uint8_t metrics_addr[16];
	uint8_t metrics_family;
	uint16_t metrics_port;

	struct config_health health_defaults; /* type unused: interval, timeout, rise, fall */
	double panic_threshold;               /* 0..1 */

	struct config_bgp bgp;                /* announcements through BIRD (config_bgp.h) */
	struct config_fleet fleet;            /* the fleet's store (config_fleet.h); host-local */

	uint32_t n_vips;
	struct config_vip *vips;

	/* Not part of the configuration's value (config_equal ignores them). */
	size_t n_warnings;
	char **warnings; /* "origin:line:column: text" like errors */
};

/* An empty model with every default set; NULL with errno on failure. */
struct keel_config *config_new(void);

/* Free a model and everything it owns; NULL is fine. */
void config_free(struct keel_config *cfg);

/* Append a warning (copied); 0 or -ENOMEM. */
int config_add_warning(struct keel_config *cfg, const char *text);

/* The VIP named name (its index in *idx when not NULL), or NULL. */
const struct config_vip *config_vip_find(const struct keel_config *cfg, const char *name,
					 uint32_t *idx);
/*
 * The same, looking at index hint first: loops that pair one configuration's VIPs with another's
 * pass their own index, and an edit keeps the order, so 1000 VIPs cost 1000 compares, not 500 000.
 */
const struct config_vip *config_vip_find_at(const struct keel_config *cfg, const char *name,
					    uint32_t hint, uint32_t *idx);

/* Same configuration (every field but the warnings). */
bool config_equal(const struct keel_config *a, const struct keel_config *b);

/*
 * Canonical JSON form: every default written out, addresses in inet_ntop
 * form, durations as "2s"/"500ms"/"1m", the fleet seed as a hex string.
 * config_from_json of it gives an equal model. NULL with errno on failure.
 */
json_t *config_to_json(const struct keel_config *cfg);

/* Text forms shared by the validator and the JSON form. */
const char *config_health_type_name(uint8_t type);
const char *config_backend_state_name(uint8_t state);
/* DNS query types: "A", "AAAA", ... or "TYPE<n>" (RFC 3597); parse: 0 or -EINVAL. */
const char *config_dns_type_name(uint16_t type);
int config_dns_type_parse(const char *s, uint16_t *type);
const char *config_encap_name(uint8_t encap);
const char *config_proto_name(uint8_t proto);

#endif
