/* keel-control: configuration, health checks, publishing to keel-dataplane, management API and metrics. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api.h"
#include "bgp_guard.h"
#include "audit.h"
#include "config.h"
#include "config_fleet.h"
#include "control.h"
#include "control_bgp.h"
#include "log.h"
#include "metrics_http.h"
#include "notify.h"

/* One generated BIRD include, written whole (temporary file, fsync, rename): BIRD never reads half. */
static int write_include(const char *dir, const char *name, const struct config_bgp *b,
			 int (*gen)(const struct config_bgp *, FILE *))
{
	char path[4096], tmp[4200];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "keel-control: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	ret = gen(b, f);
	if (fflush(f) || fsync(fileno(f)))
		ret = -EIO;
	if (fclose(f) || ret || rename(tmp, path)) {
		fprintf(stderr, "keel-control: writing %s failed\n", path);
		unlink(tmp);
		return -1;
	}
	printf("%s\n", path);
	return 0;
}

static int bird_config(const char *config_path, const char *dir)
{
	struct keel_config *cfg = NULL;
	struct config_error err;
	int rc = 0;

	if (!config_path) {
		fprintf(stderr, "keel-control: --bird-config needs --config FILE\n");
		return 64;
	}
	if (config_load_file(config_path, &cfg, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 65;
	}
	if (!cfg->bgp.enabled) {
		fprintf(stderr, "keel-control: %s has no (enabled) bgp: section\n", config_path);
		config_free(cfg);
		return 65;
	}
	if (write_include(dir, "keel-defs.conf", &cfg->bgp, config_bgp_write_bird_defs) ||
	    write_include(dir, "keel-peers.conf", &cfg->bgp, config_bgp_write_bird_peers))
		rc = 1;
	config_free(cfg);
	return rc;
}

/* --fleet-spec FILE: the fleet spec of a complete configuration (its spec keys and "version"), one
 * JSON line, what `etcdctl put <prefix>/spec` takes to seed a fleet (docs/fleet.md). */
static int print_fleet_spec(const char *path)
{
	struct config_error err;
	struct keel_config *cfg = NULL;
	json_t *spec;
	int rc = 0;

	if (config_load_file(path, &cfg, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 65;
	}
	spec = config_fleet_spec_json(cfg);
	if (!spec || json_dumpf(spec, stdout, JSON_COMPACT | JSON_SORT_KEYS) || puts("") == EOF)
		rc = 1;
	json_decref(spec);
	config_free(cfg);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: keel-control --config FILE [--state-dir DIR] [options]\n"
		"       keel-control --check FILE\n"
		"Runs in the foreground: applies FILE (first start) or the persisted state,\n"
		"publishes it to the keel-dataplane named by its 'instance', checks backend\n"
		"health, serves the management API on its Unix socket and /metrics.\n"
		"  --config FILE         YAML configuration, re-read on SIGHUP (docs/config.md: Reload)\n"
		"  --state-dir DIR       persisted state (default /var/lib/keel)\n"
		"  --max-move SHARE      refuse applies moving more of a VIP's slots (default 0.5)\n"
		"  --publish-timeout MS  wait for worker acknowledgements (default 2000)\n"
		"  --second-chance-window S  carry a Maglev slot's previous owner this long after\n"
		"                        it changed, for backends to hand connections on (default\n"
		"                        900, the dataplane's TCP idle timeout; 0 off)\n"
		"  --check FILE          validate FILE and exit (0 valid, 65 refused)\n"
		"  --fleet-spec FILE     print FILE's fleet spec (JSON, to seed a fleet's store) and exit\n"
		"  --log-level LEVEL     debug, info (default), warn or error\n"
		"  --bird-config DIR     write DIR/keel-defs.conf and DIR/keel-peers.conf (BIRD\n"
		"                        includes of dist/bird/keel-host.conf) from --config's bgp: and exit\n"
		"  --announce-guard      run as keel-announce-guard: withdraw the announcement routes\n"
		"                        whenever the dataplane of --config's instance is down or\n"
		"                        stalled, with or without a keel-control running\n"
		"Signals: SIGHUP applies the file as keelctl config apply would (refused over the\n"
		"max-move limit, or when it would undo API changes; in a fleet, the file's host keys\n"
		"with the store's spec); SIGTERM stops and leaves the announcements in bgp.table (a\n"
		"restart is no BGP event; keel-announce-guard withdraws them if the dataplane dies\n"
		"meanwhile); SIGINT withdraws every announcement, keeps forwarding for\n"
		"bgp.drain_wait, then stops. To take a host out: keelctl host drain, then stop.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "max-move", required_argument, NULL, 'm' },
		{ "publish-timeout", required_argument, NULL, 't' },
		{ "second-chance-window", required_argument, NULL, 'w' },
		{ "check", required_argument, NULL, 'k' },
		{ "bird-config", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "announce-guard", no_argument, NULL, 'g' },
		{ "fleet-spec", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct control_params p = { .state_dir = "/var/lib/keel", .second_chance_s = -1 };
	const char *bird_dir = NULL;
	bool guard = false;
	char why[512], sock[128], group[40], admin[40];
	struct metrics_http *metrics = NULL;
	struct keel_control *c;
	struct api *api = NULL;
	uint8_t maddr[16], mfam;
	uint16_t mport;
	sigset_t mask;
	int opt, sfd, rc = 0;

	log_init();
	opterr = 0; /* one line of our own on a bad option, not getopt's and the usage */
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': p.config_path = optarg; break;
		case 's': p.state_dir = optarg; break;
		case 'm': p.max_move_share = strtod(optarg, NULL); break;
		case 't': p.publish_timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': {
			char *end;

			p.second_chance_s = strtoll(optarg, &end, 10);
			if (*end || end == optarg || p.second_chance_s < 0 || p.second_chance_s > 7 * 86400) {
				fprintf(stderr, "keel-control: --second-chance-window: expected 0..604800 s, got '%s'\n",
					optarg);
				return 64;
			}
			break;
		}
		case 'k': {
			struct config_error err;
			struct keel_config *cfg = NULL;
			size_t i;

			if (config_load_file(optarg, &cfg, &err)) {
				fprintf(stderr, "%s\n", err.msg);
				return 65;
			}
			for (i = 0; i < cfg->n_warnings; i++)
				fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
			config_free(cfg);
			printf("%s: valid\n", optarg);
			return 0;
		}
		case 'b': bird_dir = optarg; break;
		case 'g': guard = true; break;
		case 'l': {
			enum log_level l;

			if (log_parse_level(optarg, &l)) {
				fprintf(stderr, "keel-control: --log-level: debug, info, warn or error, not '%s'\n",
					optarg);
				return 64;
			}
			log_set_level(l);
			break;
		}
		case 'f': return print_fleet_spec(optarg);
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "keel-control: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return 64;
		}
	}
	if (optind != argc || (p.max_move_share < 0 || p.max_move_share > 1)) {
		fprintf(stderr, "keel-control: %s (see --help)\n",
			optind != argc ? "unexpected argument" : "--max-move: expected 0..1");
		return 64;
	}

	if (bird_dir)
		return bird_config(p.config_path, bird_dir);

	/* Signals arrive on a descriptor: the loop handles them between ticks, never mid-change. */
	/* An ignored signal never reaches a signalfd (a shell starts background jobs with SIGINT ignored). */
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (guard) {
		rc = bgp_guard_run(p.config_path, sfd);
		close(sfd);
		return rc;
	}

	c = control_create(&p, why, sizeof(why));
	if (!c) {
		/* One line: what failed, then what to do for the common causes. */
		log_event(LOG_ERROR, "start_failed", "reason=%s hint=%s", why,
			  strstr(why, "Permission denied") ?
				  "run as root (keel-control.service), or give --state-dir and api.socket paths this user may write" :
			  strstr(why, "No such file") ? "give --config an existing file (keel.yaml(5))" :
							"fix what the reason says (keel-control(8))");
		return 1;
	}
	control_api_params(c, sock, sizeof(sock), group, sizeof(group), admin, sizeof(admin), maddr,
			   &mfam, &mport);
	if (sock[0]) {
		api = api_start(c, sock, group, admin, why, sizeof(why));
		if (!api) {
			log_event(LOG_ERROR, "start_failed", "socket=%s reason=%s hint=%s", sock, why,
				  strstr(why, "ermission denied") ?
					  "run as root (keel-control.service) or set api.socket to a path this user may create" :
					  "set api.socket to a free path (keel.yaml(5))");
			control_destroy(c);
			return 1;
		}
	}
	if (mport) {
		metrics = metrics_http_start(c, maddr, mfam, mport, why, sizeof(why));
		if (!metrics) {
			log_event(LOG_ERROR, "start_failed", "reason=%s hint=%s", why,
				  "set metrics.listen to a free local address:port (keel.yaml(5))");
			api_stop(api);
			control_destroy(c);
			return 1;
		}
	}
	log_event(LOG_INFO, "running", "api=%s metrics_port=%u", sock[0] ? sock : "off", mport);
	/* Type=notify: ready once the API and /metrics answer (keelctl works from here on). */
	notify_send("READY=1\nSTATUS=running");

	for (;;) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;

		control_tick(c);
		if (poll(&pfd, 1, 100) <= 0 || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			notify_send("RELOADING=1");
			/* Who sent the signal, for the audit log (signalfd says). */
			audit_actor_set("sighup", (int64_t)si.ssi_uid, (int64_t)si.ssi_pid);
			/*
			 * As keelctl config apply without --force: guarded, and refused when it
			 * would undo API changes; control_reload logs the outcome and what changed.
			 */
			control_reload(c, 0, NULL, why, sizeof(why));
			audit_actor_clear();
			notify_send("READY=1");
			continue;
		}
		log_event(LOG_INFO, "stopping", "signal=%s dataplane=%s announcements=%s",
			  si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", "keeps forwarding",
			  si.ssi_signo == SIGINT ? "withdrawn" : "left for the next keel-control");
		notify_send("STOPPING=1");
		/*
		 * SIGTERM is what systemd sends for a restart (an upgrade) as for a stop: the routes
		 * stay, and keel-announce-guard withdraws them if the dataplane dies before the next
		 * keel-control adopts them. SIGINT (a foreground stop) withdraws and drains.
		 */
		if (si.ssi_signo == SIGINT)
			control_stop_announcing(c);
		break;
	}
	metrics_http_stop(metrics);
	api_stop(api);
	control_destroy(c);
	close(sfd);
	return rc;
}
