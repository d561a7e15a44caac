/* keel-decap: attach Keel's decapsulation XDP program to a backend's interface, manage its address maps, print its counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "decap.skel.h"
#include "keel_bpf.h"

#define EXIT_USAGE 64
#define BPF_FS_MAGIC_ 0xcafe4a11
#define BPF_FS_ROOT "/sys/fs/bpf"
#define MAX_ADDRS 64 /* per option kind on one command line */

static const char *const verdict_names[] = {
#define KEEL_NAME(name, str) str,
	KEEL_DECAP_VERDICTS(KEEL_NAME)
#undef KEEL_NAME
};

enum attach_mode { MODE_AUTO, MODE_NATIVE, MODE_GENERIC };

struct args {
	const char *cmd;
	const char *iface;
	const char *vips[MAX_ADDRS], *del_vips[MAX_ADDRS], *locals[MAX_ADDRS];
	const char *peers[MAX_ADDRS], *del_peers[MAX_ADDRS]; /* second chance: backends we may hand on to */
	int n_vips, n_del_vips, n_locals, n_peers, n_del_peers;
	long gue_port; /* -1: keep the loaded one, or the default */
	int handoff;   /* -1: keep the loaded one (default xdp); 0 xdp; 1 kernel */
	enum attach_mode mode;
	bool json, verbose;
};

static const char *prog_name = "keel-decap";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s attach IFACE [--vip ADDR]... [--local ADDR]... [--del-vip ADDR]...\n"
		"                         [--peer ADDR]... [--del-peer ADDR]... [--handoff xdp|kernel]\n"
		"                         [--gue-port N] [--mode native|generic] [--json] [-v]\n"
		"       %s detach IFACE\n"
		"       %s status IFACE [--json]\n"
		"\n"
		"attach  load Keel's decapsulation XDP program on IFACE (native mode, generic if the\n"
		"        driver has none), or update the one loaded; pins its maps under\n"
		"        " KEEL_DECAP_PIN_FMT "/. --vip adds a VIP address served here\n"
		"        (bound on lo), --local an outer destination address of this host (default:\n"
		"        IFACE's own addresses when none is known yet). --gue-port: GUE UDP port\n"
		"        (default %d). --peer: another backend of the same VIPs that a connection\n"
		"        this host has no socket for may be handed on to (second chance; only\n"
		"        peers ever receive one, whatever a packet claims). --handoff: send those with\n"
		"        XDP_TX (default) or let the kernel forward them (where XDP_TX does not reach\n"
		"        the peer: e.g. a veth whose other end runs no XDP program).\n"
		"detach  remove the program from IFACE and its pinned maps.\n"
		"status  attachment, addresses and per-verdict counters (exit 1 when not attached).\n"
		"Exit status: 0 ok, 1 failure, 64 usage.\n",
		prog_name, prog_name, prog_name, "IFACE", KEEL_BPF_GUE_DEFAULT_PORT);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static bool verbose;

__attribute__((format(printf, 2, 0)))
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	/* The verifier log is long: shown with -v; without it the error line says what failed. */
	return verbose ? vfprintf(stderr, fmt, ap) : 0;
}

/* --- addresses --- */

