/* libFuzzer harness: BIRD control-socket replies ("show protocols", "show route export") as keel-control parses them, on arbitrary bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bgp_bird.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bgp_bird_proto p[4];
	struct bgp_bird_net nets[4];
	/* A copy of exactly size bytes: ASan catches any read past the reply. */
	char *buf = malloc(size ? size : 1);
	int n, i;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	n = bgp_bird_parse_protocols(buf, size, p, 4);
	if (n != -EAGAIN && n != -EPROTO && n < 0)
		abort();
	for (i = 0; i < n && i < 4; i++)
		if (strlen(p[i].name) >= sizeof(p[i].name) || strlen(p[i].info) >= sizeof(p[i].info) ||
		    (p[i].up && strcmp(p[i].proto, "BGP")))
			abort();
	/* The same bytes as a "show route export" reply. */
	n = bgp_bird_parse_routes(buf, size, nets, 4);
	if (n != -EAGAIN && n != -EPROTO && n != -EREMOTEIO && n < 0)
		abort();
	for (i = 0; i < n && i < 4; i++)
		if ((nets[i].family != 4 || nets[i].len > 32) && (nets[i].family != 6 || nets[i].len > 128))
			abort();
	free(buf);
	return 0;
}
