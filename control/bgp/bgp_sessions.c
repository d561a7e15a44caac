/* The announcement runtime's BIRD thread: the sessions of the configured neighbours and what BIRD exports to each, once a second. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "bgp_bird.h"
#include "bgp_priv.h"
#include "config.h"
#include "config_field.h"
#include "log.h"

/* Record what BIRD exports to peers[k] (under b->mu): got < 0 is unknown, why says why. */
static void peer_exports(struct bgp *b, uint32_t k, const struct bgp_bird_net *nets, int got,
			 const char *why)
{
	struct bgp_peer *pe = &b->peers[k];
	uint32_t i, bit = 1u << k;
	int j, n = got < BGP_EXPORT_MAX ? got : BGP_EXPORT_MAX;

	pe->export_known = got >= 0;
	pe->exported = got > 0 ? (uint32_t)got : 0;
	snprintf(pe->export_error, sizeof(pe->export_error), "%s", got >= 0 ? "" : why);
	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_addr *a = &b->addrs[i];
		uint8_t full = a->family == KEEL_AF_INET4 ? 32 : 128;
		bool in = false;

		for (j = 0; j < n && !in; j++)
			in = nets[j].family == a->family && nets[j].len == full &&
			     !memcmp(nets[j].addr, a->addr, a->family == KEEL_AF_INET4 ? 4 : 16);
		a->exported = in ? a->exported | bit : a->exported & ~bit;
	}
}

/*
 * What BIRD exports to each BGP peer ("show route export NAME": its export
 * filter applied), one request per peer outside the lock. The kernel table
 * says what keel-control asks for; this is what the routers are sent.
 */
static void bird_exports(struct bgp *b, const char *path, const struct bgp_bird_proto *p, int n)
{
	struct bgp_bird_net *nets = malloc(BGP_EXPORT_MAX * sizeof(*nets));
	char why[160];
	uint32_t k;
	int i, got;

	for (i = 0; i < n; i++) {
		if (strcmp(p[i].proto, "BGP"))
			continue;
		if (!nets) {
			got = -ENOMEM;
			snprintf(why, sizeof(why), "out of memory");
		} else if (!p[i].up) {
			/* No session, nothing sent, whatever the table holds. */
			got = 0;
		} else {
			got = bgp_bird_show_export(path, p[i].name, BGP_BIRD_TIMEOUT_MS, nets,
						   BGP_EXPORT_MAX, why, sizeof(why));
			if (got == -EREMOTEIO)
				got = 0; /* "No valid tables": the channel is down, nothing exported */
		}
		pthread_mutex_lock(&b->mu);
		for (k = 0; k < b->n_peers; k++)
			if (!strcmp(b->peers[k].name, p[i].name))
				break;
		if (k < b->n_peers)
			peer_exports(b, k, nets, got, why);
		pthread_mutex_unlock(&b->mu);
	}
	free(nets);
}

static void bird_poll(struct bgp *b)
{
	struct bgp_bird_proto p[64];
	char path[CONFIG_BGP_SOCKET_MAX], why[256];
	int n, i;
	uint32_t k;

	pthread_mutex_lock(&b->mu);
	snprintf(path, sizeof(path), "%s", b->cfg.bird_socket);
	pthread_mutex_unlock(&b->mu);
	/* The slow part (up to the timeout) outside the lock: the live thread never waits on BIRD. */
	n = bgp_bird_show_protocols(path, BGP_BIRD_TIMEOUT_MS, p, 64, why, sizeof(why));
	pthread_mutex_lock(&b->mu);
	b->bird_polls++;
	if (n < 0) {
		b->bird_failures++;
		if (b->speaker_up || strcmp(b->speaker_error, why))
			log_event(LOG_ERROR, "bgp_speaker_down", "socket=%s reason=%s table=%u retry_ms=%u",
				  path, why, b->cfg.table, BGP_BIRD_POLL_MS);
		snprintf(b->speaker_error, sizeof(b->speaker_error), "%s", why);
		b->speaker_up = false;
		for (k = 0; k < b->n_peers; k++) {
			b->peers[k].p.up = false;
			peer_exports(b, k, NULL, -1, why);
		}
		pthread_mutex_unlock(&b->mu);
		return;
	}
	if (!b->speaker_up)
		log_event(LOG_INFO, "bgp_speaker_up", "socket=%s", path);
	b->speaker_up = true;
	b->speaker_error[0] = 0;
	for (k = 0; k < b->n_peers; k++)
		b->peers[k].seen = false;
	for (i = 0; i < n && i < 64; i++) {
		if (strcmp(p[i].proto, "BGP"))
			continue;
		for (k = 0; k < b->n_peers; k++)
			if (!strcmp(b->peers[k].name, p[i].name))
				break;
		if (k == b->n_peers) {
			if (k == sizeof(b->peers) / sizeof(b->peers[0]))
				continue;
			memset(&b->peers[k], 0, sizeof(b->peers[k]));
			/* Same sizes (BGP_BIRD_NAME_MAX, CONFIG_TEXT_MAX), NUL-terminated by the parser. */
			_Static_assert(sizeof(b->peers[k].label) == sizeof(p[i].name), "label size");
			memcpy(b->peers[k].name, p[i].name, sizeof(b->peers[k].name));
			memcpy(b->peers[k].label, p[i].name, sizeof(b->peers[k].label));
			b->n_peers++;
		}
		if (b->peers[k].p.up != p[i].up)
			log_event(p[i].up ? LOG_INFO : LOG_WARN,
				  p[i].up ? "bgp_session_up" : "bgp_session_down",
				  "peer=%s protocol=%s info=%s", b->peers[k].label, p[i].name, p[i].info);
		b->peers[k].p = p[i];
		b->peers[k].seen = true;
	}
	for (k = 0; k < b->n_peers; k++)
		if (!b->peers[k].seen) {
			b->peers[k].p.up = false;
			peer_exports(b, k, NULL, -1, "no such protocol in BIRD");
		}
	pthread_mutex_unlock(&b->mu);
	bird_exports(b, path, p, n < 64 ? n : 64);
}

void *bgp_sessions_main(void *arg)
{
	struct bgp *b = arg;

	for (;;) {
		struct timespec dl;
		bool enabled;

		pthread_mutex_lock(&b->mu);
		enabled = b->cfg.enabled && !b->stop;
		pthread_mutex_unlock(&b->mu);
		if (enabled)
			bird_poll(b);
		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += BGP_BIRD_POLL_MS / 1000;
		while (!b->stop && pthread_cond_timedwait(&b->wake, &b->mu, &dl) != ETIMEDOUT)
			;
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			return NULL;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

/* The configured neighbours as peers (BIRD's names from config_bgp_peer_name). */
void bgp_sessions_from_config(struct bgp *b)
{
	uint32_t i;

	b->n_peers = 0;
	for (i = 0; i < b->cfg.n_neighbours; i++) {
		struct bgp_peer *p = &b->peers[b->n_peers++];

		memset(p, 0, sizeof(*p));
		config_bgp_peer_name(i, p->name, sizeof(p->name));
		config_format_addr(b->cfg.neighbours[i].addr, b->cfg.neighbours[i].family, p->label);
		p->asn = b->cfg.neighbours[i].asn;
	}
}