static int addr_parse(const char *text, struct keel_bpf_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, text, k->addr) == 1) {
		k->family = KEEL_BPF_AF_INET4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, k->addr) == 1) {
		k->family = KEEL_BPF_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static const char *addr_text(const struct keel_bpf_addr_key *k, char *buf, size_t len)
{
	if (!inet_ntop(k->family == KEEL_BPF_AF_INET6 ? AF_INET6 : AF_INET, k->addr, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* --- pins --- */

/* Sizes from the name limits: the directory holds IF_NAMESIZE, the files its name plus 16. */
struct pins {
	char dir[64];
	char prog[96], rodata[96], local[96], vips[96], cnt[96], peers[96];
};

static void pins_init(struct pins *p, const char *iface)
{
	snprintf(p->dir, sizeof(p->dir), KEEL_DECAP_PIN_FMT, iface);
	snprintf(p->prog, sizeof(p->prog), "%s/prog", p->dir);
	snprintf(p->rodata, sizeof(p->rodata), "%s/rodata", p->dir);
	snprintf(p->local, sizeof(p->local), "%s/" KEEL_DECAP_MAP_LOCAL, p->dir);
	snprintf(p->vips, sizeof(p->vips), "%s/" KEEL_DECAP_MAP_VIPS, p->dir);
	snprintf(p->cnt, sizeof(p->cnt), "%s/" KEEL_DECAP_MAP_COUNTERS, p->dir);
	snprintf(p->peers, sizeof(p->peers), "%s/" KEEL_DECAP_MAP_PEERS, p->dir);
}

/* The BPF file system where pins live; mounted if the host has not (as systemd would). */
static int bpffs_ensure(void)
{
	struct statfs st;

	if (statfs(BPF_FS_ROOT, &st) == 0 && st.f_type == BPF_FS_MAGIC_)
		return 0;
	if (mount("bpf", BPF_FS_ROOT, "bpf", 0, "mode=0700"))
		return fail("cannot mount the BPF file system on %s: %s", BPF_FS_ROOT,
			    strerror(errno));
	return 0;
}

/* Id of the program pinned for iface, or 0. */
static __u32 pinned_prog_id(const struct pins *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(p->prog);
	__u32 id = 0;

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		id = info.id;
	close(fd);
	return id;
}

struct xdp_state {
	__u32 prog_id;  /* attached program, 0 if none */
	__u8 mode;      /* XDP_ATTACHED_* */
};

static int xdp_state_get(int ifindex, struct xdp_state *s)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err = bpf_xdp_query(ifindex, 0, &q);

	if (err)
		return err;
	s->mode = q.attach_mode;
	s->prog_id = q.attach_mode == XDP_ATTACHED_DRV ? q.drv_prog_id :
		     q.attach_mode == XDP_ATTACHED_SKB ? q.skb_prog_id :
		     q.attach_mode == XDP_ATTACHED_HW ? q.hw_prog_id : q.prog_id;
	return 0;
}

static const char *mode_name(__u8 mode)
{
	switch (mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "none";
	}
}

static void pins_remove(const struct pins *p)
{
	unlink(p->prog);
	unlink(p->rodata);
	unlink(p->local);
	unlink(p->vips);
	unlink(p->cnt);
	unlink(p->peers);
	rmdir(p->dir);
}

/* GUE port of the loaded program, from its pinned .rodata; -1 if unknown. */
static long pinned_gue_port(const struct pins *p)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info), key = 0;
	unsigned char buf[256];
	long port = -1;
	int fd = bpf_obj_get(p->rodata);

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.value_size <= sizeof(buf) &&
	    info.value_size >= offsetof(struct decap_bpf__rodata, gue_port) + sizeof(__u16) &&
	    bpf_map_lookup_elem(fd, &key, buf) == 0) {
		struct decap_bpf__rodata ro;

		/* The map's value is the section's size, which may be shorter than the padded struct. */
		memset(&ro, 0, sizeof(ro));
		memcpy(&ro, buf, info.value_size < sizeof(ro) ? info.value_size : sizeof(ro));
		port = ro.gue_port;
	}
	close(fd);
	return port;
}

/* The loaded program's handoff knob, or -1. */
static int pinned_handoff(const struct pins *p)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info), key = 0;
	unsigned char buf[256];
	int v = -1, fd = bpf_obj_get(p->rodata);

	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.value_size <= sizeof(buf) &&
	    info.value_size >= offsetof(struct decap_bpf__rodata, handoff_kernel) + 1 &&
	    bpf_map_lookup_elem(fd, &key, buf) == 0) {
		struct decap_bpf__rodata ro;

		memset(&ro, 0, sizeof(ro));
		memcpy(&ro, buf, info.value_size < sizeof(ro) ? info.value_size : sizeof(ro));
		v = ro.handoff_kernel;
	}
	close(fd);
	return v;
}

/* --- maps --- */

