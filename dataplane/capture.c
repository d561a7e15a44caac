/*
 * Packet capture with DPDK's own tools: the primary's side of the pdump protocol, so that
 * dpdk-dumpcap and dpdk-pdump attach to keel-dataplane, without the race of DPDK 22.11's.
 *
 * librte_pdump's server removes a capture's RX/TX callback and answers at once, while a
 * worker may still be inside that callback copying packets into the capture's mempool;
 * dpdk-dumpcap frees the mempool and ring as soon as it has the answer, and the worker
 * then writes into freed memory (seen here: keel-dataplane killed by SIGSEGV in
 * rte_pktmbuf_copy under load when dumpcap stopped). So keel-dataplane answers the same
 * requests ("mp_pdump", the same request and reply layout, the same statistics memzone)
 * with its own callbacks, and answers a stop only once no worker is inside the callback.
 */
#define ALLOW_EXPERIMENTAL_API 1 /* rte_pcapng_copy (experimental in 22.11) */
#include "capture.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_pcapng.h>
#include <rte_pdump.h>
#include <rte_ring.h>

#include "log.h"

/* librte_pdump's own names and layouts (lib/pdump/rte_pdump.c, DPDK 22.11): the wire protocol. */
#define CAPTURE_MP "mp_pdump"
#define CAPTURE_STATS_MZ "rte_pdump_stats"
enum { CAPTURE_DISABLE = 1, CAPTURE_ENABLE = 2 };
enum { CAPTURE_V1 = 1 /* plain copies (dpdk-pdump) */, CAPTURE_V2 = 2 /* pcapng, filter, snaplen */ };

struct capture_request {
	uint16_t ver;
	uint16_t op;
	uint32_t flags;
	char device[RTE_DEV_NAME_MAX_LEN];
	uint16_t queue;
	struct rte_ring *ring;
	struct rte_mempool *mp;
	const struct rte_bpf_prm *prm;
	uint32_t snaplen;
};

struct capture_response {
	uint16_t ver;
	uint16_t res_op;
	int32_t err_value;
};

/* The statistics memzone rte_pdump_init reserves; dpdk-dumpcap reads it (rte_pdump_stats). */
struct capture_stats_mz {
	struct rte_pdump_stats rx[RTE_MAX_ETHPORTS][RTE_MAX_QUEUES_PER_PORT];
	struct rte_pdump_stats tx[RTE_MAX_ETHPORTS][RTE_MAX_QUEUES_PER_PORT];
	const struct rte_memzone *mz;
};

/* Ports and queues a capture may name: every data port and TAP, a queue per worker. */
#define CAPTURE_MAX_PORTS 32
#define CAPTURE_MAX_QUEUES 64
#define CAPTURE_CHUNK 32

/*
 * One capture point (port, queue, direction). The mp thread writes it while no
 * callback is installed; the worker that polls the queue runs the callback.
 * enabled and active are the handshake of a stop: the server clears enabled,
 * removes the callback, then waits while active; the callback sets active,
 * then reads enabled (both sequentially consistent, so one of the two sees the
 * other's store) and touches ring and mempool only when it is still enabled.
 */
struct capture_point {
	uint32_t enabled;
	uint32_t active;
	uint32_t ver;
	uint32_t snaplen;
	uint16_t port;
	uint16_t queue;
	bool tx;
	struct rte_ring *ring;
	struct rte_mempool *mp;
	struct rte_bpf *filter;
	struct rte_pdump_stats *stats;
	const struct rte_eth_rxtx_callback *cb;
	pid_t owner;             /* the capturing process, 0 when unknown */
} __rte_cache_aligned;

static struct capture_point points[2][CAPTURE_MAX_PORTS][CAPTURE_MAX_QUEUES];
static struct capture_stats_mz *capture_stats;
/* The mp thread (requests) and the main thread (capture_reap, capture_fini) share the points. */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The sender of a request, from the reply address EAL gives the handler: in
 * DPDK 22.11 the path of the secondary's socket, ".../mp_socket_PID_TSC". 0
 * when it is not of that form (then no owner checks).
 */
static pid_t capture_peer_pid(const void *peer)
{
	const char *s = peer ? strstr((const char *)peer, "/mp_socket_") : NULL;
	char *end;
	long v;

	if (!s)
		return 0;
	v = strtol(s + 11, &end, 10);
	return *end == '_' && v > 0 && v < (1l << 30) ? (pid_t)v : 0;
}

/* A capture whose process is gone (dpdk-dumpcap killed with SIGKILL never sends its stop). */
static bool capture_orphaned(const struct capture_point *p)
{
	return p->cb && p->owner && kill(p->owner, 0) && errno == ESRCH;
}

