/* Readiness and state notifications to systemd (the sd_notify datagram protocol), without libsystemd. */
#ifndef KEEL_SERVICE_NOTIFY_H
#define KEEL_SERVICE_NOTIFY_H

/*
 * Sends STATE ("READY=1", "STOPPING=1", "RELOADING=1", "STATUS=...", newline-separated) to the
 * socket named by $NOTIFY_SOCKET: an absolute path, or an abstract name starting with '@'.
 * Returns 1 when sent, 0 when not under a notify-aware service manager ($NOTIFY_SOCKET unset),
 * or a negative errno. One sendto() per call: for start-up, reload and stop, never per packet.
 */
int notify_send(const char *state);

#endif
