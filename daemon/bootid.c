// SPDX-License-Identifier: MIT
/*
 * The boot id's floor across restarts (see bootid.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootid.h"

#define FILE_NAME "boot-id"

static int read_floor(const char *path, uint64_t *ret)
{
	char buf[32];
	ssize_t n;
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EBADMSG;
	buf[n] = '\0';
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EBADMSG;
	return 0;
}

/* Replace the file in one rename, so a crash leaves the old or the new. */
static int write_floor(const char *dir, const char *path, uint64_t boot_id)
{
	char tmp[512], buf[32];
	int fd, n, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s/." FILE_NAME ".new", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", boot_id);
	if (write(fd, buf, (size_t)n) != n || fsync(fd))
		r = errno ? -errno : -EIO;
	close(fd);
	if (!r && rename(tmp, path))
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

uint64_t titad_boot_id(const char *dir, uint64_t real_ns, uint64_t skew_ns, char *note,
		       size_t note_size)
{
	uint64_t floor = 0, boot_id = real_ns;
	char path[512];
	int r;

	note[0] = '\0';
	if (!dir || !dir[0])
		return boot_id;
	if (snprintf(path, sizeof(path), "%s/" FILE_NAME, dir) >= (int)sizeof(path)) {
		snprintf(note, note_size, "state-directory %s: path too long", dir);
		return boot_id;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(note, note_size,
			 "state-directory %s: %s; the boot id is the wall clock alone", dir,
			 strerror(errno));
		return boot_id;
	}
	r = read_floor(path, &floor);
	if (r && r != -ENOENT)
		snprintf(note, note_size, "%s: %s; starting from the wall clock", path,
			 strerror(-r));
	if (!r && floor >= boot_id) {
		if (floor - boot_id < skew_ns / 2) {
			boot_id = floor + 1;
		} else {
			snprintf(note, note_size,
				 "%s: the last boot id is %llu s ahead of the wall clock; using "
				 "the wall clock (peers take this start as a restart once the "
				 "old one has been silent for a few seconds)",
				 path, (unsigned long long)((floor - boot_id) / 1000000000ull));
		}
	}
	r = write_floor(dir, path, boot_id);
	if (r && !note[0])
		snprintf(note, note_size, "%s: %s; the next start cannot build on this boot id",
			 path, strerror(-r));
	return boot_id;
}