const char *capture_blocked_by(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--in-memory"))
			return "--in-memory (no multi-process channel)";
		if (!strcmp(a, "--no-shconf"))
			return "--no-shconf (no multi-process channel)";
		/* "existing" and "never" keep the files; the bare option means "always". */
		if (!strcmp(a, "--huge-unlink") || !strcmp(a, "--huge-unlink=always"))
			return "--huge-unlink (a secondary cannot map the hugepages)";
	}
	return NULL;
}

/* Worker context, only while a capture runs: no lock, no allocation but the capture's own mbufs. */
static void capture_copy(struct capture_point *p, struct rte_mbuf **pkts, uint16_t n)
{
	__atomic_store_n(&p->active, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&p->enabled, __ATOMIC_SEQ_CST)) {
		enum rte_pcapng_direction dir = p->tx ? RTE_PCAPNG_DIRECTION_OUT : RTE_PCAPNG_DIRECTION_IN;
		uint64_t ts = rte_get_tsc_cycles();
		uint16_t off;

		for (off = 0; off < n; off += CAPTURE_CHUNK) {
			uint16_t m = n - off < CAPTURE_CHUNK ? n - off : CAPTURE_CHUNK;
			struct rte_mbuf *dup[CAPTURE_CHUNK];
			uint64_t rc[CAPTURE_CHUNK];
			unsigned int d = 0, enq, i;

			if (p->filter)
				rte_bpf_exec_burst(p->filter, (void **)(pkts + off), rc, m);
			for (i = 0; i < m; i++) {
				struct rte_mbuf *c;

				/* The socket-filter convention: 0 means no match. */
				if (p->filter && !rc[i]) {
					__atomic_fetch_add(&p->stats->filtered, 1, __ATOMIC_RELAXED);
					continue;
				}
				c = p->ver == CAPTURE_V2 ?
					    rte_pcapng_copy(p->port, p->queue, pkts[off + i], p->mp, p->snaplen, ts, dir) :
					    rte_pktmbuf_copy(pkts[off + i], p->mp, 0, p->snaplen);
				if (!c)
					__atomic_fetch_add(&p->stats->nombuf, 1, __ATOMIC_RELAXED);
				else
					dup[d++] = c;
			}
			__atomic_fetch_add(&p->stats->accepted, d, __ATOMIC_RELAXED);
			enq = rte_ring_enqueue_burst(p->ring, (void **)dup, d, NULL);
			if (enq < d) {
				__atomic_fetch_add(&p->stats->ringfull, d - enq, __ATOMIC_RELAXED);
				rte_pktmbuf_free_bulk(dup + enq, d - enq);
			}
		}
	}
	__atomic_store_n(&p->active, 0, __ATOMIC_RELEASE);
}

static uint16_t capture_rx(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n,
			   uint16_t max, void *arg)
{
	(void)port;
	(void)queue;
	(void)max;
	capture_copy(arg, pkts, n);
	return n;
}

static uint16_t capture_tx(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	(void)port;
	(void)queue;
	capture_copy(arg, pkts, n);
	return n;
}

/* Stop one point and return only once its worker is out of the callback (bounded: 1 s). */
static int capture_point_stop(struct capture_point *p)
{
	uint64_t deadline;
	int ret;

	if (!p->cb)
		return -EINVAL;
	__atomic_store_n(&p->enabled, 0, __ATOMIC_SEQ_CST);
	ret = p->tx ? rte_eth_remove_tx_callback(p->port, p->queue, p->cb) :
		      rte_eth_remove_rx_callback(p->port, p->queue, p->cb);
	if (ret)
		log_event(LOG_WARN, "capture_stop", "port=%u queue=%u dir=%s error=%s", p->port,
			  p->queue, p->tx ? "tx" : "rx", rte_strerror(-ret));
	deadline = rte_get_timer_cycles() + rte_get_timer_hz();
	while (__atomic_load_n(&p->active, __ATOMIC_ACQUIRE)) {
		if (rte_get_timer_cycles() > deadline) {
			log_event(LOG_ERROR, "capture_stop", "port=%u queue=%u dir=%s reason=%s", p->port,
				  p->queue, p->tx ? "tx" : "rx", "a worker stayed in the capture callback 1 s");
			return -EBUSY;
		}
		usleep(10);
	}
	/*
	 * Not freed: ethdev leaves the removed callback's memory to its owner, and a worker
	 * may still follow its next pointer. A few dozen bytes per capture, as with pdump.
	 */
	p->cb = NULL;
	rte_bpf_destroy(p->filter);
	p->filter = NULL;
	p->ring = NULL;
	p->mp = NULL;
	p->owner = 0;
	return 0;
}

