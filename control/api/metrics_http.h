/* keel-control's Prometheus endpoint: GET /metrics over TCP (text format 0.0.4), nothing else. */
#ifndef KEEL_CONTROL_METRICS_HTTP_H
#define KEEL_CONTROL_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct keel_control;
struct metrics_http;

/*
 * Serve control_metrics(c) at http://addr:port/metrics (family KEEL_AF_INET4
 * or KEEL_AF_INET6; the configuration's default is 127.0.0.1:9105). NULL
 * with errno and why on failure.
 */
struct metrics_http *metrics_http_start(struct keel_control *c, const uint8_t addr[16],
					uint8_t family, uint16_t port, char *why, size_t whylen);
void metrics_http_stop(struct metrics_http *m);

#endif
