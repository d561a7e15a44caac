/* A small text form of a forwarding state (VIPs, backends, output parameters) for keel-seam, keel-replay and tests. */
#ifndef KEEL_TOOLS_SPEC_TEXT_H
#define KEEL_TOOLS_SPEC_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot_build.h"

#define SPEC_TEXT_MAX_VIPS 256
#define SPEC_TEXT_MAX_BACKENDS 4096
#define SPEC_TEXT_MAX_PREFIXES 4096 /* source list entries, allow and deny each */

/*
 * Lines of a spec file ('#' comments, blank lines ignored):
 *   seed N | mtu N | ttl N | gue-port N | icmp-rate N | generation N
 *   src-mac MAC | gw-mac MAC | src4 ADDR/LEN | src6 ADDR/LEN
 *   vip ADDR:PORT/PROTO [gue] [fragments] [quic] [size=M] [id=N]     ([v6]:port, port * = all)
 *   backend ADDR [weight=N] [state=active|draining|down] [mac=MAC] [id=N] [sid=N]   (of the last vip;
 *           sid: its QUIC server id, 1..65535)
 *   allow ADDR/LEN | deny ADDR/LEN | sources-mode enforce|count   (the last vip's source list)
 * Backend ids default to their order in the file, VIP ids likewise.
 */
struct spec_text {
	struct keel_snapshot_spec spec;
	struct keel_vip_spec vips[SPEC_TEXT_MAX_VIPS];
	struct keel_backend_spec be[SPEC_TEXT_MAX_BACKENDS];
	uint32_t vip_first[SPEC_TEXT_MAX_VIPS]; /* index in be[] of each VIP's first backend */
	uint32_t be_vip[SPEC_TEXT_MAX_BACKENDS];
	uint32_t n_vips;
	uint32_t n_be;
	uint32_t table_size; /* default for VIPs without size= (0: KEEL_MAGLEV_DEFAULT_SIZE) */
	/* Source lists: per VIP, its entries' first index in the pools and its mode. */
	struct keel_src_spec src[SPEC_TEXT_MAX_VIPS];
	uint32_t allow_first[SPEC_TEXT_MAX_VIPS], deny_first[SPEC_TEXT_MAX_VIPS];
	struct keel_src_prefix allow[SPEC_TEXT_MAX_PREFIXES], deny[SPEC_TEXT_MAX_PREFIXES];
	uint32_t n_allow, n_deny;
	uint8_t has_src[SPEC_TEXT_MAX_VIPS];
};

/* Defaults: seed 0x6b65656c, documentation MACs, 172.16.0.0/16 and fd00::/64 sources. */
void spec_text_init(struct spec_text *t);

/* One VIP or backend in the forms above (the value after the keyword). 0 or -1 with *why. */
int spec_text_vip(struct spec_text *t, const char *arg, const char **why);
int spec_text_backend(struct spec_text *t, const char *arg, const char **why);

/* One line of a file. */
int spec_text_line(struct spec_text *t, const char *line, const char **why);

/* A whole file; on error err holds "path:line: reason". */
int spec_text_load(struct spec_text *t, const char *path, char *err, size_t errlen);

/* Point t->spec at the arrays (call after the last change, before building). */
void spec_text_finish(struct spec_text *t);

/* Address text to 16 bytes and a family (KEEL_AF_*); 0 or -1. */
int spec_text_addr(const char *text, uint8_t out[16], uint8_t *family);

/* A MAC as aa:bb:cc:dd:ee:ff; 0 or -1. */
int spec_text_mac(const char *s, uint8_t mac[6]);

#endif
