/* keel-maglev: offline Maglev table inspection for operators (slot shares, digest, full table, what a change moves). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "maglev.h"
#include "pkt.h"
#include "snapshot.h"

/* One backend line of a list file. */
struct entry {
	uint8_t key[17];     /* 16 address bytes (IPv4 in the first 4) + family */
	uint32_t weight;
	unsigned int line;
	char addr[INET6_ADDRSTRLEN]; /* canonical text, from the parsed bytes */
};

/* A backend list and the table it gives. Backend ids are line order (entry index). */
struct blist {
	const char *path;
	struct entry *e;
	uint32_t n;
	uint16_t *table;
	uint32_t *counts;  /* slots per id */
	uint64_t digest;
};

static const char *prog = "keel-maglev";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--seed N] [--size M] [--json] [--full] [--compare FILE2] FILE\n"
		"\n"
		"Build the Maglev table Keel builds for the backends listed in FILE and print\n"
		"each backend's slots and share, and the table digest to compare across hosts.\n"
		"\n"
		"FILE: one backend per line, 'ADDRESS [WEIGHT]', IPv4 or IPv6, weight default 1,\n"
		"      0 takes no slots; '#' starts a comment; blank lines are ignored.\n"
		"\n"
		"  --seed N         fleet seed (decimal or 0x hex; default 0)\n"
		"  --size M         table size, a prime <= %u (default %u)\n"
		"  --json           print one JSON object\n"
		"  --full           also print the owner of every slot\n"
		"  --compare FILE2  also build FILE2's table and show which slots change owner\n"
		"  --help           this text\n"
		"\n"
		"exit: 0 ok, 64 usage, 65 bad data, 66 cannot read a file, 71 out of memory\n",
		prog, KEEL_MAGLEV_MAX_SIZE, KEEL_MAGLEV_DEFAULT_SIZE);
}

static int cmp_entry_key(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	return memcmp(x->key, y->key, sizeof(x->key));
}

/* Parse one line's tokens into e; on error return a static reason. */
static const char *parse_line(char *s, struct entry *e)
{
	char *save = NULL, *addr, *w, *extra, *end;
	unsigned long long v;
	const char *t;

	addr = strtok_r(s, " \t\r\n", &save);
	w = strtok_r(NULL, " \t\r\n", &save);
	extra = strtok_r(NULL, " \t\r\n", &save);
	if (extra)
		return "trailing text after the weight";

	memset(e->key, 0, sizeof(e->key));
	if (strchr(addr, ':')) {
		if (inet_pton(AF_INET6, addr, e->key) != 1)
			return "not an IPv6 address";
		e->key[16] = KEEL_AF_INET6;
		t = inet_ntop(AF_INET6, e->key, e->addr, sizeof(e->addr));
	} else {
		if (inet_pton(AF_INET, addr, e->key) != 1)
			return "not an IPv4 address";
		e->key[16] = KEEL_AF_INET4;
		t = inet_ntop(AF_INET, e->key, e->addr, sizeof(e->addr));
	}
	if (!t)
		return "address does not print";

	e->weight = 1;
	if (w) {
		/* Digits only: strtoull would take signs, spaces and hex. */
		if (strspn(w, "0123456789") != strlen(w))
			return "weight is not a decimal number";
		errno = 0;
		v = strtoull(w, &end, 10);
		if (errno || *end || v > UINT32_MAX)
			return "weight out of range (0..4294967295)";
		e->weight = (uint32_t)v;
	}
	return NULL;
}

