/* The audit log: events in a bounded array, persisted whole (write, fsync, rename) at each change. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

struct audit {
	pthread_mutex_t mu; /* events are added under edit_mu, read by API threads */
	char path[600];
	json_t *events;     /* array, oldest first, at most AUDIT_MAX_EVENTS */
};

static __thread struct {
	char source[16];
	int64_t uid, pid;
	bool set;
} actor;

void audit_actor_set(const char *source, int64_t uid, int64_t pid)
{
	snprintf(actor.source, sizeof(actor.source), "%s", source);
	actor.uid = uid;
	actor.pid = pid;
	actor.set = true;
}

void audit_actor_clear(void)
{
	actor.set = false;
}

struct audit *audit_open(const char *state_dir)
{
	struct audit *a = calloc(1, sizeof(*a));
	json_t *j;

	if (!a)
		return NULL;
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->path, sizeof(a->path), "%s/audit.json", state_dir);
	j = json_load_file(a->path, 0, NULL);
	/* What is not an array of events is not ours to trust: start again (logged). */
	if (j && !json_is_array(j)) {
		log_event(LOG_WARN, "audit_reset", "path=%s reason=%s", a->path, "not a JSON array");
		json_decref(j);
		j = NULL;
	}
	a->events = j ? j : json_array();
	while (json_array_size(a->events) > AUDIT_MAX_EVENTS)
		json_array_remove(a->events, 0);
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	json_decref(a->events);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int audit_save(struct audit *a)
{
	char tmp[620];
	int fd, ret = 0;
	char *text = json_dumps(a->events, JSON_COMPACT);

	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd))
		ret = -EIO;
	close(fd);
	free(text);
	if (!ret && rename(tmp, a->path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* A value for a quoted log field: its double quotes as single ones. */
static void unquote(char *s)
{
	for (; *s; s++)
		if (*s == '"')
			*s = '\'';
}

void audit_event(struct audit *a, uint64_t generation, bool applied, const char *why,
		 const struct keel_api_preview *preview, json_t *diff)
{
	char host[256] = "", lines[1024] = "", reason[512] = "";
	struct timeval tv;
	json_t *e, *moved = json_object(), *s;
	size_t i;
	int rc;

	gethostname(host, sizeof(host) - 1);
	gettimeofday(&tv, NULL);
	for (i = 0; preview && i < preview->n_vips; i++)
		if (preview->vips[i].moved_share > 0)
			json_object_set_new(moved, preview->vips[i].vip,
					    json_real(preview->vips[i].moved_share));
	if (!diff)
		diff = json_array();
	e = json_pack("{s:I,s:s,s:I,s:I,s:s,s:I,s:s,s:s?,s:o,s:o}", "time_ms",
		      (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, "source",
		      actor.set ? actor.source : "internal", "uid", (json_int_t)(actor.set ? actor.uid : -1),
		      "pid", (json_int_t)(actor.set ? actor.pid : -1), "host", host, "generation",
		      (json_int_t)generation, "result", applied ? "applied" : "refused", "reason",
		      applied ? NULL : why, "moved_share", moved, "diff", diff);
	if (!e)
		return;
	json_array_foreach(diff, i, s) {
		size_t l = strlen(lines);

		snprintf(lines + l, sizeof(lines) - l, "%s%s", i ? "; " : "", json_string_value(s));
	}
	snprintf(reason, sizeof(reason), "%s", applied || !why ? "" : why);
	unquote(reason);
	unquote(lines);
	log_event(applied ? LOG_INFO : LOG_WARN, "audit",
		  "source=%s uid=%lld pid=%lld host=%s generation=%llu result=%s reason=\"%s\" diff=\"%s\"",
		  json_string_value(json_object_get(e, "source")), (long long)json_integer_value(json_object_get(e, "uid")),
		  (long long)json_integer_value(json_object_get(e, "pid")), host, (unsigned long long)generation,
		  applied ? "applied" : "refused", reason, lines);
	pthread_mutex_lock(&a->mu);
	json_array_append_new(a->events, e);
	while (json_array_size(a->events) > AUDIT_MAX_EVENTS)
		json_array_remove(a->events, 0);
	rc = audit_save(a);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		log_event(LOG_ERROR, "audit_save_failed", "path=%s reason=%s", a->path, strerror(-rc));
}

json_t *audit_history_json(struct audit *a, size_t n)
{
	json_t *out = json_array();
	size_t total, i;

	if (!out || !a)
		return out;
	pthread_mutex_lock(&a->mu);
	total = json_array_size(a->events);
	for (i = total > n ? total - n : 0; i < total; i++)
		json_array_append(out, json_array_get(a->events, i));
	pthread_mutex_unlock(&a->mu);
	return out;
}
