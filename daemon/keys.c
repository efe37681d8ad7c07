// SPDX-License-Identifier: MIT
/*
 * The cluster key file (see keys.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

/*
 * The cluster key: 64 hex digits (32 bytes), whitespace and '#' comment
 * lines ignored. Refused unless it is a regular file owned by root that
 * neither group nor others may read or write: whoever reads it can forge
 * every grant in the cluster.
 */
int titad_keys_load(const struct titad_config *cfg, struct tita_wire_keyring *ret_kr, char *err,
		    size_t err_size)
{
	uint8_t key[TITA_WIRE_KEY_BYTES];
	char text[1024];
	struct stat st;
	size_t nhex = 0;
	ssize_t n;
	int fd, r;
	bool comment = false;

	fd = open(cfg->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_size, "key file %s: %s", cfg->key_file, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "key file %s: not a regular file", cfg->key_file);
		return -EINVAL;
	}
	if (st.st_uid != 0) {
		close(fd);
		snprintf(err, err_size, "key file %s: owned by uid %u, not root; chown root",
			 cfg->key_file, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 0077) {
		close(fd);
		snprintf(err, err_size,
			 "key file %s: mode %04o lets group or others at the cluster secret; "
			 "chmod 600",
			 cfg->key_file, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		r = -errno;
		snprintf(err, err_size, "key file %s: %s", cfg->key_file, strerror(errno));
		return r;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = text[i];
		int v;

		if (ch == '\n') {
			comment = false;
			continue;
		}
		if (comment || ch == ' ' || ch == '\t' || ch == '\r')
			continue;
		if (ch == '#') {
			comment = true;
			continue;
		}
		v = ch >= '0' && ch <= '9' ? ch - '0' :
		    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 :
					     -1;
		if (v < 0 || nhex >= 2 * TITA_WIRE_KEY_BYTES) {
			sodium_memzero(text, sizeof(text));
			sodium_memzero(key, sizeof(key));
			snprintf(err, err_size, "key file %s: expected %d hex digits",
				 cfg->key_file, 2 * TITA_WIRE_KEY_BYTES);
			return -EINVAL;
		}
		if (nhex % 2 == 0)
			key[nhex / 2] = (uint8_t)(v << 4);
		else
			key[nhex / 2] |= (uint8_t)v;
		nhex++;
	}
	sodium_memzero(text, sizeof(text));
	if (nhex != 2 * TITA_WIRE_KEY_BYTES) {
		sodium_memzero(key, sizeof(key));
		snprintf(err, err_size, "key file %s: expected %d hex digits, found %zu",
			 cfg->key_file, 2 * TITA_WIRE_KEY_BYTES, nhex);
		return -EINVAL;
	}
	tita_wire_keyring_init(ret_kr);
	tita_wire_keyring_add(ret_kr, cfg->key_id, key);
	sodium_memzero(key, sizeof(key));
	return 0;
}
