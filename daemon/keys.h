/* SPDX-License-Identifier: MIT */
/*
 * The cluster key file ([peers] key-file): read, checked and turned into
 * the wire codec's key ring.
 *
 * The file holds one key per line as "ID KEY" (a key id, then 64 hex
 * digits), up to TITA_WIRE_KEYRING_MAX of them, '#' comments and blank
 * lines aside; or, as before key rotation existed, just the 64 hex digits
 * of one key, whose id is [peers] key-id. titad accepts datagrams made
 * with any key in the file and sends with key-id's: a rolling rotation
 * adds the new key everywhere, then moves key-id everywhere, then removes
 * the old key, with a reload at each step and every host paced
 * throughout (docs/hardening.md says how).
 */
#ifndef TITAD_KEYS_H
#define TITAD_KEYS_H

#include <stddef.h>

#include "config.h"
#include "wire.h"

/* The file's text: 0 and the ring, or -EINVAL with err naming path:line.
 * A bare key gets default_id. *ret_kr is untouched on failure. */
int titad_keys_parse(const char *path, const char *text, size_t len, uint32_t default_id,
		     struct tita_wire_keyring *ret_kr, char *err, size_t err_size);
/* Read cfg->key_file (root-owned, mode 600 or stricter) and parse it; the
 * ring must hold cfg->key_id. 0, or -errno with err. */
int titad_keys_load(const struct titad_config *cfg, struct tita_wire_keyring *ret_kr, char *err,
		    size_t err_size);

#endif /* TITAD_KEYS_H */