/* The addresses were checked by args_check (nothing is touched before they all parse): only map errors remain. */
static int map_put_addrs(int fd, const char *const *texts, int n, const char *what)
{
	struct keel_bpf_addr_key k;
	__u32 one = 1;
	int i;

	for (i = 0; i < n; i++) {
		if (addr_parse(texts[i], &k))
			return fail("%s: not an IPv4 or IPv6 address: %s", what, texts[i]);
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY))
			return fail("%s %s: map update: %s", what, texts[i], strerror(errno));
	}
	return 0;
}

static int map_del_addrs(int fd, const char *const *texts, int n, const char *what)
{
	struct keel_bpf_addr_key k;
	int i;

	for (i = 0; i < n; i++) {
		if (addr_parse(texts[i], &k))
			return fail("%s: not an IPv4 or IPv6 address: %s", what, texts[i]);
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			return fail("%s %s: %s", what, texts[i], strerror(errno));
	}
	return 0;
}

static int map_count(int fd)
{
	struct keel_bpf_addr_key k, next;
	int n = 0;
	void *prev = NULL;

	while (n < KEEL_BPF_MAX_ADDRS && bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/*
 * Whether adding texts to the map at fd keeps it within KEEL_BPF_MAX_ADDRS
 * (deletions are applied after additions, so they do not count): checked
 * before any map is edited or the program attached, so a full map changes
 * nothing instead of failing half-way.
 */
static int map_room_check(int fd, const char *const *texts, int n, const char *what)
{
	struct keel_bpf_addr_key k, seen[MAX_ADDRS];
	__u32 v;
	int i, j, n_new = 0, have = map_count(fd);

	for (i = 0; i < n; i++) {
		if (addr_parse(texts[i], &k))
			return fail("%s: not an IPv4 or IPv6 address: %s", what, texts[i]);
		if (bpf_map_lookup_elem(fd, &k, &v) == 0)
			continue;
		for (j = 0; j < n_new && memcmp(&seen[j], &k, sizeof(k)); j++)
			;
		if (j == n_new)
			seen[n_new++] = k;
	}
	if (have + n_new > KEEL_BPF_MAX_ADDRS)
		return fail("%s: %d more address%s would exceed the map's %d (it holds %d); nothing changed",
			    what, n_new, n_new == 1 ? "" : "es", KEEL_BPF_MAX_ADDRS, have);
	return 0;
}

/* This host's addresses on iface (link-local IPv6 left out: Keel does not encapsulate to them). */
static int local_from_iface(int fd, const char *iface)
{
	struct ifaddrs *ifa, *i;
	struct keel_bpf_addr_key k;
	__u32 one = 1;
	int n = 0;

	if (getifaddrs(&ifa))
		return fail("%s: reading addresses: %s", iface, strerror(errno));
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, iface) != 0)
			continue;
		memset(&k, 0, sizeof(k));
		if (i->ifa_addr->sa_family == AF_INET) {
			k.family = KEEL_BPF_AF_INET4;
			memcpy(k.addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *a = &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(a))
				continue;
			k.family = KEEL_BPF_AF_INET6;
			memcpy(k.addr, a, 16);
		} else {
			continue;
		}
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) == 0)
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

/* --- commands --- */

static int xdp_attach_auto(int ifindex, int prog_fd, enum attach_mode mode, const struct xdp_state *cur,
			   int old_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = old_fd);
	__u32 flags = old_fd >= 0 ? XDP_FLAGS_REPLACE : XDP_FLAGS_UPDATE_IF_NOEXIST;
	int err;

	if (cur->prog_id)
		/* Replacing our own program: stay in the mode it is in. */
		return bpf_xdp_attach(ifindex, prog_fd,
				      flags | (cur->mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE :
									      XDP_FLAGS_DRV_MODE),
				      &o);
	if (mode != MODE_GENERIC) {
		err = bpf_xdp_attach(ifindex, prog_fd, flags | XDP_FLAGS_DRV_MODE, &o);
		if (err == 0 || mode == MODE_NATIVE)
			return err;
	}
	return bpf_xdp_attach(ifindex, prog_fd, flags | XDP_FLAGS_SKB_MODE, &o);
}