/* Read a backend list. Returns 0 or an exit status, having said why on stderr. */
static int load_list(struct blist *bl, const char *path)
{
	const struct entry **sorted = NULL;
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	unsigned int lineno = 0;
	int ret = 0;
	uint32_t i;
	FILE *f;

	memset(bl, 0, sizeof(*bl));
	bl->path = path;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EX_NOINPUT;
	}
	while (getline(&line, &cap, f) != -1) {
		const char *why;
		char *hash;

		lineno++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (bl->n == KEEL_MAX_BACKENDS) {
			fprintf(stderr, "%s:%u: more than %u backends\n", path, lineno,
				KEEL_MAX_BACKENDS);
			ret = EX_DATAERR;
			goto out_close;
		}
		if (bl->n == alloc) {
			size_t na = alloc ? alloc * 2 : 64;
			struct entry *ne = realloc(bl->e, na * sizeof(*ne));

			if (!ne) {
				ret = EX_OSERR;
				goto out_close;
			}
			bl->e = ne;
			alloc = na;
		}
		why = parse_line(line, &bl->e[bl->n]);
		if (why) {
			fprintf(stderr, "%s:%u: %s\n", path, lineno, why);
			ret = EX_DATAERR;
			goto out_close;
		}
		bl->e[bl->n].line = lineno;
		bl->n++;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", prog, path);
		ret = EX_NOINPUT;
		goto out_close;
	}

	/* Duplicates: the builder refuses them; say which lines, in line order of the later one. */
	sorted = malloc(sizeof(*sorted) * (bl->n ? bl->n : 1));
	if (!sorted) {
		ret = EX_OSERR;
		goto out_close;
	}
	for (i = 0; i < bl->n; i++)
		sorted[i] = &bl->e[i];
	qsort(sorted, bl->n, sizeof(*sorted), cmp_entry_key);
	for (i = 1; i < bl->n; i++) {
		const struct entry *a = sorted[i - 1], *b = sorted[i];

		if (!memcmp(a->key, b->key, sizeof(a->key))) {
			fprintf(stderr, "%s:%u: duplicate of line %u (%s)\n", path,
				a->line > b->line ? a->line : b->line,
				a->line < b->line ? a->line : b->line, a->addr);
			ret = EX_DATAERR;
			break;
		}
	}
	free(sorted);
out_close:
	if (ret == EX_OSERR)
		fprintf(stderr, "%s: out of memory\n", prog);
	free(line);
	fclose(f);
	return ret;
}

/* Build bl's table and count each backend's slots. Returns 0 or an exit status. */
static int build_list(struct blist *bl, uint32_t m, uint64_t seed)
{
	struct maglev_backend *b;
	uint8_t (*keys)[17];
	uint32_t i;
	int err;

	if (bl->n > m) {
		fprintf(stderr, "%s: %u backends for a table of %u slots\n", bl->path, bl->n, m);
		return EX_DATAERR;
	}
	b = calloc(bl->n ? bl->n : 1, sizeof(*b));
	keys = calloc(bl->n ? bl->n : 1, sizeof(*keys));
	bl->table = malloc(sizeof(*bl->table) * m);
	bl->counts = calloc(bl->n ? bl->n : 1, sizeof(*bl->counts));
	if (!b || !keys || !bl->table || !bl->counts) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < bl->n; i++) {
		memcpy(b[i].key, bl->e[i].key, sizeof(b[i].key));
		memcpy(keys[i], bl->e[i].key, sizeof(keys[i]));
		b[i].id = (uint16_t)i; /* n <= KEEL_MAX_BACKENDS < KEEL_BACKEND_NONE */
		b[i].weight = bl->e[i].weight;
	}
	err = maglev_build(bl->table, m, b, bl->n, seed);
	if (err)
		goto out;
	for (i = 0; i < m; i++)
		if (bl->table[i] != KEEL_BACKEND_NONE)
			bl->counts[bl->table[i]]++;
	bl->digest = maglev_digest(bl->table, m, (const uint8_t (*)[17])keys, bl->n);
out:
	free(keys);
	free(b);
	if (err == -ENOMEM) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EX_OSERR;
	}
	if (err) {
		fprintf(stderr, "%s: cannot build the table: %s\n", bl->path, strerror(-err));
		return EX_DATAERR;
	}
	return 0;
}

static void free_list(struct blist *bl)
{
	free(bl->counts);
	free(bl->table);
	free(bl->e);
}

