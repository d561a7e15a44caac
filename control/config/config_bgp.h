/* The bgp: section of the configuration: what this host tells BIRD, and the announcement policy. */
#ifndef KEEL_CONTROL_BGP_CONFIG_H
#define KEEL_CONTROL_BGP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define CONFIG_BGP_MAX_NEIGHBOURS 8
#define CONFIG_BGP_SOCKET_MAX 108 /* sizeof(sockaddr_un.sun_path) */

/* What a VIP whose backends are all down gets (fail-static by default). */
enum config_bgp_down {
	CONFIG_BGP_DOWN_DEGRADED = 0, /* keep announcing with degraded_metric */
	CONFIG_BGP_DOWN_WITHDRAW = 1,
};

struct config_bgp_neighbour {
	uint8_t addr[16];
	uint8_t family;
	uint32_t asn;
};

/*
 * Embedded in struct keel_config (fixed size: nothing to free). enabled is
 * false without a bgp: section; then nothing below is used and keel-control
 * touches no kernel table and no BIRD socket.
 */
struct config_bgp {
	bool enabled;
	uint32_t local_asn;          /* 1..4294967295, not 23456 (AS_TRANS) */
	uint8_t router_id[4];        /* BGP identifier, an IPv4 address */
	uint32_t n_neighbours;
	struct config_bgp_neighbour neighbours[CONFIG_BGP_MAX_NEIGHBOURS];
	uint16_t degraded_community[2]; /* (ASN, value): added to degraded announcements */
	bool has_degraded_community;
	uint32_t table;              /* kernel routing table of the announcements (100) */
	uint8_t protocol;            /* rtm_protocol of our routes (250, "keel") */
	uint32_t metric;             /* RTA_PRIORITY of a serving VIP address (100) */
	uint32_t degraded_metric;    /* ... of one whose backends are all down (200) */
	uint8_t all_backends_down;   /* enum config_bgp_down */
	uint32_t drain_wait_ms;      /* withdraw to stop forwarding (5s) */
	uint32_t flap_limit;         /* changes within flap_window that start a hold-down (4) */
	uint32_t flap_window_ms;     /* (60s) */
	uint32_t hold_down_ms;       /* re-announce delay of a flapping address (30s) */
	uint32_t settle_ms;          /* health quiet time before an address is raised (3s) */
	uint32_t hold_time_ms;       /* BGP hold time written into BIRD's peers (3s) */
	uint32_t bfd_interval_ms;    /* BFD tx/rx interval (100ms) */
	uint32_t bfd_multiplier;     /* (3): loss detected after interval x multiplier */
	char bird_socket[CONFIG_BGP_SOCKET_MAX]; /* /run/bird/bird.ctl */
};

void config_bgp_defaults(struct config_bgp *b);

/* The schema walk of top["bgp"] into c->cfg->bgp (config_schema.c calls it): 0, -EINVAL. */
struct check;
struct loc;
int config_bgp_check(struct check *c, const struct loc *root, const json_t *top);

bool config_bgp_equal(const struct config_bgp *a, const struct config_bgp *b);
/* Canonical JSON of the section (every default written out); NULL with errno. */
json_t *config_bgp_to_json(const struct config_bgp *b);

/*
 * The two files keel-host.conf includes (dist/bird/keel-host.conf): the
 * definitions it is parameterised by (router id, ASN, table, metrics,
 * community, timers), and one BGP protocol per neighbour. Written once at
 * start, they never change with the VIPs. 0 or -errno.
 */
int config_bgp_write_bird_defs(const struct config_bgp *b, FILE *f);
int config_bgp_write_bird_peers(const struct config_bgp *b, FILE *f);
/* BIRD's protocol name of neighbour i ("keel_peer0"). */
void config_bgp_peer_name(unsigned int i, char *buf, size_t n);

#endif
