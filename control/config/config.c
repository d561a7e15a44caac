/* Loading keel-control's configuration: the entry points (file, buffer, JSON tree) and the error form. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_check.h"
#include "config_field.h"

static void format_at(char *buf, size_t n, const char *origin, int line, int column,
		      const char *text)
{
	if (line > 0)
		config_textf(buf, n, "%s:%d:%d: %s", origin, line, column, text);
	else
		config_textf(buf, n, "%s: %s", origin, text);
}

void config_error_set(struct config_error *err, const char *origin, int line, int column,
		      const char *fmt, ...)
{
	char text[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	format_at(err->msg, sizeof(err->msg), origin, line, column, text);
	err->line = line;
	err->column = column;
}

static int load_tree(const json_t *root, const char *origin, const struct config_pos *pos,
		     bool host_file, struct keel_config **out, struct config_error *err)
{
	struct check c = { .origin = origin, .pos = pos, .err = err, .host_file = host_file };
	int rc;

	c.cfg = config_new();
	if (!c.cfg) {
		config_error_set(err, origin, 0, 0, "out of memory");
		return -ENOMEM;
	}
	rc = config_schema_check(&c, root);
	if (rc) {
		if (rc == -ENOMEM)
			config_error_set(err, origin, 0, 0, "out of memory");
		config_free(c.cfg);
		return rc;
	}
	*out = c.cfg;
	return 0;
}

int config_from_json(json_t *root, const char *origin, struct keel_config **out,
		     struct config_error *err)
{
	if (!root) {
		config_error_set(err, origin, 0, 0, "no configuration (empty JSON)");
		return -EINVAL;
	}
	return load_tree(root, origin, NULL, false, out, err);
}

static int load_buffer(const char *buf, size_t len, const char *origin, bool host_file,
		       struct keel_config **out, struct config_error *err)
{
	struct config_pos *pos;
	json_t *root;
	int rc;

	rc = config_yaml_parse(buf, len, origin, &root, &pos, err);
	if (rc)
		return rc;
	rc = load_tree(root, origin, pos, host_file, out, err);
	config_pos_free(pos);
	json_decref(root);
	return rc;
}

int config_load_buffer(const char *buf, size_t len, const char *origin, struct keel_config **out,
		       struct config_error *err)
{
	return load_buffer(buf, len, origin, false, out, err);
}

int config_load_file(const char *path, struct keel_config **out, struct config_error *err)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		rc = -errno;
		config_error_set(err, path, 0, 0, "cannot read: %s", strerror(-rc));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		config_error_set(err, path, 0, 0, "not a regular file");
		goto out_close;
	}
	if (st.st_size > CONFIG_MAX_FILE_BYTES) {
		rc = -EFBIG;
		config_error_set(err, path, 0, 0, "file larger than %u bytes", CONFIG_MAX_FILE_BYTES);
		goto out_close;
	}
	/* One byte more than stat said, to notice a file that grew while read. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		config_error_set(err, path, 0, 0, "out of memory");
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			config_error_set(err, path, 0, 0, "cannot read: %s", strerror(-rc));
			goto out_free_buf;
		}
		if (n == 0 || (got += (size_t)n) > (size_t)st.st_size)
			break;
	}
	if (got > (size_t)st.st_size) {
		rc = -EAGAIN;
		config_error_set(err, path, 0, 0, "file changed while being read");
		goto out_free_buf;
	}
	rc = load_buffer(buf, got, path, true, out, err); /* a host's keel.yaml */
out_free_buf:
	free(buf);
out_close:
	if (fd >= 0)
		close(fd);
	return rc;
}