static int capture_point_start(struct capture_point *p, const struct capture_request *r, pid_t owner)
{
	if (capture_orphaned(p)) {
		log_event(LOG_WARN, "capture_orphan", "port=%u queue=%u dir=%s pid=%d action=stopped",
			  p->port, p->queue, p->tx ? "tx" : "rx", (int)p->owner);
		capture_point_stop(p);
	}
	if (p->cb)
		return -EEXIST;
	p->owner = owner;
	p->filter = NULL;
	if (r->prm) {
		if (r->prm->prog_arg.type != RTE_BPF_ARG_PTR_MBUF)
			return -EINVAL;
		/* One program per point: each is destroyed with its point. */
		p->filter = rte_bpf_load(r->prm);
		if (!p->filter)
			return rte_errno ? -rte_errno : -EINVAL;
	}
	p->ver = r->ver;
	p->snaplen = r->snaplen;
	p->ring = r->ring;
	p->mp = r->mp;
	p->stats = p->tx ? &capture_stats->tx[p->port][p->queue] : &capture_stats->rx[p->port][p->queue];
	__atomic_store_n(&p->enabled, 1, __ATOMIC_SEQ_CST);
	/* RX first in line, as pdump does: the frame as it came off the wire. */
	p->cb = p->tx ? rte_eth_add_tx_callback(p->port, p->queue, capture_tx, p) :
			rte_eth_add_first_rx_callback(p->port, p->queue, capture_rx, p);
	if (!p->cb) {
		__atomic_store_n(&p->enabled, 0, __ATOMIC_SEQ_CST);
		rte_bpf_destroy(p->filter);
		p->filter = NULL;
		return rte_errno ? -rte_errno : -EINVAL;
	}
	return 0;
}

/* One request: every queue (or one) of a port, RX, TX or both. A failed start undoes itself. */
static int capture_request(const struct capture_request *r, pid_t peer)
{
	struct rte_eth_dev_info info;
	uint16_t port, q, q0, qn[2];
	int ret = 0, d;

	if (r->ver != CAPTURE_V1 && r->ver != CAPTURE_V2)
		return -EINVAL;
	if ((r->op != CAPTURE_ENABLE && r->op != CAPTURE_DISABLE) || !(r->flags & RTE_PDUMP_FLAG_RXTX))
		return -EINVAL;
	if (r->op == CAPTURE_ENABLE && (!r->ring || !r->mp))
		return -EINVAL;
	if (memchr(r->device, '\0', sizeof(r->device)) == NULL ||
	    rte_eth_dev_get_port_by_name(r->device, &port) || port >= CAPTURE_MAX_PORTS)
		return -EINVAL;
	ret = rte_eth_dev_info_get(port, &info);
	if (ret)
		return ret;
	qn[0] = info.nb_rx_queues;
	qn[1] = info.nb_tx_queues;
	for (d = 0; d < 2; d++) {
		uint16_t end;

		if (!(r->flags & (d ? RTE_PDUMP_FLAG_TX : RTE_PDUMP_FLAG_RX)))
			continue;
		q0 = r->queue == RTE_PDUMP_ALL_QUEUES ? 0 : r->queue;
		end = r->queue == RTE_PDUMP_ALL_QUEUES ? qn[d] : (uint16_t)(r->queue + 1);
		if (end > qn[d] || end > CAPTURE_MAX_QUEUES || q0 >= end) {
			ret = -EINVAL;
			break;
		}
		for (q = q0; q < end; q++) {
			struct capture_point *p = &points[d][port][q];

			p->port = port;
			p->queue = q;
			p->tx = d == 1;
			if (r->op == CAPTURE_ENABLE)
				ret = capture_point_start(p, r, peer);
			else if (!p->cb)
				continue; /* already stopped (an orphan reaped, a failed start) */
			else if (p->owner && peer && p->owner != peer)
				ret = -EPERM; /* another process's capture */
			else
				ret = capture_point_stop(p);
			if (ret)
				break;
		}
		if (ret)
			break;
	}
	if (ret && r->op == CAPTURE_ENABLE) {
		/* What this request started must not outlive the error its sender acts on. */
		for (d = 0; d < 2; d++)
			for (q = 0; q < CAPTURE_MAX_QUEUES; q++)
				if (points[d][port][q].cb && points[d][port][q].ring == r->ring)
					capture_point_stop(&points[d][port][q]);
	}
	log_event(ret ? LOG_WARN : LOG_INFO, r->op == CAPTURE_ENABLE ? "capture_start" : "capture_stop",
		  "port=%s queue=%s dir=%s filter=%s result=%s", r->device,
		  r->queue == RTE_PDUMP_ALL_QUEUES ? "all" : "one",
		  (r->flags & RTE_PDUMP_FLAG_RXTX) == RTE_PDUMP_FLAG_RXTX ? "rx,tx" :
		  r->flags & RTE_PDUMP_FLAG_RX ? "rx" : "tx",
		  r->op == CAPTURE_ENABLE && r->prm ? "yes" : "no", ret ? rte_strerror(-ret) : "ok");
	return ret;
}