/* The address options' map edits, in the order they apply; room checked first (map_room_check). */
static int maps_edit(const struct decap_bpf *skel, const struct args *a)
{
	int local = bpf_map__fd(skel->maps.keel_decap_local);
	int vips = bpf_map__fd(skel->maps.keel_decap_vips);
	int peers = bpf_map__fd(skel->maps.keel_decap_peers);

	if (map_room_check(local, a->locals, a->n_locals, "--local") ||
	    map_room_check(vips, a->vips, a->n_vips, "--vip") ||
	    map_room_check(peers, a->peers, a->n_peers, "--peer"))
		return -1;
	if (map_put_addrs(local, a->locals, a->n_locals, "--local") ||
	    map_put_addrs(vips, a->vips, a->n_vips, "--vip") ||
	    map_del_addrs(vips, a->del_vips, a->n_del_vips, "--del-vip") ||
	    map_put_addrs(peers, a->peers, a->n_peers, "--peer") ||
	    map_del_addrs(peers, a->del_peers, a->n_del_peers, "--del-peer"))
		return -1;
	return 0;
}

/*
 * Every argument was checked before this runs (parse_args, args_check).
 * Then: load the program (its maps are the pinned ones when they exist),
 * edit the maps, and only then attach: whatever fails before the attach
 * leaves the interface as it was (a first attach also removes the pins it
 * made), so an update never replaces the program for a command that fails.
 */
static int cmd_attach(const struct args *a, int ifindex)
{
	struct decap_bpf *skel;
	struct xdp_state cur = { 0 }, now = { 0 };
	struct pins p;
	struct stat st;
	__u32 ours;
	long port = a->gue_port;
	int old_fd = -1, err, rc = 1, n_local, n_vips;
	bool had_pins, attached = false;

	pins_init(&p, a->iface);
	if (bpffs_ensure())
		return 1;
	if (xdp_state_get(ifindex, &cur))
		return fail("%s: querying XDP: %s", a->iface, strerror(errno));
	ours = pinned_prog_id(&p);
	if (cur.prog_id && cur.prog_id != ours)
		return fail("%s: another XDP program (id %u) is attached; detach it first", a->iface,
			    cur.prog_id);
	had_pins = stat(p.dir, &st) == 0;
	if (mkdir(p.dir, 0700) && errno != EEXIST)
		return fail("%s: %s", p.dir, strerror(errno));
	if (cur.prog_id) {
		old_fd = bpf_prog_get_fd_by_id(cur.prog_id);
		if (port < 0)
			port = pinned_gue_port(&p);
	}
	if (port < 0)
		port = KEEL_BPF_GUE_DEFAULT_PORT;

	skel = decap_bpf__open();
	if (!skel) {
		fail("opening the BPF object: %s", strerror(errno));
		goto out_close_old;
	}
	skel->rodata->gue_port = (__u16)port;
	{
		int h = a->handoff >= 0 ? a->handoff : pinned_handoff(&p);

		skel->rodata->handoff_kernel = h > 0;
	}
	/* Existing pins are reused: VIPs, addresses and counters survive a reload. */
	if (bpf_map__set_pin_path(skel->maps.keel_decap_local, p.local) ||
	    bpf_map__set_pin_path(skel->maps.keel_decap_vips, p.vips) ||
	    bpf_map__set_pin_path(skel->maps.keel_decap_cnt, p.cnt) ||
	    bpf_map__set_pin_path(skel->maps.keel_decap_peers, p.peers)) {
		fail("setting pin paths: %s", strerror(errno));
		goto out_destroy;
	}
	if (decap_bpf__load(skel)) {
		fail("loading the XDP program: %s%s", strerror(errno),
		     a->verbose ? "" : " (run with -v for the verifier log)");
		goto out_destroy;
	}
	if (maps_edit(skel, a))
		goto out_destroy;
	n_local = map_count(bpf_map__fd(skel->maps.keel_decap_local));
	if (n_local == 0) {
		n_local = local_from_iface(bpf_map__fd(skel->maps.keel_decap_local), a->iface);
		if (n_local < 0)
			goto out_destroy;
	}
	err = xdp_attach_auto(ifindex, bpf_program__fd(skel->progs.keel_decap), a->mode, &cur, old_fd);
	if (err) {
		fail("%s: attaching XDP: %s", a->iface, strerror(-err));
		goto out_destroy;
	}
	attached = true;
	unlink(p.prog);
	unlink(p.rodata);
	if (bpf_program__pin(skel->progs.keel_decap, p.prog) ||
	    bpf_map__pin(skel->maps.rodata, p.rodata)) {
		fail("%s: pinning under %s: %s", a->iface, p.dir, strerror(errno));
		goto out_destroy;
	}

	n_vips = map_count(bpf_map__fd(skel->maps.keel_decap_vips));
	xdp_state_get(ifindex, &now);
	if (a->json) {
		printf("{\"iface\":\"%s\",\"attached\":true,\"mode\":\"%s\",\"prog_id\":%u,\"gue_port\":%ld,\"n_local\":%d,\"n_vips\":%d}\n",
		       a->iface, mode_name(now.mode), now.prog_id, port, n_local, n_vips);
	} else {
		printf("%s: attached (%s), program id %u, GUE port %ld, %d local address%s, %d VIP%s\n",
		       a->iface, mode_name(now.mode), now.prog_id, port, n_local,
		       n_local == 1 ? "" : "es", n_vips, n_vips == 1 ? "" : "s");
		if (n_local == 0)
			fprintf(stderr, "%s: warning: no local address: nothing will be decapsulated until --local is given\n",
				prog_name);
	}
	rc = 0;
out_destroy:
	if (rc && !cur.prog_id) {
		/* A first attach that failed: take back what it did (the pins it made, the program). */
		if (attached) {
			LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = bpf_program__fd(skel->progs.keel_decap));

			xdp_state_get(ifindex, &now);
			bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE | (now.mode == XDP_ATTACHED_SKB ?
								     XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE), &o);
		}
		if (!had_pins)
			pins_remove(&p);
	}
	/* The netlink attachment and the pins keep the program and maps alive after we exit. */
	decap_bpf__destroy(skel);
