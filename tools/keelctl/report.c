/* Reports of changes: the disruption preview (slots that change owner, per VIP and backend) and the outcome. */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

static const char *const preview_heads[] = { "VIP", "MOVED", "NOTE", "BACKEND", "BEFORE", "AFTER" };

void report_preview(struct ctl *c, json_t *preview)
{
	struct table *t = table_new(6, preview_heads);
	const char *vip, *addr;
	json_t *v, *b;
	char moved[16], bef[16], aft[16];

	table_right(t, 1);
	table_right(t, 4);
	table_right(t, 5);
	json_object_foreach(preview, vip, v) {
		json_t *backends = json_object_get(v, "backends");
		const char *note = json_is_true(json_object_get(v, "removed")) ? "removed" :
				   json_is_true(json_object_get(v, "new")) ? "new" :
				   json_is_true(json_object_get(v, "empty")) ? "EMPTY" : "";
		bool first = true, same = true;

		if (!json_is_object(v)) /* "warnings" in a diff answer */
			continue;
		fmt_share(jnum(v, "moved_share"), moved, sizeof(moved));
		json_object_foreach(backends, addr, b)
			same = same && jint(b, "before") == jint(b, "after");
		if (same && !*note) {
			/* One line for a VIP the change leaves alone. */
			table_add(t, vip, moved, "unchanged", NULL, NULL, NULL);
			continue;
		}
		if (!json_object_size(backends))
			table_add(t, vip, moved, dash(note), NULL, NULL, NULL);
		json_object_foreach(backends, addr, b) {
			snprintf(bef, sizeof(bef), "%lld", (long long)jint(b, "before"));
			snprintf(aft, sizeof(aft), "%lld", (long long)jint(b, "after"));
			table_add(t, first ? vip : "", first ? moved : "", first ? dash(note) : "", addr,
				  json_object_get(b, "before") ? bef : "0", aft);
			first = false;
		}
	}
	puts("disruption preview (share of each VIP's Maglev slots, so of its new connections, that change backend):");
	table_print(c, t);
	table_free(t);
	/* Source lists: one line per VIP whose list changes (mode, counts; keelctl config diff lists the entries). */
	json_object_foreach(preview, vip, v) {
		json_t *s = json_is_object(v) ? json_object_get(v, "sources") : NULL;

		if (s)
			printf("source list of %s: %s -> %s\n", vip, jstr(s, "before"), jstr(s, "after"));
	}
}

static void warnings(json_t *body)
{
	json_t *w;
	size_t i;

	json_array_foreach(json_object_get(body, "warnings"), i, w)
		fprintf(stderr, "keelctl: warning: %s\n", json_string_value(w));
	if (*jstr(body, "publish_error"))
		fprintf(stderr, "keelctl: warning: persisted, not yet taken by the dataplane: %s\n",
			jstr(body, "publish_error"));
}

/* A fleet edit: committed at a store revision, then run by the live hosts (or not yet: which). */
static void fleet_applied(const char *what, json_t *body)
{
	json_t *pending = json_object_get(body, "pending_hosts"), *h;
	size_t i;

	printf("%s: applied at fleet revision %lld, generation %lld", what,
	       (long long)jint(body, "revision"), (long long)jint(body, "generation"));
	if (!json_object_get(body, "converged")) {
		printf(" (not waited for the hosts)\n");
		return;
	}
	if (json_is_true(json_object_get(body, "converged"))) {
		printf(", running on all %zu live hosts\n", json_object_size(json_object_get(body, "hosts")));
		return;
	}
	printf("; NOT yet running on:");
	json_array_foreach(pending, i, h)
		printf(" %s", json_string_value(h));
	printf("\n");
}

int report_change(struct ctl *c, const char *what, int status, json_t *body)
{
	json_t *report = json_object_get(body, "report");

	if (status >= 200 && status < 300) {
		if (c->json) {
			json_print(body);
			return KEELCTL_OK;
		}
		if (json_is_true(json_object_get(body, "dry_run")))
			printf("%s: dry run: %s (generation stays %lld)\n", what,
			       json_is_true(json_object_get(body, "changed")) ? "would change" : "no change",
			       (long long)jint(body, "generation"));
		else if (json_is_true(json_object_get(body, "applied")) && json_object_get(body, "revision"))
			fleet_applied(what, body);
		else if (json_is_true(json_object_get(body, "applied")))
			printf("%s: applied, generation %lld\n", what, (long long)jint(body, "generation"));
		else if (json_object_get(body, "changed"))
			printf("%s: no change (generation %lld)\n", what, (long long)jint(body, "generation"));
		else
			printf("%s: done\n", what);
		if (json_object_size(json_object_get(body, "preview")) &&
		    json_is_true(json_object_get(body, "changed")))
			report_preview(c, json_object_get(body, "preview"));
		warnings(body);
		return KEELCTL_OK;
	}
	if (status == 412 && c->quiet_conflict)
		return KEELCTL_CONFLICT;
	/* A refused change (409) carries the preview that made it dangerous: show it. */
	if (!c->json && report && json_object_get(report, "preview"))
		report_preview(c, json_object_get(report, "preview"));
	fprintf(stderr, "keelctl: %s: %s\n", what, *jstr(body, "error") ? jstr(body, "error") : "failed");
	if (c->json)
		json_print(body);
	return api_exit_code(status);
}
