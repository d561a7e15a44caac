/* Reports of changes: the disruption preview (slots that change owner, per VIP and backend) and the outcome. */
#include <stdio.h>
#include <string.h>

#include "keelctl.h"

static const char *const preview_heads[] = { "VIP", "MOVED", "NOTE", "BACKEND", "BEFORE", "AFTER" };

/* A preview as the API writes it (api/keel_api.h's codec), printed as one table. */
static void preview_print(struct ctl *c, const struct keel_api_preview *p)
{
	struct table *t = table_new(6, preview_heads);
	char moved[16], bef[16], aft[16];

	table_right(t, 1);
	table_right(t, 4);
	table_right(t, 5);
	for (size_t i = 0; i < p->n_vips; i++) {
		const struct keel_api_preview_vip *v = &p->vips[i];
		const char *note = v->removed ? "removed" : v->added ? "new" : v->empty ? "EMPTY" : "";
		bool first = true, same = true;

		fmt_share(v->moved_share, moved, sizeof(moved));
		for (size_t k = 0; k < v->n_backends; k++)
			same = same && v->backends[k].before == v->backends[k].after;
		if (same && !*note) {
			/* One line for a VIP the change leaves alone. */
			table_add(t, v->vip, moved, "unchanged", NULL, NULL, NULL);
			continue;
		}
		if (!v->n_backends)
			table_add(t, v->vip, moved, dash(note), NULL, NULL, NULL);
		for (size_t k = 0; k < v->n_backends; k++) {
			const struct keel_api_preview_backend *b = &v->backends[k];

			snprintf(bef, sizeof(bef), "%lld", (long long)b->before);
			snprintf(aft, sizeof(aft), "%lld", (long long)b->after);
			table_add(t, first ? v->vip : "", first ? moved : "", first ? dash(note) : "",
				  b->addr, b->has_before ? bef : "0", aft);
			first = false;
		}
	}
	puts("disruption preview (share of each VIP's Maglev slots, so of its new connections, that change backend):");
	table_print(c, t);
	table_free(t);
	/* Source lists: one line per VIP whose list changes (mode, counts; keelctl config diff lists the entries). */
	for (size_t i = 0; i < p->n_vips; i++)
		if (*p->vips[i].sources_before || *p->vips[i].sources_after)
			printf("source list of %s: %s -> %s\n", p->vips[i].vip, p->vips[i].sources_before,
			       p->vips[i].sources_after);
}

void report_preview(struct ctl *c, json_t *preview)
{
	struct keel_api_preview p;

	if (keel_api_preview_decode(preview, &p))
		return;
	preview_print(c, &p);
	keel_api_preview_free(&p);
}

static void warnings(const struct keel_api_report *r)
{
	for (size_t i = 0; i < r->n_warnings; i++)
		fprintf(stderr, "keelctl: warning: %s\n", r->warnings[i]);
	if (r->publish_error)
		fprintf(stderr, "keelctl: warning: persisted, not yet taken by the dataplane: %s\n",
			r->publish_error);
}

/* A fleet edit: committed at a store revision, then run by the live hosts (or not yet: which). */
static void fleet_applied(const char *what, const struct keel_api_report *r)
{
	printf("%s: applied at fleet revision %lld, generation %lld", what, (long long)r->revision,
	       (long long)r->generation);
	if (!r->has_converged) {
		printf(" (not waited for the hosts)\n");
		return;
	}
	if (r->converged) {
		printf(", running on all %zu live hosts\n", r->n_hosts);
		return;
	}
	printf("; NOT yet running on:");
	for (size_t i = 0; i < r->n_pending; i++)
		printf(" %s", r->pending[i]);
	printf("\n");
}

int report_change(struct ctl *c, const char *what, int status, json_t *body)
{
	struct keel_api_report r;

	if (c->json && status >= 200 && status < 300) {
		json_print(body);
		return KEELCTL_OK;
	}
	if (status == 412 && c->quiet_conflict)
		return KEELCTL_CONFLICT;
	if (keel_api_report_decode(body, &r)) {
		/* Not an object: say what we can. */
		fprintf(stderr, "keelctl: %s: %s\n", what,
			status >= 200 && status < 300 ? "malformed answer" : "failed");
		return status >= 200 && status < 300 ? KEELCTL_UNAVAILABLE : api_exit_code(status);
	}
	if (status >= 200 && status < 300) {
		if (r.dry_run)
			printf("%s: dry run: %s (generation stays %lld)\n", what,
			       r.changed ? "would change" : "no change", (long long)r.generation);
		else if (r.applied && r.has_revision)
			fleet_applied(what, &r);
		else if (r.applied)
			printf("%s: applied, generation %lld\n", what, (long long)r.generation);
		else if (r.has_changed)
			printf("%s: no change (generation %lld)\n", what, (long long)r.generation);
		else
			printf("%s: done\n", what);
		if (r.preview.n_vips && r.changed)
			preview_print(c, &r.preview);
		warnings(&r);
		keel_api_report_free(&r);
		return KEELCTL_OK;
	}
	/* A refused change (409) carries the preview that made it dangerous: show it. */
	if (!c->json && r.refused && r.refused->has_preview)
		preview_print(c, &r.refused->preview);
	fprintf(stderr, "keelctl: %s: %s\n", what, r.error ? r.error : "failed");
	if (c->json)
		json_print(body);
	keel_api_report_free(&r);
	return api_exit_code(status);
}