out_close_old:
	if (old_fd >= 0)
		close(old_fd);
	if (rc && !cur.prog_id && !had_pins)
		rmdir(p.dir);
	return rc;
}

static int cmd_detach(const struct args *a, int ifindex)
{
	struct xdp_state cur = { 0 };
	struct pins p;
	__u32 ours;
	int err;

	pins_init(&p, a->iface);
	if (xdp_state_get(ifindex, &cur))
		return fail("%s: querying XDP: %s", a->iface, strerror(errno));
	ours = pinned_prog_id(&p);
	if (cur.prog_id && cur.prog_id != ours)
		return fail("%s: the attached XDP program (id %u) is not keel-decap's; left alone",
			    a->iface, cur.prog_id);
	if (cur.prog_id) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = bpf_prog_get_fd_by_id(cur.prog_id));
		__u32 flags = XDP_FLAGS_REPLACE |
			      (cur.mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		err = bpf_xdp_detach(ifindex, flags, &o);
		if (o.old_prog_fd >= 0)
			close(o.old_prog_fd);
		if (err)
			return fail("%s: detaching XDP: %s", a->iface, strerror(-err));
	}
	pins_remove(&p);
	if (a->json)
		printf("{\"iface\":\"%s\",\"detached\":%s}\n", a->iface, cur.prog_id ? "true" : "false");
	else
		printf("%s: %s\n", a->iface, cur.prog_id ? "detached" : "was not attached; pins removed");
	return 0;
}

static void print_addrs(int fd, bool json)
{
	struct keel_bpf_addr_key k, next;
	char buf[INET6_ADDRSTRLEN];
	void *prev = NULL;
	int n = 0;

	while (n < KEEL_BPF_MAX_ADDRS && fd >= 0 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (json)
			printf("%s\"%s\"", n ? "," : "", addr_text(&k, buf, sizeof(buf)));
		else
			printf(" %s", addr_text(&k, buf, sizeof(buf)));
		n++;
	}
	if (!json && n == 0)
		printf(" (none)");
}

