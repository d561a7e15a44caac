/* BIRD's control-socket replies (control/bgp/bgp_bird.c): "show protocols" as BIRD 2.0.12 sends it, partial and error replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bgp_bird.h"

/* Captured from bird 2.0.12 (Debian bookworm), a device protocol and one BGP peer, then the same peer up. */
static const char idle[] =
	"2002-Name       Proto      Table      State  Since         Info\n"
	"1002-device1    Device     ---        up     14:29:28.470  \n"
	" keel_peer0 BGP        ---        start  14:29:28.470  Idle          \n"
	"0000 \n";
static const char established[] =
	"2002-Name       Proto      Table      State  Since         Info\n"
	"1002-device1    Device     ---        up     14:17:44.500  \n"
	" keel_kernel4 Kernel     keel4      up     14:17:44.500  \n"
	" keel_bfd   BFD        ---        up     14:17:44.500  \n"
	" keel_peer0 BGP        ---        up     14:17:49.191  Established   \n"
	" keel_peer1 BGP        ---        up     2026-12-02 14:17:49  Established   \n"
	"0000 \n";

/* "show route export keel_peer0" from bird 2.0.12: a peer up, then its channel down; a v6 table with next hops. */
static const char exported[] =
	"1007-Table keel4:\n"
	" 192.0.2.21/32        blackhole [keel_kernel4 11:50:48.996] * (10)\n"
	" 192.0.2.20/32        blackhole [keel_kernel4 11:50:48.996] * (10)\n"
	"                      blackhole [other 11:50:48.996] (200)\n"
	"0000 \n";
static const char exported6[] =
	"1007-Table keel6:\n"
	" 2001:db8::1/128      unicast [keel_kernel6 12:00:01.000] * (10)\n"
	" \tdev lo\n"
	"1007-2001:db8::2/128 unicast [keel_kernel6 12:00:01.000] * (10)\n"
	"0000 \n";
static const char channel_down[] = "9001 No valid tables\n";

static void test_routes(void **state)
{
	struct bgp_bird_net n[4];
	static const uint8_t a20[4] = { 192, 0, 2, 20 };

	(void)state;
	assert_int_equal(bgp_bird_parse_routes(exported, strlen(exported), n, 4), 2);
	assert_int_equal(n[0].family, 4);
	assert_int_equal(n[0].len, 32);
	assert_memory_equal(n[1].addr, a20, 4);
	assert_int_equal(n[1].addr[4], 0);
	assert_int_equal(bgp_bird_parse_routes(exported6, strlen(exported6), n, 4), 2);
	assert_int_equal(n[0].family, 6);
	assert_int_equal(n[0].len, 128);
	assert_int_equal(n[1].addr[15], 2);
	/* Counted past max, stored up to it. */
	assert_int_equal(bgp_bird_parse_routes(exported, strlen(exported), n, 1), 2);
	assert_int_equal(bgp_bird_parse_routes(channel_down, strlen(channel_down), n, 4), -EREMOTEIO);
	/* Incomplete: no final line yet. */
	assert_int_equal(bgp_bird_parse_routes(exported, strlen(exported) - 6, n, 4), -EAGAIN);
	assert_int_equal(bgp_bird_parse_routes("garbage\n", 8, n, 4), -EPROTO);
	/* Not networks: the count reply, a bad length, a bad address. */
	{
		static const char odd[] = "1007-2 of 2 routes for 2 networks in table keel4\n"
					  "1007-192.0.2.1/33 x\n1007-192.0.2.300/32 x\n1007-192.0.2.1/ x\n0000 \n";

		assert_int_equal(bgp_bird_parse_routes(odd, strlen(odd), n, 4), 0);
	}
}

static void test_idle(void **state)
{
	struct bgp_bird_proto p[8];

	(void)state;
	assert_int_equal(bgp_bird_parse_protocols(idle, strlen(idle), p, 8), 2);
	assert_string_equal(p[0].name, "device1");
	assert_string_equal(p[0].proto, "Device");
	assert_false(p[0].up);
	assert_string_equal(p[1].name, "keel_peer0");
	assert_string_equal(p[1].proto, "BGP");
	assert_string_equal(p[1].state, "start");
	assert_string_equal(p[1].info, "Idle");
	assert_false(p[1].up);
}

static void test_established(void **state)
{
	struct bgp_bird_proto p[8];

	(void)state;
	assert_int_equal(bgp_bird_parse_protocols(established, strlen(established), p, 8), 5);
	assert_false(p[1].up); /* a kernel protocol is never a session */
	assert_string_equal(p[3].name, "keel_peer0");
	assert_string_equal(p[3].info, "Established");
	assert_true(p[3].up);
	/* "since" as date and time (timeformat protocol iso long) */
	assert_string_equal(p[4].info, "Established");
	assert_true(p[4].up);
	/* more protocols than room: counted, not stored past max */
	assert_int_equal(bgp_bird_parse_protocols(established, strlen(established), p, 2), 5);
}

static void test_incomplete_and_errors(void **state)
{
	static const char err[] = "9001 syntax error, unexpected CF_SYM_UNDEFINED\n";
	static const char junk[] = "hello\n";
	struct bgp_bird_proto p[8];
	size_t cut;

	(void)state;
	/* Every prefix short of the final line is "not yet". */
	for (cut = 0; cut < strlen(established) - 1; cut++)
		assert_int_equal(bgp_bird_parse_protocols(established, cut, p, 8),
				 cut >= strlen(established) - strlen("0000 \n") + 5 ? 5 : -EAGAIN);
	assert_int_equal(bgp_bird_parse_protocols(err, strlen(err), p, 8), -EPROTO);
	assert_int_equal(bgp_bird_parse_protocols(junk, strlen(junk), p, 8), -EPROTO);
	assert_int_equal(bgp_bird_parse_protocols("1002-\n0000 \n", 12, p, 8), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_established),
		cmocka_unit_test(test_incomplete_and_errors),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
