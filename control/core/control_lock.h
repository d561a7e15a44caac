/* One keel-control per dataplane and per state directory: locks held for the process's life. */
#ifndef KEEL_CONTROL_CONTROL_LOCK_H
#define KEEL_CONTROL_CONTROL_LOCK_H

#include <stddef.h>

/*
 * Take the lock on path (created 0600 if missing): a POSIX write lock
 * (fcntl F_SETLK) on the whole file, released by the kernel when the process
 * ends, however it ends, so a crash never leaves a stale lock. what names the
 * resource in the error ("instance web1", "state directory /var/lib/keel").
 * Returns the descriptor to keep open, or a negative errno with why:
 * -EBUSY when another process holds it (why names its pid, read back with
 * F_GETLK: the file itself may sit on hugetlbfs, where nothing can be
 * written into it).
 */
int control_lock_take(const char *path, const char *what, char *why, size_t whylen);

/*
 * The lock of a dataplane instance: a hidden file beside its region
 * (<region dir>/.keel-<instance>.control.lock), so that the lock covers the
 * same scope as the region itself (every network namespace of the host that
 * shares the region's directory).
 */
int control_lock_instance(const char *instance, char *why, size_t whylen);

/* The lock of a state directory (DIR/control.lock; DIR is made if missing). */
int control_lock_state(const char *dir, char *why, size_t whylen);

#endif
