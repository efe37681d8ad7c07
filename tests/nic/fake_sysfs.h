/* SPDX-License-Identifier: MIT */
/*
 * The piece of sysfs the qp back end reads, in a temporary directory: a
 * GID table entry naming the netdev of a device's GID (class/infiniband/
 * DEV/ports/1/gid_attrs/ndevs/3), and the tree's removal. No system(): a
 * shell would start with the agent preloaded, which an ASan build cannot
 * load into a program without the ASan runtime.
 */
#ifndef TITA_TESTS_NIC_FAKE_SYSFS_H
#define TITA_TESTS_NIC_FAKE_SYSFS_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static inline bool fake_sysfs_mkdir_p(char *path)
{
	for (char *c = path + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return false;
		*c = '/';
	}
	return mkdir(path, 0755) == 0 || errno == EEXIST;
}

/* GID index 3 of port 1 of dev belongs to netdev. */
static inline bool fake_sysfs_gid(const char *root, const char *dev, const char *netdev)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/class/infiniband/%s/ports/1/gid_attrs/ndevs", root, dev);
	if (!fake_sysfs_mkdir_p(path))
		return false;
	strcat(path, "/3");
	f = fopen(path, "w");
	if (!f)
		return false;
	fprintf(f, "%s\n", netdev);
	return fclose(f) == 0;
}

static inline int fake_sysfs_rm_one(const char *path, const struct stat *st, int flag,
				    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline bool fake_sysfs_remove(const char *root)
{
	return nftw(root, fake_sysfs_rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0;
}

#endif /* TITA_TESTS_NIC_FAKE_SYSFS_H */
