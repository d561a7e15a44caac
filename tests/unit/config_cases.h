/* Refused configurations for test_config: each with where (line:column) and why (a substring of the reason). */
#ifndef KEEL_TEST_CONFIG_CASES_H
#define KEEL_TEST_CONFIG_CASES_H

struct bad_case {
	const char *name;
	const char *yaml;
	int line, column; /* of the offending node, from 1 */
	const char *reason;
};

/* Three lines every case starts from, so VIPs begin on line 4. */
#define HEAD                                                                 \
	"instance: e1\n"                                                     \
	"next_hop: {gateway: 192.0.2.254}\n"                                 \
	"encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\n"
#define HEAD4                                                                \
	"instance: e1\n"                                                     \
	"next_hop: {gateway: 192.0.2.254}\n"                                 \
	"encap_source: {ipv4: 172.16.0.0/16}\n"
/* One VIP on line 5 whose backend list is X. */
#define VIP(x) "vips:\n  - {name: web, address: 192.0.2.10, port: 80, protocol: tcp, backends: [" x "]}\n"
/* One VIP on line 5 with the extra keys X. */
#define VIPK(x) "vips:\n  - {name: web, address: 192.0.2.10, port: 80, protocol: tcp, " x "}\n"

/* A valid bgp: section on line 4 with the extra keys X. */
#define BGP(x) "bgp: {local_asn: 65001, router_id: 192.0.2.21, neighbours: [{address: 192.0.2.254, asn: 65000}]" x "}\n"

