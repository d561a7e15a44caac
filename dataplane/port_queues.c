/* The NIC's channel count (ETHTOOL_GCHANNELS) against the AF_XDP queues Keel serves. */
#include "port_queues.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>

#include "log.h"
#include "port.h"

int port_nic_queues(const char *ifname, uint32_t *n, bool *combined)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd, ret = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_data = (void *)&ch;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	/* A NIC has combined channels (RX+TX pairs) or separate ones (veth: rx_count). */
	*n = ch.combined_count + ch.rx_count;
	*combined = ch.combined_count > 0;
	return *n ? 0 : -EOPNOTSUPP;
}

/* An unsigned devargs value ("start_queue=2"); def when absent. */
static uint32_t devarg(const char *args, const char *key, uint32_t def)
{
	size_t kl = strlen(key);
	const char *a = args;

	while (a && *a) {
		if (!strncmp(a, key, kl) && a[kl] == '=')
			return (uint32_t)strtoul(a + kl + 1, NULL, 10);
		a = strchr(a, ',');
		if (a)
			a++;
	}
	return def;
}

uint32_t port_check_queues(uint16_t port, uint16_t n_queues)
{
	const struct rte_devargs *da = NULL;
	struct rte_eth_dev_info info;
	char iface[64], fix[160];
	uint32_t nic, start, unserved;
	bool combined;
	int ret;

	if (rte_eth_dev_info_get(port, &info) || !info.driver_name ||
	    !strstr(info.driver_name, "af_xdp"))
		return 0;
	if (info.device)
		da = rte_dev_devargs(info.device);
	start = devarg(da ? da->args : NULL, "start_queue", 0);
	port_iface(port, iface, sizeof(iface));
	ret = port_nic_queues(iface, &nic, &combined);
	if (ret) {
		log_event(LOG_INFO, "nic_queues_unknown", "port=%s reason=%s", iface, strerror(-ret));
		return 0;
	}
	unserved = nic > n_queues ? nic - n_queues : 0;
	if (!unserved)
		return 0;
	/* Fewer queues on the NIC, so that every one has a socket (veth has RX-only channels). */
	snprintf(fix, sizeof(fix), "ethtool -L %s %s %u%s", iface, combined ? "combined" : "rx",
		 (unsigned int)n_queues, start ? " and start_queue=0" : "");
	log_event(LOG_WARN, "afxdp_queues_unserved",
		  "port=%s nic_queues=%u start_queue=%u served=%u unserved=%u reason=%s fix=%s", iface, nic,
		  start, n_queues, unserved,
		  "VIP packets RSS puts on the other queues find no AF_XDP socket (steering verdict pass_no_xsk) and are lost",
		  fix);
	return unserved;
}
