/* The QUIC keys of a VIP: quic: true and each backend's server_id (docs/quic.md). */
#ifndef KEEL_CONTROL_CONFIG_QUIC_H
#define KEEL_CONTROL_CONFIG_QUIC_H

#include <jansson.h>

#include "config_check.h"
#include "config_model.h"

/*
 * Read and check a VIP's "quic" and its backends' "server_id" (after the
 * backends themselves were read into v): quic only on UDP; with it, every
 * backend has a server id in 1..65535, unique in the VIP; without it, none
 * has. 0 or -EINVAL (refused at the offending key's position), -ENOMEM.
 */
int config_quic_check_vip(struct check *c, const struct loc *at, const json_t *o, struct config_vip *v);

#endif
