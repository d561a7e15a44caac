/* HTTPS health checks against a loopback TLS server: SNI, Host, status range, resumption. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "health.h"
#include "health_probe.h"
#include "healthfix.h"

/* ---- HTTPS checks ------------------------------------------------------------------------- */

/*
 * A TLS server on loopback with a throwaway P-256 certificate made here. It
 * answers 200 when the client sent SNI "svc.test" and "Host: svc.test:PORT",
 * 421 otherwise, so one check covers SNI, Host and the status range.
 */
struct tls_server {
	struct server tcp; /* listener, stop fd and thread; mode unused */
	SSL_CTX *ctx;
	atomic_uint handshakes;
	atomic_uint resumed; /* of those, resumed sessions */
};

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"svc.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static void *tls_main(void *arg)
{
	struct tls_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->tcp.lfd, .events = POLLIN },
					 { .fd = s->tcp.stop_fd, .events = POLLIN } };
		char req[2048], want[64];
		const char *sni, *resp;
		size_t len = 0;
		SSL *ssl;
		int fd;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		fd = accept4(s->tcp.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* Blocking with a bound: a stuck client must not hang the test. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 1 }, sizeof(struct timeval));
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			int n;

			atomic_fetch_add(&s->handshakes, 1);
			if (SSL_session_reused(ssl))
				atomic_fetch_add(&s->resumed, 1);
			while (len + 1 < sizeof(req) && (n = SSL_read(ssl, req + len, (int)(sizeof(req) - 1 - len))) > 0) {
				len += (size_t)n;
				req[len] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			req[len] = '\0';
			sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
			snprintf(want, sizeof(want), "\r\nHost: svc.test:%u\r\n", s->tcp.port);
			resp = sni && !strcmp(sni, "svc.test") && strstr(req, want)
				       ? "HTTP/1.0 204 No Content\r\n\r\n"
				       : "HTTP/1.0 421 Misdirected Request\r\n\r\n";
			SSL_write(ssl, resp, (int)strlen(resp));
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static void tls_start(struct tls_server *s)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert;
	uint16_t port;
	int lfd;

	memset(s, 0, sizeof(*s));
	assert_non_null(key);
	cert = self_signed(key);
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ctx);
	assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	lfd = healthfix_bound_socket(HEALTH_AF_INET4, &port);
	assert_true(lfd >= 0);
	s->tcp.lfd = lfd;
	s->tcp.port = port;
	s->tcp.stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->tcp.stop_fd >= 0);
	assert_int_equal(listen(lfd, 128), 0);
	assert_int_equal(pthread_create(&s->tcp.thread, NULL, tls_main, s), 0);
}

static void tls_stop(struct tls_server *s)
{
	uint64_t one = 1;

	assert_int_equal(write(s->tcp.stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->tcp.thread, NULL);
	close(s->tcp.lfd);
	close(s->tcp.stop_fd);
	SSL_CTX_free(s->ctx);
}

static void test_https_check(void **state)
{
	struct health *h = health_create();
	struct health_target t[4];
	struct health_status st;
	struct tls_server s;
	struct server plain;

	(void)state;
	assert_non_null(h);
	tls_start(&s);
	assert_true(healthfix_server_start(&plain, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	for (int i = 0; i < 4; i++) {
		t[i] = healthfix_http_target(HEALTH_AF_INET4, s.tcp.port, "/", 200);
		t[i].type = HEALTH_HTTPS;
		t[i].interval_ms = 200; /* a handshake on a loaded machine: room for it */
		t[i].timeout_ms = 150;
		snprintf(t[i].host, sizeof(t[i].host), "svc.test");
		t[i].expect_status_max = 299;
	}
	t[1].host[0] = '\0';     /* no SNI, Host is the address: 421 */
	t[2].expect_status_max = 0; /* 200 only: the 204 does not pass */
	t[3].port = plain.port;  /* not TLS at all: the handshake fails */
	assert_int_equal(health_set_targets(h, t, 4), 0);
	st = healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	assert_int_equal(st.last_http_status, 204);
	st = healthfix_wait_for(h, &t[0], WAIT_CHECKS, 3);
	assert_string_equal(st.last_text, "ok"); /* resumed handshakes pass too */
	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad status 421");
	st = healthfix_wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad status 204");
	st = healthfix_wait_for(h, &t[3], WAIT_STATE, HEALTH_STATE_DOWN);
	/*
	 * The plain server closes on our ClientHello: an orderly close fails the
	 * handshake, one with our bytes unread is a reset (the kernel's choice).
	 */
	if (strcmp(st.last_text, "bad_response: tls handshake failed") &&
	    strcmp(st.last_text, "error: Connection reset by peer"))
		fail_msg("not TLS: \"%s\"", st.last_text);
	health_destroy(h);
	tls_stop(&s);
	healthfix_server_stop(&plain);
	assert_true(atomic_load(&s.handshakes) >= 3);
	/* A target's later probes resume its TLS session instead of a full handshake. */
	printf("    %u TLS handshakes, %u resumed\n", atomic_load(&s.handshakes), atomic_load(&s.resumed));
	assert_true(atomic_load(&s.resumed) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_https_check),
	};

	/*
	 * The in-test servers (HTTPS, HTTP) write to probes that hang up after the
	 * status line: a write to a closed socket must fail with EPIPE, not kill
	 * the test (keel-control's checker thread blocks SIGPIPE, health.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
