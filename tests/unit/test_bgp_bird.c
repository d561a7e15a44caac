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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