static const struct bad_case bad_cases[] = {
	/* YAML itself */
	{ "alias", "instance: *e1\n", 1, 11, "aliases are not allowed" },
	{ "anchor", "instance: &e1 e1\n", 1, 11, "anchors are not allowed" },
	{ "tag", "instance: !!str e1\n", 1, 11, "tags are not allowed" },
	{ "local tag", HEAD "mtu: !int 1500\n", 4, 6, "tags are not allowed" },
	{ "two documents", HEAD "---\ninstance: e2\n", 4, 1, "more than one YAML document" },
	{ "duplicate key", HEAD "instance: e2\n", 4, 1, "duplicate key \"instance\" (first at line 1" },
	{ "duplicate key in flow", HEAD VIP("{address: 10.0.0.1, address: 10.0.0.2}"), 5, 94,
	  "duplicate key \"address\"" },
	{ "complex key", HEAD "? [a, b]\n: 1\n", 4, 3, "mapping keys must be plain strings" },
	{ "syntax", "instance: [e1\n", 2, 1, "did not find expected" },
	{ "too deep", HEAD "mtu: [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]\n", 4, 21, "nesting deeper than 16" },
	{ "empty file", "", 1, 1, "empty configuration" },
	{ "NUL in string", "instance: \"e\\0\"\n", 1, 11, "NUL character" },
	{ "not a mapping", "- instance: e1\n", 1, 1, "expected the configuration (a mapping), got a list" },
	{ "list for a scalar", HEAD "mtu: [1500]\n", 4, 6, "expected an integer 576..9216, got a list" },
	{ "mapping for a scalar", HEAD VIP("{address: {ip: 10.0.0.1}}"), 5, 84, "expected a string, got a mapping" },
	{ "empty value", HEAD "vips:\n", 4, 6, "expected a list of VIPs, got an empty value" },
	/* top level */
	{ "unknown key", HEAD "instanse: e1\n", 4, 1, "unknown key \"instanse\"" },
	{ "missing instance", "next_hop: {gateway: 192.0.2.254}\nencap_source: {ipv4: 10.0.0.0/8}\n", 1, 1,
	  "missing required key \"instance\"" },
	{ "instance type", "instance: 5\n", 1, 11, "expected a string, got the integer 5" },
	{ "instance name", "instance: \"edge 1\"\n", 1, 11, "is not a name" },
	{ "seed not hex", HEAD "fleet_seed: 0xZZ\n", 4, 13, "expected a decimal or 0x hexadecimal" },
	{ "seed negative", HEAD "fleet_seed: -1\n", 4, 13, "expected a non-negative integer" },
	{ "seed too big", HEAD "fleet_seed: 0x1ffffffffffffffff\n", 4, 13, "does not fit in 64 bits" },
	{ "table not prime", HEAD "maglev_table_size: 65536\n", 4, 20, "65536 is not prime (Maglev needs a prime size; try 65537)" },
	{ "table too large", HEAD "maglev_table_size: 2000003\n", 4, 20, "out of range 1..1048573" },
	{ "next_hop missing", "instance: e1\nencap_source: {ipv4: 10.0.0.0/8}\n", 1, 1,
	  "missing required key \"next_hop\"" },
	{ "next_hop both", "instance: e1\nnext_hop: {gateway: 192.0.2.1, mac: \"02:00:00:00:00:01\"}\n", 2, 32,
	  "not both" },
	{ "gateway address", "instance: e1\nnext_hop: {gateway: 192.0.2.256}\n", 2, 21,
	  "not an IPv4 or IPv6 address" },
	{ "multicast mac", "instance: e1\nnext_hop: {mac: \"01:00:5e:00:00:01\"}\n", 2, 17, "must be unicast" },
	{ "bad mac", "instance: e1\nnext_hop: {mac: \"02:00:00:00:00\"}\n", 2, 17, "expected a MAC address" },
	{ "source host bits", "instance: e1\nnext_hop: {gateway: 192.0.2.1}\nencap_source: {ipv4: 172.16.0.1/16}\n",
	  3, 22, "host bits set" },
	{ "source family", "instance: e1\nnext_hop: {gateway: 192.0.2.1}\nencap_source: {ipv4: \"fd00::/64\"}\n",
	  3, 22, "is not an IPv4 prefix" },
	{ "source empty", "instance: e1\nnext_hop: {gateway: 192.0.2.1}\nencap_source: {}\n", 3, 15,
	  "missing required key \"ipv4\" or \"ipv6\"" },
	{ "source no length", "instance: e1\nnext_hop: {gateway: 192.0.2.1}\nencap_source: {ipv4: 172.16.0.0}\n",
	  3, 22, "expected ADDRESS/LENGTH" },
	{ "mtu range", HEAD "mtu: 100\n", 4, 6, "100 is out of range 576..9216" },
	{ "mtu ipv6", HEAD "mtu: 1000\n" VIP("{address: \"2001:db8::1\"}"), 4, 6, "below 1280" },
	{ "api socket", HEAD "api: {socket: run/keel.sock}\n", 4, 15, "absolute path" },
	{ "api group", HEAD "api: {group: \"-keel\"}\n", 4, 14, "not a group name" },
	{ "api unknown", HEAD "api: {sock: /run/k.sock}\n", 4, 7, "unknown key \"sock\" in the API settings" },
	{ "metrics host", HEAD "metrics: {listen: \"localhost:9105\"}\n", 4, 19, "not an IPv4 or IPv6 address" },
	{ "metrics v6", HEAD "metrics: {listen: \"::1:9105\"}\n", 4, 19, "[ADDRESS]:PORT" },
	{ "metrics port", HEAD "metrics: {listen: \"127.0.0.1:0\"}\n", 4, 19, "port must be 1..65535" },
	{ "defaults timeout", HEAD "health_defaults: {interval: 1s, timeout: 1s}\n", 4, 42,
	  "timeout 1s must be shorter than interval 1s" },
	{ "defaults rise", HEAD "health_defaults: {rise: 11}\n", 4, 25, "11 is out of range 1..10" },
	{ "duration unit", HEAD "health_defaults: {interval: 2h}\n", 4, 29, "unit must be ms, s or m" },
	{ "duration no unit", HEAD "health_defaults: {interval: \"2\"}\n", 4, 29, "needs a unit" },
	{ "duration too short", HEAD "health_defaults: {interval: 50ms, timeout: 10ms}\n", 4, 29,
	  "between 100ms and 60m" },
	{ "panic range", HEAD "panic_threshold: 1.5\n", 4, 18, "1.5 is out of range 0..1" },
	{ "panic type", HEAD "panic_threshold: \"half\"\n", 4, 18, "expected a number 0..1" },
	/* VIPs */
	{ "vips not a list", HEAD "vips: {name: web}\n", 4, 7, "expected a list of VIPs, got a mapping" },
	{ "vip not a mapping", HEAD "vips: [web]\n", 4, 8, "expected a VIP (a mapping), got the string \"web\"" },
	{ "vip unknown key", HEAD VIPK("prot: udp"), 5, 63, "unknown key \"prot\" in a VIP" },
	{ "vip missing address", HEAD "vips:\n  - {name: web, port: 80, protocol: tcp}\n", 5, 5,
	  "missing required key \"address\"" },
	{ "vip bad address", HEAD "vips:\n  - {name: web, address: 10.0.0.300, port: 80, protocol: tcp}\n", 5, 26,
	  "not an IPv4 or IPv6 address" },
	{ "vip prefix", HEAD "vips:\n  - {name: web, address: 192.0.2.10/32, port: 80, protocol: tcp}\n", 5, 26,
	  "not a prefix" },
	{ "vip v4-mapped", HEAD "vips:\n  - {name: web, address: \"::ffff:192.0.2.10\", port: 80, protocol: tcp}\n",
	  5, 26, "IPv4-mapped" },
	{ "vip bad name", HEAD "vips:\n  - {name: \"web/1\", address: 192.0.2.10, port: 80, protocol: tcp}\n", 5, 12,
	  "is not a name" },
	{ "port zero", HEAD "vips:\n  - {name: web, address: 192.0.2.10, port: 0, protocol: tcp}\n", 5, 44,
	  "0 is out of range 1..65535" },
	{ "port large", HEAD "vips:\n  - {name: web, address: 192.0.2.10, port: 70000, protocol: tcp}\n", 5, 44,
	  "70000 is out of range 1..65535" },
	{ "port string", HEAD "vips:\n  - {name: web, address: 192.0.2.10, port: \"80\", protocol: tcp}\n", 5, 44,
	  "expected a port 1..65535 or \"all\", got the string \"80\"" },
	{ "port missing", HEAD "vips:\n  - {name: web, address: 192.0.2.10, protocol: tcp}\n", 5, 5,
	  "missing required key \"port\"" },
	{ "protocol", HEAD "vips:\n  - {name: web, address: 192.0.2.10, port: 80, protocol: sctp}\n", 5, 58,
	  "\"sctp\" is not one of: tcp, udp" },
	{ "encap", HEAD VIPK("encap: gre"), 5, 70, "\"gre\" is not one of: ipip, gue" },
	{ "fragments yes", HEAD VIPK("fragments: yes"), 5, 74, "expected true or false, got the string \"yes\"" },
	{ "vip table not prime", HEAD VIPK("maglev_table_size: 100"), 5, 82, "100 is not prime" },
	{ "vip table small", HEAD VIPK("maglev_table_size: 2, backends: [{address: 10.0.0.1}, {address: 10.0.0.2},"
				      " {address: 10.0.0.3}]"), 5, 82, "smaller than the 3 backends" },
	{ "duplicate vip", HEAD VIP("") "  - {name: web2, address: 192.0.2.10, port: 80, protocol: tcp}\n", 6, 27,
	  "duplicate VIP: same address, port and protocol as vips[0] (web)" },
	{ "duplicate vip v6 forms", HEAD "vips:\n  - {name: a, address: \"2001:db8::1\", port: all, protocol: udp}\n"
				    "  - {name: b, address: \"2001:DB8:0::1\", port: all, protocol: udp}\n", 6, 24,
	  "duplicate VIP" },
	{ "duplicate vip name", HEAD VIP("") "  - {name: web, address: 192.0.2.11, port: 80, protocol: tcp}\n", 6, 12,
	  "duplicate VIP name \"web\" (first as vips[0])" },
	/* backends */
	{ "backends not a list", HEAD VIPK("backends: 10.0.0.1"), 5, 73, "expected a list of backends" },
	{ "backend unknown key", HEAD VIP("{address: 10.0.0.1, wieght: 2}"), 5, 94, "unknown key \"wieght\" in a backend" },
	{ "backend missing address", HEAD VIP("{weight: 2}"), 5, 74, "missing required key \"address\"" },
	{ "duplicate backend", HEAD VIP("{address: 10.0.0.1}, {address: 10.0.0.2}, {address: 10.0.0.1}"), 5, 126,
	  "duplicate backend 10.0.0.1 in VIP web (first as backends[0])" },
	{ "duplicate backend v6 forms", HEAD VIP("{address: \"2001:db8::1\"}, {address: \"2001:db8:0:0::1\"}"), 5, 110,
	  "duplicate backend 2001:db8::1" },
	{ "weight range", HEAD VIP("{address: 10.0.0.1, weight: 70000}"), 5, 102, "70000 is out of range 0..65535" },
	{ "weight negative", HEAD VIP("{address: 10.0.0.1, weight: -1}"), 5, 102, "-1 is out of range 0..65535" },
	{ "weight huge", HEAD VIP("{address: 10.0.0.1, weight: 99999999999999999999}"), 5, 102,
	  "expected an integer 0..65535, got the string" },
	{ "weight real", HEAD VIP("{address: 10.0.0.1, weight: 1.5}"), 5, 102, "got the number 1.5" },
	{ "state", HEAD VIP("{address: 10.0.0.1, state: down}"), 5, 101,
	  "\"down\" is not one of: active, draining, disabled" },
	{ "backend v6 without ipv6 source", HEAD4 VIP("{address: \"2001:db8::1\"}"), 5, 84,
	  "IPv6 backend but encap_source has no ipv6 prefix" },
	{ "v6 vip without ipv6 source", HEAD4 "vips:\n  - {name: v6, address: \"2001:db8::10\", port: 80, protocol: tcp,"
					  " backends: [{address: \"2001:db8:1::1\"}]}\n", 5, 87, "encap_source has no ipv6" },
	{ "backend v4 without ipv4 source",
	  "instance: e1\nnext_hop: {gateway: 192.0.2.254}\nencap_source: {ipv6: \"fd00::/64\"}\n" VIP("{address: 10.0.0.1}"),
	  5, 84, "IPv4 backend but encap_source has no ipv4 prefix" },
	/* health checks */
	{ "health not a mapping", HEAD VIPK("health_check: tcp"), 5, 77, "expected a health check (a mapping)" },
	{ "health type missing", HEAD VIPK("health_check: {port: 80}"), 5, 77, "missing required key \"type\"" },
	{ "health type", HEAD VIPK("health_check: {type: icmp}"), 5, 84, "\"icmp\" is not one of: none, tcp, http, https, udp, dns" },
	{ "health none with port", HEAD VIPK("health_check: {type: none, port: 80}"), 5, 90,
	  "\"port\" does not apply to type none" },
	{ "health tcp with path", HEAD VIPK("health_check: {type: tcp, path: /}"), 5, 89, "applies only to type http" },
	{ "health path", HEAD VIPK("health_check: {type: http, path: healthz}"), 5, 96, "is not a request path" },
	{ "health path space", HEAD VIPK("health_check: {type: http, path: \"/a b\"}"), 5, 96, "is not a request path" },
	{ "health status", HEAD VIPK("health_check: {type: http, expect_status: 99}"), 5, 105, "99 is out of range 100..599" },
	{ "health all ports", HEAD "vips:\n  - {name: all, address: 192.0.2.10, port: all, protocol: tcp,"
				   " health_check: {type: tcp}}\n", 5, 78, "the VIP serves all ports" },
	{ "health inherited timeout", HEAD VIPK("health_check: {type: tcp, interval: 500ms}"), 5, 99,
	  "timeout 1s (from health_defaults) must be shorter than interval 500ms" },
	{ "health fall", HEAD VIPK("health_check: {type: tcp, fall: 0}"), 5, 95, "0 is out of range 1..10" },
	{ "health unknown key", HEAD VIPK("health_check: {type: tcp, retries: 3}"), 5, 89, "unknown key \"retries\"" },
	{ "health udp without send", HEAD VIPK("health_check: {type: udp}"), 5, 77, "missing required key \"send\"" },
	{ "health udp empty expect", HEAD VIPK("health_check: {type: udp, send: x, expect: \"\"}"), 5, 106,
	  "expect must be 1..256 bytes" },
	{ "health host on tcp", HEAD VIPK("health_check: {type: tcp, host: a.example}"), 5, 89,
	  "\"host\" applies only to type http or https" },
	{ "health status range", HEAD VIPK("health_check: {type: https, expect_status: \"300-200\"}"), 5, 106,
	  "is not a status or a range LOW-HIGH of 100..599" },
	{ "health dns query type", HEAD VIPK("health_check: {type: dns, query: a.example, query_type: BOGUS}"), 5, 119,
	  "is not a DNS query type" },
	{ "health dns query name", HEAD VIPK("health_check: {type: dns, query: \"a..b\"}"), 5, 96,
	  "is not a DNS name" },
	{ "health dns without query", HEAD VIPK("health_check: {type: dns}"), 5, 77, "missing required key \"query\"" },
	/* bgp: (line 4; BGP(x) adds keys x to a valid section) */
	{ "bgp asn 0", HEAD "bgp: {local_asn: 0, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 65000}]}\n",
	  4, 18, "0 is out of range 1..4294967295" },
	{ "bgp asn too big", HEAD "bgp: {local_asn: 4294967296, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 1}]}\n",
	  4, 18, "4294967296 is out of range 1..4294967295" },
	{ "bgp neighbour asn too big", HEAD "bgp: {local_asn: 65001, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 4294967296}]}\n",
	  4, 86, "out of range 1..4294967295" },
	{ "bgp as_trans", HEAD "bgp: {local_asn: 23456, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 65000}]}\n",
	  4, 18, "AS_TRANS" },
	{ "bgp neighbour address", HEAD "bgp: {local_asn: 65001, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.256, asn: 65000}]}\n",
	  4, 71, "10.0.0.256" },
	{ "bgp router id v6", HEAD "bgp: {local_asn: 65001, router_id: \"2001:db8::1\", neighbours: [{address: 10.0.0.1, asn: 65000}]}\n",
	  4, 36, "router id is an IPv4 address" },
	{ "bgp no neighbours", HEAD "bgp: {local_asn: 65001, router_id: 192.0.2.21}\n", 4, 6, "missing required key \"neighbours\"" },
	{ "bgp duplicate neighbour", HEAD "bgp: {local_asn: 65001, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 1}, {address: 10.0.0.1, asn: 2}]}\n",
	  4, 100, "duplicate neighbour" },
	{ "bgp drain_wait", HEAD BGP(", drain_wait: 20m"), 4, 110, "must be between 0ms and 10m" },
	{ "bgp drain_wait text", HEAD BGP(", drain_wait: soon"), 4, 110, "\"soon\"" },
	{ "bgp bfd interval", HEAD BGP(", bfd: {interval: 1ms}"), 4, 114, "must be between 10ms and 10s" },
	{ "bgp hold time", HEAD BGP(", hold_time: 2s"), 4, 109, "must be between 3s" },
	{ "bgp hold time fraction", HEAD BGP(", hold_time: 3500ms"), 4, 109, "whole seconds" },
	{ "bgp main table", HEAD BGP(", table: 254"), 4, 105, "kernel's main table" },
	{ "bgp protocol bird", HEAD BGP(", protocol: 12"), 4, 108, "BIRD's own" },
	{ "bgp metrics", HEAD BGP(", metric: 200, degraded_metric: 100"), 4, 128, "must be above metric" },
	{ "bgp community", HEAD BGP(", degraded_community: \"65536:1\""), 4, 118, "is not a community" },
	{ "bgp community 4-byte asn", HEAD "bgp: {local_asn: 4200000000, router_id: 192.0.2.21, neighbours: [{address: 10.0.0.1, asn: 1}]}\n",
	  4, 6, "does not fit a standard community" },
	{ "bgp down mode", HEAD BGP(", all_backends_down: blackhole"), 4, 117, "is not one of: degraded, withdraw" },
	{ "bgp unknown key", HEAD BGP(", med: 5"), 4, 98, "unknown key \"med\"" },
	{ "bgp socket", HEAD BGP(", bird_socket: bird.ctl"), 4, 111, "absolute path" },
};

#endif
