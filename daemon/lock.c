// SPDX-License-Identifier: MIT
/*
 * titad's instance lock (see lock.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"

/* The pid written into the lock file by its holder, or 0. */
static long holder(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int lock_file(const char *path, int *ret_fd, long *ret_holder)
{
	char dir[TITAD_PATH_MAX + 8], pid[24];
	char *slash;
	int fd, n;

	/* The directory (/run/tita) may not exist yet outside systemd's
	 * RuntimeDirectory=. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno == EWOULDBLOCK ? EBUSY : errno;

		*ret_holder = holder(fd);
		close(fd);
		return -e;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* The lock holds; only the pid in it is missing. */
	}
	*ret_fd = fd;
	return 0;
}

int titad_lock_take(struct titad_lock *l, const struct titad_config *cfg, char *err,
		    size_t err_size)
{
	char path[TITAD_PATH_MAX + 8];
	long pid = 0;
	int r;

	l->fd_control = l->fd_pins = -1;
	snprintf(path, sizeof(path), "%s.lock", cfg->control_socket);
	r = lock_file(path, &l->fd_control, &pid);
	if (r == -EBUSY) {
		snprintf(err, err_size,
			 "another titad (pid %ld) runs with control socket %s (it holds %s); this "
			 "one leaves it alone and exits",
			 pid, cfg->control_socket, path);
		return r;
	}
	if (r) {
		snprintf(err, err_size, "lock %s: %s", path, strerror(-r));
		return r;
	}
	/* The pins: a directory on bpffs, where a lock file cannot be, but a
	 * directory can be locked. Without bpffs yet, nobody else uses them. */
	snprintf(path, sizeof(path), "%s", cfg->pin_root);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	mkdir(cfg->pin_root, 0700);
	l->fd_pins = open(cfg->pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (l->fd_pins >= 0 && flock(l->fd_pins, LOCK_EX | LOCK_NB)) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, err_size,
			 r == -EBUSY ? "another titad uses pin root %s (another config with the "
				       "same pin-root?); this one leaves it alone and exits" :
				       "lock %s: %s",
			 cfg->pin_root, strerror(-r));
		titad_lock_release(l);
		return r;
	}
	return 0;
}

void titad_lock_release(struct titad_lock *l)
{
	if (l->fd_control >= 0)
		close(l->fd_control);
	if (l->fd_pins >= 0)
		close(l->fd_pins);
	l->fd_control = l->fd_pins = -1;
}
