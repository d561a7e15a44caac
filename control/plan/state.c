/* Atomic persistence of keel-control's state (write, fsync, rename, fsync the directory). */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define STATE_FILE "state.json"
#define STATE_VERSION 1

static int mkdirs(const char *dir)
{
	char p[512];
	size_t i;

	if (strlen(dir) >= sizeof(p))
		return -ENAMETOOLONG;
	strcpy(p, dir);
	for (i = 1; p[i]; i++) {
		if (p[i] != '/')
			continue;
		p[i] = 0;
		if (mkdir(p, 0750) && errno != EEXIST)
			return -errno;
		p[i] = '/';
	}
	if (mkdir(p, 0750) && errno != EEXIST)
		return -errno;
	return 0;
}

int state_save(const char *dir, uint64_t generation, const struct keel_config *cfg,
	       const struct ids *ids, char *why, size_t whylen)
{
	return state_save_host(dir, generation, cfg, ids, false, why, whylen);
}

int state_save_host(const char *dir, uint64_t generation, const struct keel_config *cfg,
		    const struct ids *ids, bool host_drained, char *why, size_t whylen)
{
	json_t *root;
	char *text;
	int ret;

	/* JSON integers are signed 64-bit: one more would persist a negative generation. */
	if (generation > STATE_GENERATION_MAX) {
		snprintf(why, whylen,
			 "the generation counter is exhausted: %llu is past the largest a state file "
			 "holds (2^63-1)",
			 (unsigned long long)generation);
		return -EOVERFLOW;
	}
	ret = mkdirs(dir);
	if (ret) {
		snprintf(why, whylen, "state directory %s: %s", dir, strerror(-ret));
		return -EIO;
	}
	root = json_pack("{s:i,s:I,s:o,s:o}", "version", STATE_VERSION, "generation",
			 (json_int_t)generation, "config", config_to_json(cfg), "ids", ids_to_json(ids));
	/* Written only when set: a state without the key reads as not drained, before and after. */
	if (root && host_drained && json_object_set_new(root, "host_drained", json_true())) {
		json_decref(root);
		root = NULL;
	}
	text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (!text) {
		snprintf(why, whylen, "out of memory serialising state");
		return -EIO;
	}
	ret = state_write_file(dir, STATE_FILE, text, why, whylen);
	free(text);
	return ret;
}

int state_write_file(const char *dir, const char *name, const char *text, char *why, size_t whylen)
{
	char path[600], tmp[640];
	size_t len = strlen(text), off = 0;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, name, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", tmp, strerror(errno));
		return -EIO;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -EIO;
			break;
		}
		off += (size_t)n;
	}
	/* Written whole or not at all: a reader sees the old file or the new one. */
	if (!ret && fsync(fd))
		ret = -EIO;
	if (close(fd))
		ret = -EIO;
	if (!ret && rename(tmp, path))
		ret = -EIO;
	if (ret) {
		snprintf(why, whylen, "writing %s: %s", path, strerror(errno));
		unlink(tmp);
		return ret;
	}
	/* The rename itself must reach the disk before the change is acknowledged. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd))
			ret = -EIO;
		close(fd);
	}
	if (ret)
		snprintf(why, whylen, "fsync %s: %s", dir, strerror(errno));
	return ret;
}

/* Is pid a live keel-control other than us (one that may be writing its temporary file now)? */
static bool live_control(long pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid <= 0 || pid > INT32_MAX || pid == (long)getpid())
		return false;
	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, "keel-control");
}

int state_clear_stale(const char *dir)
{
	static const char prefix[] = "." STATE_FILE ".";
	struct dirent *de;
	int removed = 0;
	DIR *d;
	int dfd;

	d = opendir(dir);
	if (!d)
		return 0;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		const char *tail = de->d_name + sizeof(prefix) - 1;
		char *end;
		long pid;

		if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) || *tail < '1' || *tail > '9')
			continue;
		errno = 0;
		pid = strtol(tail, &end, 10);
		if (*end || errno || live_control(pid))
			continue;
		if (!unlinkat(dfd, de->d_name, 0))
			removed++;
	}
	closedir(d);
	return removed;
}

