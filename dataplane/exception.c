/* TAP exception interfaces: one net_tap per data port, named and addressed after the port it stands for. */
#include "exception.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_ether.h>

int exception_tap_create(uint16_t port, const char *prefix, uint16_t *tap, char *err, size_t errlen)
{
	char devargs[256], name[64];
	struct rte_ether_addr mac;
	int ret;

	ret = rte_eth_macaddr_get(port, &mac);
	if (ret) {
		snprintf(err, errlen, "exception path: cannot read the MAC of port %u: %s", port, strerror(-ret));
		return ret;
	}
	/* A vdev name of our own, so it cannot collide with a net_tapN the operator gave as a data port. */
	snprintf(name, sizeof(name), "net_tap_keel%u", port);
	snprintf(devargs, sizeof(devargs), "%s,iface=%s%u,mac=" RTE_ETHER_ADDR_PRT_FMT, name, prefix, port,
		 RTE_ETHER_ADDR_BYTES(&mac));
	ret = rte_dev_probe(devargs);
	if (ret) {
		snprintf(err, errlen,
			 "exception path: cannot create TAP %s%u (%s): %s; it needs CAP_NET_ADMIN and /dev/net/tun",
			 prefix, port, name, strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_get_port_by_name(name, tap);
	if (ret) {
		snprintf(err, errlen, "exception path: TAP %s probed but has no port: %s", name, strerror(-ret));
		return ret;
	}
	return 0;
}
