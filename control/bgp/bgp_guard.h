/* keel-announce-guard: withdraws keel's announcement routes when the dataplane dies, whether keel-control runs or not. */
#ifndef KEEL_CONTROL_BGP_GUARD_H
#define KEEL_CONTROL_BGP_GUARD_H

/*
 * Run the guard until SIGINT or SIGTERM arrives on sfd (a signalfd that also
 * carries SIGHUP: re-read config_path). Every BGP_TICK_MS it looks at the
 * dataplane named by the configuration's instance (its region: running, its
 * process there, no worker stalled for BGP_STALL_MS) and, while the dataplane
 * is not serving, deletes every route of bgp.protocol in bgp.table. It never
 * adds a route: announcing is keel-control's; the guard only takes away what
 * a dead dataplane cannot serve, so that a keel-control restart (routes left
 * in place) is no BGP event and a dataplane that dies meanwhile is still
 * withdrawn within a second. Returns the process exit status.
 */
int bgp_guard_run(const char *config_path, int sfd);

#endif