/* count/m as a percentage with 3 decimals, in integers so output is identical everywhere. */
static const char *fmt_share(char buf[24], uint64_t count, uint32_t m)
{
	uint64_t milli = (count * 100000 + m / 2) / m;

	snprintf(buf, 24, "%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
	return buf;
}

/* A JSON string: quote, backslash and control characters escaped (RFC 8259 section 7). */
static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * The comparison joins the two lists by key: ids are line numbers, so the
 * same address may have different ids in the two files. owner[] maps each
 * list's ids to an index in the union, then each slot is compared by it.
 */
struct cmp_row {
	const struct entry *before, *after;
	uint32_t slots_before, slots_after, gained, lost;
};

static int cmp_key_entry(const void *key, const void *elem)
{
	return memcmp(key, (*(const struct entry *const *)elem)->key, 17);
}

static struct cmp_row *compare_lists(const struct blist *a, const struct blist *b, uint32_t m,
				     uint32_t *nrows, uint32_t *changed)
{
	uint32_t *ua = malloc(sizeof(*ua) * (a->n ? a->n : 1));
	uint32_t *ub = malloc(sizeof(*ub) * (b->n ? b->n : 1));
	const struct entry **sorted = malloc(sizeof(*sorted) * (a->n ? a->n : 1));
	struct cmp_row *rows = calloc((size_t)a->n + b->n + 1, sizeof(*rows));
	uint32_t i, nr = 0;

	if (!ua || !ub || !sorted || !rows) {
		free(rows);
		rows = NULL;
		goto out;
	}
	for (i = 0; i < a->n; i++) {
		sorted[i] = &a->e[i];
		rows[nr].before = &a->e[i];
		rows[nr].slots_before = a->counts[i];
		ua[i] = nr++;
	}
	qsort(sorted, a->n, sizeof(*sorted), cmp_entry_key);
	for (i = 0; i < b->n; i++) {
		const struct entry **hit = bsearch(b->e[i].key, sorted, a->n, sizeof(*sorted),
						   cmp_key_entry);
		uint32_t r = hit ? (uint32_t)(*hit - a->e) : nr++;

		rows[r].after = &b->e[i];
		rows[r].slots_after = b->counts[i];
		ub[i] = r;
	}
	*changed = 0;
	for (i = 0; i < m; i++) {
		uint16_t x = a->table[i], y = b->table[i];
		uint32_t ox = x == KEEL_BACKEND_NONE ? UINT32_MAX : ua[x];
		uint32_t oy = y == KEEL_BACKEND_NONE ? UINT32_MAX : ub[y];

		if (ox == oy)
			continue;
		(*changed)++;
		if (ox != UINT32_MAX)
			rows[ox].lost++;
		if (oy != UINT32_MAX)
			rows[oy].gained++;
	}
	*nrows = nr;
out:
	free(sorted);
	free(ub);
	free(ua);
	return rows;
}

static const char *row_addr(const struct cmp_row *r)
{
	return r->before ? r->before->addr : r->after->addr;
}

static void print_text(const struct blist *a, const struct blist *b, const struct cmp_row *rows,
		       uint32_t nrows, uint32_t changed, uint32_t m, uint64_t seed, bool full)
{
	char share[24];
	uint32_t i;

	printf("# %s: %u backends, table size %u, seed 0x%016" PRIx64 "\n", a->path, a->n, m,
	       seed);
	printf("digest %016" PRIx64 "\n", a->digest);
	printf("%10s %9s %10s  %s\n", "slots", "share%", "weight", "backend");
	for (i = 0; i < a->n; i++)
		printf("%10u %9s %10u  %s\n", a->counts[i], fmt_share(share, a->counts[i], m),
		       a->e[i].weight, a->e[i].addr);
	if (b) {
		printf("\n# compare %s: %u backends, digest %016" PRIx64 "\n", b->path, b->n,
		       b->digest);
		printf("changed %u of %u slots (%s%%)\n", changed, m, fmt_share(share, changed, m));
		printf("%10s %10s %10s %10s  %s\n", "before", "after", "gained", "lost", "backend");
		for (i = 0; i < nrows; i++)
			printf("%10u %10u %10u %10u  %s\n", rows[i].slots_before,
			       rows[i].slots_after, rows[i].gained, rows[i].lost, row_addr(&rows[i]));
	}
	if (full) {
		printf("\n# slot backend\n");
		for (i = 0; i < m; i++)
			printf("%u %s\n", i,
			       a->table[i] == KEEL_BACKEND_NONE ? "-" : a->e[a->table[i]].addr);
	}
}

static void print_json(const struct blist *a, const struct blist *b, const struct cmp_row *rows,
		       uint32_t nrows, uint32_t changed, uint32_t m, uint64_t seed, bool full)
{
	char share[24];
	uint32_t i;

	printf("{\"file\":");
	print_json_string(a->path);
	/* 64-bit values as hex strings: JSON numbers lose precision above 2^53 in most parsers. */
	printf(",\"seed\":\"0x%016" PRIx64 "\",\"size\":%u,\"digest\":\"%016" PRIx64 "\"", seed,
	       m, a->digest);
	printf(",\"backends\":[");
	for (i = 0; i < a->n; i++)
		printf("%s{\"address\":\"%s\",\"weight\":%u,\"slots\":%u,\"share\":%s}",
		       i ? "," : "", a->e[i].addr, a->e[i].weight, a->counts[i],
		       fmt_share(share, a->counts[i], m));
	printf("]");
	if (full) {
		printf(",\"table\":[");
		for (i = 0; i < m; i++) {
			if (i)
				putchar(',');
			if (a->table[i] == KEEL_BACKEND_NONE)
				printf("null");
			else
				printf("\"%s\"", a->e[a->table[i]].addr);
		}
		printf("]");
	}
	if (b) {
		printf(",\"compare\":{\"file\":");
		print_json_string(b->path);
		printf(",\"digest\":\"%016" PRIx64 "\",\"changed\":%u,\"changed_share\":%s", b->digest,
		       changed, fmt_share(share, changed, m));
		printf(",\"backends\":[");
		for (i = 0; i < nrows; i++) {
			const struct cmp_row *r = &rows[i];

			printf("%s{\"address\":\"%s\",\"weight_before\":", i ? "," : "", row_addr(r));
			if (r->before)
				printf("%u", r->before->weight);
			else
				printf("null");
			printf(",\"weight_after\":");
			if (r->after)
				printf("%u", r->after->weight);
			else
				printf("null");
			printf(",\"slots_before\":%u,\"slots_after\":%u,\"gained\":%u,\"lost\":%u}",
			       r->slots_before, r->slots_after, r->gained, r->lost);
		}
		printf("]}");
	}
	printf("}\n");
}

/* Whole-string unsigned parse (decimal or 0x hex); false on anything else. */
static bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "full", no_argument, NULL, 'f' },
		{ "compare", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct blist a, b;
	const char *compare = NULL;
	struct cmp_row *rows = NULL;
	uint64_t seed = 0, v;
	uint32_t m = KEEL_MAGLEV_DEFAULT_SIZE, nrows = 0, changed = 0;
	bool json = false, full = false;
	int c, ret;

	memset(&b, 0, sizeof(b));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_u64(optarg, &seed)) {
				fprintf(stderr, "%s: --seed: not an unsigned 64-bit number: %s\n",
					prog, optarg);
				return EX_USAGE;
			}
			break;
		case 'm':
			if (!parse_u64(optarg, &v) || v > KEEL_MAGLEV_MAX_SIZE ||
			    !maglev_is_prime((uint32_t)v)) {
				fprintf(stderr, "%s: --size: must be a prime <= %u: %s\n", prog,
					KEEL_MAGLEV_MAX_SIZE, optarg);
				return EX_USAGE;
			}
			m = (uint32_t)v;
			break;
		case 'j':
			json = true;
			break;
		case 'f':
			full = true;
			break;
		case 'c':
			compare = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EX_USAGE;
	}

	ret = load_list(&a, argv[optind]);
	if (ret)
		goto out_free_a;
	ret = build_list(&a, m, seed);
	if (ret)
		goto out_free_a;
	if (compare) {
		ret = load_list(&b, compare);
		if (ret)
			goto out_free_b;
		ret = build_list(&b, m, seed);
		if (ret)
			goto out_free_b;
		rows = compare_lists(&a, &b, m, &nrows, &changed);
		if (!rows) {
			fprintf(stderr, "%s: out of memory\n", prog);
			ret = EX_OSERR;
			goto out_free_b;
		}
	}

	if (json)
		print_json(&a, compare ? &b : NULL, rows, nrows, changed, m, seed, full);
	else
		print_text(&a, compare ? &b : NULL, rows, nrows, changed, m, seed, full);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: write error\n", prog);
		ret = EX_IOERR;
	}

	free(rows);
out_free_b:
	free_list(&b);
out_free_a:
	free_list(&a);
	return ret;
}