static int cmd_status(const struct args *a, int ifindex)
{
	struct xdp_state cur = { 0 };
	struct pins p;
	int ncpu = libbpf_num_possible_cpus();
	struct keel_bpf_counter *v;
	int local, vips, cnt, peers, i, c;
	bool attached;
	__u32 ours;

	pins_init(&p, a->iface);
	if (xdp_state_get(ifindex, &cur))
		return fail("%s: querying XDP: %s", a->iface, strerror(errno));
	ours = pinned_prog_id(&p);
	attached = ours && cur.prog_id == ours;
	if (!attached) {
		if (a->json)
			printf("{\"iface\":\"%s\",\"attached\":false}\n", a->iface);
		else
			printf("%s: keel-decap not attached%s\n", a->iface,
			       cur.prog_id ? " (another XDP program is)" : "");
		return 1;
	}
	local = bpf_obj_get(p.local);
	vips = bpf_obj_get(p.vips);
	cnt = bpf_obj_get(p.cnt);
	peers = bpf_obj_get(p.peers);
	if (a->json) {
		printf("{\"iface\":\"%s\",\"attached\":true,\"mode\":\"%s\",\"prog_id\":%u,\"gue_port\":%ld,\"local\":[",
		       a->iface, mode_name(cur.mode), cur.prog_id, pinned_gue_port(&p));
		print_addrs(local, true);
		printf("],\"vips\":[");
		print_addrs(vips, true);
		printf("],\"peers\":[");
		if (peers >= 0)
			print_addrs(peers, true);
		printf("],\"counters\":{");
	} else {
		printf("%s: attached (%s), program id %u, GUE port %ld\n  local:", a->iface,
		       mode_name(cur.mode), cur.prog_id, pinned_gue_port(&p));
		print_addrs(local, false);
		printf("\n  vips: ");
		print_addrs(vips, false);
		printf("\n  peers:");
		if (peers >= 0)
			print_addrs(peers, false);
		printf("\n  %-22s %14s %16s\n", "verdict", "packets", "bytes");
	}
	v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
	for (i = 0; i < KEEL_DECAP_MAX; i++) {
		unsigned long long pk = 0, by = 0;
		__u32 key = (__u32)i;

		if (v && cnt >= 0 && bpf_map_lookup_elem(cnt, &key, v) == 0)
			for (c = 0; c < ncpu; c++) {
				pk += v[c].packets;
				by += v[c].bytes;
			}
		if (a->json)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", i ? "," : "",
			       verdict_names[i], pk, by);
		else
			printf("  %-22s %14llu %16llu\n", verdict_names[i], pk, by);
	}
	if (a->json)
		printf("}}\n");
	free(v);
	if (local >= 0)
		close(local);
	if (vips >= 0)
		close(vips);
	if (cnt >= 0)
		close(cnt);
	if (peers >= 0)
		close(peers);
	return 0;
}

/* --- command line --- */