int state_load(const char *dir, uint64_t *generation, struct keel_config **cfg, struct ids **ids,
	       char *why, size_t whylen)
{
	bool drained;

	return state_load_host(dir, generation, cfg, ids, &drained, why, whylen);
}

int state_load_host(const char *dir, uint64_t *generation, struct keel_config **cfg,
		    struct ids **ids, bool *host_drained, char *why, size_t whylen)
{
	const json_t *hd;
	bool drained;
	struct config_error err = { 0 };
	struct keel_config *c = NULL;
	json_error_t jerr;
	json_int_t gen, version;
	char path[600];
	struct stat st;
	json_t *root;
	struct ids *i;

	snprintf(path, sizeof(path), "%s/" STATE_FILE, dir);
	state_clear_stale(dir);
	if (stat(path, &st))
		return errno == ENOENT ? -ENOENT
				       : (snprintf(why, whylen, "%s: %s", path, strerror(errno)), -EINVAL);
	/* Say what is there: a JSON parser would call a directory a syntax error. */
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is %s, not a state file", path,
			 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		return -EINVAL;
	}
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		snprintf(why, whylen, "%s:%d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	if (json_unpack(root, "{s:I,s:I}", "version", &version, "generation", &gen) ||
	    version != STATE_VERSION || gen < 0 || (uint64_t)gen > STATE_GENERATION_MAX) {
		snprintf(why, whylen, "%s: not a version %d state file", path, STATE_VERSION);
		json_decref(root);
		return -EINVAL;
	}
	hd = json_object_get(root, "host_drained");
	if (hd && !json_is_boolean(hd)) {
		snprintf(why, whylen, "%s: host_drained is not true or false", path);
		json_decref(root);
		return -EINVAL;
	}
	drained = json_is_true(hd);
	if (config_from_json(json_object_get(root, "config"), path, &c, &err)) {
		snprintf(why, whylen, "%s", err.msg);
		json_decref(root);
		return -EINVAL;
	}
	i = ids_from_json(json_object_get(root, "ids"));
	json_decref(root);
	if (!i) {
		snprintf(why, whylen, "%s: bad id tables", path);
		config_free(c);
		return -EINVAL;
	}
	*generation = (uint64_t)gen;
	*cfg = c;
	*ids = i;
	*host_drained = drained;
	return 0;
}

/* --- the host drain of older versions ------------------------------------------- */

#define OLD_DRAIN_FILE "bgp-drained"

bool state_old_drain(const char *dir)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/" OLD_DRAIN_FILE, dir);
	return !stat(path, &st);
}

int state_old_drain_remove(const char *dir, char *why, size_t whylen)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/" OLD_DRAIN_FILE, dir);
	if (unlink(path) && errno != ENOENT) {
		snprintf(why, whylen, "cannot remove %s: %s", path, strerror(errno));
		return -EIO;
	}
	/* The removal on disk too: state.json (already synced) says drained either way. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

/* --- the fleet's applied revision ------------------------------------------------ */

#define REVISION_FILE "fleet_revision"

int state_save_revision(const char *dir, int64_t revision, char *why, size_t whylen)
{
	char text[64];

	snprintf(text, sizeof(text), "applied revision %lld\n", (long long)revision);
	return state_write_file(dir, REVISION_FILE, text, why, whylen);
}

int64_t state_load_revision(const char *dir)
{
	char path[600], text[64] = { 0 };
	long long r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/" REVISION_FILE, dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(text, sizeof(text), f) || sscanf(text, "applied revision %lld", &r) != 1 || r < 0)
		r = 0;
	fclose(f);
	return r;
}