/* The mp thread's handler of "mp_pdump" (one request at a time). */
static int capture_server(const struct rte_mp_msg *msg, const void *peer)
{
	struct rte_mp_msg reply;
	struct capture_response *resp = (struct capture_response *)reply.param;

	memset(&reply, 0, sizeof(reply));
	if (msg->len_param != sizeof(struct capture_request)) {
		/* Another DPDK's dpdk-dumpcap: its request is not this layout. */
		log_event(LOG_WARN, "capture_refused", "reason=%s len=%d want=%zu",
			  "request of another size (dpdk-dumpcap of another DPDK version?)", msg->len_param,
			  sizeof(struct capture_request));
		resp->err_value = -EINVAL;
	} else {
		struct capture_request r;

		memcpy(&r, msg->param, sizeof(r));
		resp->ver = r.ver;
		resp->res_op = r.op;
		pthread_mutex_lock(&capture_lock);
		resp->err_value = capture_request(&r, capture_peer_pid(peer));
		pthread_mutex_unlock(&capture_lock);
	}
	strcpy(reply.name, CAPTURE_MP);
	reply.len_param = sizeof(*resp);
	return rte_mp_reply(&reply, peer) < 0 ? -1 : 0;
}

/* The --file-prefix a secondary must give: the last part of the EAL's runtime directory. */
static const char *capture_prefix(void)
{
	const char *dir = rte_eal_get_runtime_dir();
	const char *slash = dir ? strrchr(dir, '/') : NULL;

	return slash ? slash + 1 : "rte";
}

bool capture_init(const char *blocked)
{
	const struct rte_memzone *mz;

	if (blocked) {
		/* Not a fault: the operator chose these options (tests and benchmarks do). */
		log_event(LOG_INFO, "capture", "available=no reason=%s hint=%s", blocked,
			  "start without --in-memory, --no-shconf and --huge-unlink to use dpdk-dumpcap");
		return false;
	}
	/* pdump's statistics memzone (dumpcap reads it), then our handler in place of pdump's. */
	if (rte_pdump_init() || !(mz = rte_memzone_lookup(CAPTURE_STATS_MZ)) ||
	    mz->len < sizeof(struct capture_stats_mz)) {
		log_event(LOG_WARN, "capture", "available=no reason=%s error=%s", "rte_pdump_init failed",
			  rte_strerror(rte_errno));
		return false;
	}
	capture_stats = mz->addr;
	rte_mp_action_unregister(CAPTURE_MP);
	if (rte_mp_action_register(CAPTURE_MP, capture_server)) {
		log_event(LOG_WARN, "capture", "available=no reason=%s error=%s",
			  "cannot register the capture handler", rte_strerror(rte_errno));
		rte_pdump_uninit();
		return false;
	}
	log_event(LOG_INFO, "capture", "available=yes file_prefix=%s tool=dpdk-dumpcap", capture_prefix());
	return true;
}

void capture_reap(bool on)
{
	int d, p, q;

	if (!on)
		return;
	pthread_mutex_lock(&capture_lock);
	for (d = 0; d < 2; d++)
		for (p = 0; p < CAPTURE_MAX_PORTS; p++)
			for (q = 0; q < CAPTURE_MAX_QUEUES; q++)
				if (capture_orphaned(&points[d][p][q])) {
					log_event(LOG_WARN, "capture_orphan",
						  "port=%d queue=%d dir=%s pid=%d action=stopped", p, q,
						  d ? "tx" : "rx", (int)points[d][p][q].owner);
					capture_point_stop(&points[d][p][q]);
				}
	pthread_mutex_unlock(&capture_lock);
}

void capture_fini(bool on)
{
	int d, p, q;

	if (!on)
		return;
	rte_mp_action_unregister(CAPTURE_MP);
	pthread_mutex_lock(&capture_lock);
	/* Workers have stopped: a capture still running loses its callbacks here, safely. */
	for (d = 0; d < 2; d++)
		for (p = 0; p < CAPTURE_MAX_PORTS; p++)
			for (q = 0; q < CAPTURE_MAX_QUEUES; q++)
				if (points[d][p][q].cb)
					capture_point_stop(&points[d][p][q]);
	pthread_mutex_unlock(&capture_lock);
	capture_stats = NULL;
	rte_pdump_uninit();
}