/* Every address option parses, each named by its own option: checked before anything is touched. */
static int args_check(const struct args *a)
{
	const struct {
		const char *name;
		const char *const *list;
		int n;
	} opts[] = {
		{ "--vip", a->vips, a->n_vips },
		{ "--local", a->locals, a->n_locals },
		{ "--del-vip", a->del_vips, a->n_del_vips },
		{ "--peer", a->peers, a->n_peers },
		{ "--del-peer", a->del_peers, a->n_del_peers },
	};
	struct keel_bpf_addr_key k;
	size_t i;
	int j;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		for (j = 0; j < opts[i].n; j++)
			if (addr_parse(opts[i].list[j], &k)) {
				fail("%s: not an IPv4 or IPv6 address: %s", opts[i].name, opts[i].list[j]);
				return EXIT_USAGE;
			}
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "vip", required_argument, NULL, 'V' },
		{ "local", required_argument, NULL, 'L' },
		{ "del-vip", required_argument, NULL, 'D' },
		{ "peer", required_argument, NULL, 'P' },
		{ "handoff", required_argument, NULL, 'H' },
		{ "del-peer", required_argument, NULL, 'X' },
		{ "gue-port", required_argument, NULL, 'g' },
		{ "mode", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *endp;
	int c;

	memset(a, 0, sizeof(*a));
	a->gue_port = -1;
	a->handoff = -1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
		case 'L':
		case 'D':
		case 'P':
		case 'X': {
			const char **list = c == 'V' ? a->vips : c == 'L' ? a->locals : c == 'D' ? a->del_vips :
					    c == 'P' ? a->peers : a->del_peers;
			int *n = c == 'V' ? &a->n_vips : c == 'L' ? &a->n_locals : c == 'D' ? &a->n_del_vips :
				 c == 'P' ? &a->n_peers : &a->n_del_peers;

			if (*n >= MAX_ADDRS) {
				fail("at most %d addresses per option", MAX_ADDRS);
				return EXIT_USAGE;
			}
			list[(*n)++] = optarg;
			break;
		}
		case 'g':
			errno = 0;
			a->gue_port = strtol(optarg, &endp, 10);
			if (errno || *endp || a->gue_port < 1 || a->gue_port > 65535) {
				fail("--gue-port: not a port number: %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (strcmp(optarg, "native") == 0) {
				a->mode = MODE_NATIVE;
			} else if (strcmp(optarg, "generic") == 0) {
				a->mode = MODE_GENERIC;
			} else {
				fail("--mode: native or generic, not %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'H':
			if (strcmp(optarg, "xdp") == 0 || strcmp(optarg, "kernel") == 0) {
				a->handoff = optarg[0] == 'k';
			} else {
				fail("--handoff: xdp or kernel, not %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			a->json = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	a->cmd = argv[optind];
	a->iface = argv[optind + 1];
	if (strcmp(a->cmd, "attach") != 0 &&
	    (a->n_vips || a->n_locals || a->n_del_vips || a->n_peers || a->n_del_peers || a->gue_port >= 0 || a->handoff >= 0 ||
	     a->mode)) {
		fail("%s takes no --vip, --local, --del-vip, --peer, --del-peer, --gue-port or --mode", a->cmd);
		return EXIT_USAGE;
	}
	if (strlen(a->iface) >= IF_NAMESIZE || strchr(a->iface, '/')) {
		fail("not an interface name: %s", a->iface);
		return EXIT_USAGE;
	}
	return args_check(a);
}

/* Loading XDP and pinning maps: root, or CAP_BPF/CAP_SYS_ADMIN (39/21) with CAP_NET_ADMIN (12). */
static bool may_load_bpf(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long eff = 0;
	char line[128];

	if (geteuid() == 0)
		return true;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff & (1ull << 12)) && (eff & ((1ull << 39) | (1ull << 21)));
}

int main(int argc, char **argv)
{
	struct args a;
	int ifindex, rc;

	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (strcmp(a.cmd, "attach") != 0 && strcmp(a.cmd, "detach") != 0 &&
	    strcmp(a.cmd, "status") != 0) {
		fail("unknown command %s (attach, detach or status)", a.cmd);
		return EXIT_USAGE;
	}
	verbose = a.verbose;
	libbpf_set_print(libbpf_log);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	ifindex = (int)if_nametoindex(a.iface);
	if (!ifindex)
		return fail("%s: no such interface (see `ip link`; in a namespace, run keel-decap inside it)",
			    a.iface);
	if (strcmp(a.cmd, "status") != 0 && !may_load_bpf())
		return fail("%s needs root, or CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN: run it as root",
			    a.cmd);
	if (strcmp(a.cmd, "attach") == 0)
		return cmd_attach(&a, ifindex);
	if (strcmp(a.cmd, "detach") == 0)
		return cmd_detach(&a, ifindex);
	return cmd_status(&a, ifindex);
}
