// SPDX-License-Identifier: MIT
/*
 * The cluster key file (see keys.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

/* Two keys at most during a rotation; the ring has room for a few more. */
#define KEY_FILE_MAX_BYTES 4096

static int hex_value(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' :
	       ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
	       ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 :
					-1;
}

/* Append the hex digits of tok to key (nhex digits so far); false when tok
 * is not hex or there would be too many. */
static bool add_hex(const char *tok, size_t len, uint8_t *key, size_t *nhex)
{
	for (size_t i = 0; i < len; i++) {
		int v = hex_value(tok[i]);

		if (v < 0 || *nhex >= 2 * TITA_WIRE_KEY_BYTES)
			return false;
		if (*nhex % 2 == 0)
			key[*nhex / 2] = (uint8_t)(v << 4);
		else
			key[*nhex / 2] |= (uint8_t)v;
		(*nhex)++;
	}
	return true;
}

static bool parse_id(const char *tok, size_t len, uint32_t *ret)
{
	uint64_t v = 0;

	if (!len || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(tok[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

#define FAIL(r, ...)                                  \
	do {                                          \
		snprintf(err, err_size, __VA_ARGS__); \
		sodium_memzero(key, sizeof(key));     \
		tita_wire_keyring_clear(&kr);         \
		return r;                             \
	} while (0)

int titad_keys_parse(const char *path, const char *text, size_t len, uint32_t default_id,
		     struct tita_wire_keyring *ret_kr, char *err, size_t err_size)
{
	struct tita_wire_keyring kr;
	uint8_t key[TITA_WIRE_KEY_BYTES];
	size_t legacy_hex = 0, off = 0;
	int line = 0, legacy_line = 0, keyed_line = 0;

	tita_wire_keyring_init(&kr);
	while (off < len) {
		const char *tok[8];
		size_t tlen[8], n_tok = 0, end = off;

		line++;
		while (end < len && text[end] != '\n')
			end++;
		/* Tokens up to a '#' comment. */
		for (size_t i = off; i < end && text[i] != '#';) {
			size_t j = i;

			if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r') {
				i++;
				continue;
			}
			while (j < end && text[j] != ' ' && text[j] != '\t' && text[j] != '\r' &&
			       text[j] != '#')
				j++;
			if (n_tok == 8)
				FAIL(-EINVAL,
				     "key file %s:%d: expected 'ID KEY' (a key id and 64 hex "
				     "digits) or hex digits alone",
				     path, line);
			tok[n_tok] = text + i;
			tlen[n_tok++] = j - i;
			i = j;
		}
		off = end + 1;
		if (!n_tok)
			continue;
		/* "ID KEY": a short decimal, then the key. A bare key split
		 * over lines has 64 digits in all, so never a short first
		 * token of decimal digits and a second of hex. */
		if (n_tok == 2 && tlen[0] <= 10 && strspn(tok[0], "0123456789") >= tlen[0]) {
			size_t nhex = 0;
			uint32_t id;
			int r;

			keyed_line = line;
			if (!parse_id(tok[0], tlen[0], &id))
				FAIL(-EINVAL,
				     "key file %s:%d: '%.*s' is not a key id (0..4294967295)", path,
				     line, (int)tlen[0], tok[0]);
			if (!add_hex(tok[1], tlen[1], key, &nhex) ||
			    nhex != 2 * TITA_WIRE_KEY_BYTES)
				FAIL(-EINVAL, "key file %s:%d: key %u: expected %d hex digits",
				     path, line, id, 2 * TITA_WIRE_KEY_BYTES);
			r = tita_wire_keyring_add(&kr, id, key);
			if (r == -EEXIST)
				FAIL(-EINVAL, "key file %s:%d: key id %u appears twice", path, line,
				     id);
			if (r)
				FAIL(-EINVAL, "key file %s:%d: more than %d keys", path, line,
				     TITA_WIRE_KEYRING_MAX);
			continue;
		}
		/* One file, one key: hex digits, possibly over several lines. */
		for (size_t k = 0; k < n_tok; k++)
			if (!add_hex(tok[k], tlen[k], key, &legacy_hex))
				FAIL(-EINVAL,
				     "key file %s:%d: expected %d hex digits, or 'ID KEY' lines",
				     path, line, 2 * TITA_WIRE_KEY_BYTES);
		if (!legacy_line)
			legacy_line = line;
	}
	if (legacy_line && keyed_line)
		FAIL(-EINVAL,
		     "key file %s:%d: a bare key and 'ID KEY' lines (line %d) in one file; give "
		     "every key its id",
		     path, legacy_line, keyed_line);
	if (legacy_line) {
		if (legacy_hex != 2 * TITA_WIRE_KEY_BYTES)
			FAIL(-EINVAL, "key file %s: expected %d hex digits, found %zu", path,
			     2 * TITA_WIRE_KEY_BYTES, legacy_hex);
		tita_wire_keyring_add(&kr, default_id, key);
	}
	if (!kr.n_keys)
		FAIL(-EINVAL, "key file %s: no key", path);
	sodium_memzero(key, sizeof(key));
	*ret_kr = kr;
	return 0;
}

/*
 * Refused unless it is a regular file owned by root that neither group nor
 * others may read or write: whoever reads it can forge every grant in the
 * cluster.
 */
int titad_keys_load(const struct titad_config *cfg, struct tita_wire_keyring *ret_kr, char *err,
		    size_t err_size)
{
	char text[KEY_FILE_MAX_BYTES + 1];
	struct tita_wire_keyring kr;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(cfg->key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		/* The usual first try: titad by hand as a user. */
		snprintf(err, err_size, "key file %s: %s%s", cfg->key_file, strerror(-r),
			 r == -EACCES && geteuid() != 0 ?
				 "; titad runs as root (it loads eBPF, attaches it to the NICs "
				 "and programs the pacer; the key is root's, mode 600): "
				 "systemctl start titad, or run it as root" :
				 "");
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
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0) {
		r = -errno;
		snprintf(err, err_size, "key file %s: %s", cfg->key_file, strerror(errno));
		return r;
	}
	if (n > KEY_FILE_MAX_BYTES) {
		sodium_memzero(text, sizeof(text));
		snprintf(err, err_size, "key file %s: larger than %d bytes", cfg->key_file,
			 KEY_FILE_MAX_BYTES);
		return -EFBIG;
	}
	r = titad_keys_parse(cfg->key_file, text, (size_t)n, cfg->key_id, &kr, err, err_size);
	sodium_memzero(text, sizeof(text));
	if (r)
		return r;
	if (!tita_wire_keyring_find(&kr, cfg->key_id)) {
		char ids[64] = "";
		size_t o = 0;

		for (uint32_t i = 0; i < kr.n_keys && o < sizeof(ids); i++)
			o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%u", i ? ", " : "",
					      kr.keys[i].id);
		tita_wire_keyring_clear(&kr);
		snprintf(err, err_size, "%s: key-id %u is not in key file %s (it holds %s)",
			 cfg->path, cfg->key_id, cfg->key_file, ids);
		return -ENOKEY;
	}
	*ret_kr = kr;
	return 0;
}
